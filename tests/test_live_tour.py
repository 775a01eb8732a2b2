"""The README's curl tour, run verbatim against a live `buyerguard serve`."""

from __future__ import annotations

import json
import re
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def readme_tour() -> str:
    text = (ROOT / "README.md").read_text()
    match = re.search(r"<!-- tour:start -->\s*```sh\n(.*?)```\s*<!-- tour:end -->", text, re.S)
    assert match, "README.md lost its tour block"
    return match.group(1)


def test_readme_tour_against_live_server(live_server: tuple[str, dict[str, str]]) -> None:
    base, env = live_server
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", readme_tour()],
        env={**env, "BG": base},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert '"account_id":"merchant:M-yiwu:payable","balance":"5359.84"' in out
    assert '"account_id":"platform:fee_revenue","balance":"20.16"' in out
    assert '"state":"confirmed"' in out
    assert "ledger check passed" in out
    with urllib.request.urlopen(f"{base}/docs", timeout=5) as docs:
        assert b"/static/swagger/swagger-ui-bundle.js" in docs.read()


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as refused:
        return refused.code, refused.read()


def test_metrics_add_up_across_workers_and_logs_carry_request_ids(
    live_server: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    """Two API workers: a scrape of either counts the requests both answered; every
    line the server logged while answering a request names that request."""
    base, env = live_server
    for number in range(20):
        status, _ = _get(f"{base}/v1/orders/O-{number}", {"X-Request-Id": f"probe-{number}"})
        assert status == 401
    token = json.loads(Path(env["BUYERGUARD_DEMO_TOKENS"]).read_text())["marketplace"]
    order = {
        "id": "O-metrics",
        "buyer_id": "B-shop",
        "lines": [{"product_id": "P-cups", "quantity": 10}],
    }
    for path, body in (
        ("/v1/orders", order),
        ("/v1/orders/O-metrics/payment", {"amount": "360.00"}),
    ):
        request = urllib.request.Request(
            base + path,
            data=json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            assert response.status in (200, 201)
    status, text = _get(f"{base}/metrics")
    assert status == 200
    samples = {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in text.decode().splitlines()
        if line and not line.startswith("#")
    }
    probes = (
        'buyerguard_http_request_duration_seconds_count{method="GET",'
        'route="/v1/orders/{order_id}",status="401"}'
    )
    assert samples[probes] == 20, {k: v for k, v in samples.items() if "count" in k}
    assert samples['buyerguard_ledger_transfers_total{kind="posted"}'] >= 1
    assert samples['buyerguard_ledger_transfers_total{kind="pending"}'] >= 1
    assert {"buyerguard_timers_due", "buyerguard_timers_overdue"} <= set(samples)
    assert samples["buyerguard_timers_dead_lettered"] == 0

    lines = [
        json.loads(line)
        for line in (tmp_path / "server.log").read_text().splitlines()
        if line.startswith("{")
    ]
    access = [line for line in lines if line.get("event") == "request"]
    assert {f"probe-{number}" for number in range(20)} <= {line["request_id"] for line in access}
    assert all(line["request_id"] for line in access)
