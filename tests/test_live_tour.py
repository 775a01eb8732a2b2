"""The tour (`examples/tour.sh`) and the README's promise snippet, run as they are against a
live `buyerguard serve`; the tour stops at its first refused call and shows it."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from tests.live_server import free_port, post_json

ROOT = Path(__file__).resolve().parents[1]
TOUR = ROOT / "examples" / "tour.sh"
CALL = re.compile(r"^((?:GET|POST) /\S*)\n", re.M)


def readme_block(name: str) -> str:
    text = (ROOT / "README.md").read_text()
    match = re.search(rf"<!-- {name}:start -->\s*```sh\n(.*?)```\s*<!-- {name}:end -->", text, re.S)
    assert match, f"README.md lost its {name} block"
    return match.group(1)


def run_tour(base: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(TOUR)],
        env={**env, "BG": base},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )


def answers(transcript: str) -> dict[str, Any]:
    """Each call the tour printed ("POST /v1/orders") with its answer, parsed: every answer
    must be JSON (the last answer of a call printed twice wins; a refused call's answer is
    on stderr, so it has none here)."""
    parts = CALL.split(transcript)
    found: dict[str, Any] = {}
    for call, after in zip(parts[1::2], parts[2::2], strict=True):
        answer = after.split("\n\n")[0]  # indented JSON has no blank line
        if answer:
            found[call] = json.loads(answer)
    return found


def test_the_tour_against_a_live_server(live_server: tuple[str, dict[str, str]]) -> None:
    base, env = live_server
    result = run_tour(base, env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stderr == ""  # no bar, no warning: every word of the tour is on stdout
    out = result.stdout
    assert re.findall(r"^== (\d+)\. ", out, re.M) == [str(number) for number in range(1, 16)]
    assert out.endswith("tour done\n")
    said = answers(out)
    order = said["POST /v1/orders"]["id"].removesuffix("-back")
    assert said[f"POST /v1/orders/{order}/confirmation"]["state"] == "confirmed"
    fees = [
        item["amount"]
        for item in said[f"GET /v1/orders/{order}/decisions"]["items"]
        if item["kind"] == "fee_charged"
    ]
    assert fees == ["2.16", "18.00"]
    assert said["GET /v1/ledger/accounts/merchant:M-yiwu:payable"]["balance"] == "5359.84"
    assert said["GET /v1/ledger/accounts/platform:fee_revenue"]["balance"] == "20.16"
    payout = said["POST /v1/payouts/runs"]["results"][0]["payout_id"]
    assert said[f"POST /v1/payouts/{payout}/execution"]["state"] == "executed"
    balance = said["GET /v1/merchants/M-yiwu/balance"]
    assert (balance["paid_out"], balance["payable"]) == ("5359.84", "0.00")
    picked_up = said[f"POST /v1/cases/case-{order}-back/pickup"]
    assert (picked_up["goods"], picked_up["refunded"], picked_up["quick_refunded"]) == (
        "in_transit",
        "360.00",
        "360.00",
    )
    assert "; owed 385.00, paid 0.00 (its instructions, below)" in out
    assert "0 instruction(s) overdue" in out
    assert "posted debits 22,245.00 = credits 22,245.00" in out  # people's numbers: grouped
    assert "ledger check passed" in out
    with urllib.request.urlopen(f"{base}/docs", timeout=5) as docs:
        assert b"/static/swagger/swagger-ui-bundle.js" in docs.read()

    # The README's delivery promise, from examples/deliveries.csv, on the same server.
    snippet = readme_block("promises")
    shown = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", snippet],
        env={**env, "BG": base},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert shown.returncode == 0, shown.stdout + shown.stderr
    assert "imported examples/deliveries.csv: 125 new parcel(s), 0 updated, 0 unchanged" in (
        shown.stdout
    )
    promise, badge = json_documents(shown.stdout)
    assert (promise["promised_date"], promise["label"], promise["backoff_level"]) == (
        "2024-10-21",
        "tomorrow",
        1,
    )
    assert promise["probability"] >= 0.90 and promise["sample_size"] >= 20
    assert badge["badged"] is True
    compact = shown.stdout.replace(", ", ",")
    for pair in readme_pairs(snippet):  # the README's example answers are the server's
        assert pair in compact, pair


def json_documents(output: str) -> list[dict[str, Any]]:
    """The JSON objects curl printed (without a newline after them, as curl does)."""
    decoder = json.JSONDecoder()
    found = []
    for line in output.splitlines():
        if line.startswith("{"):
            document, _ = decoder.raw_decode(line)
            found.append(document)
    return found


def readme_pairs(snippet: str) -> list[str]:
    """Every `"key":value` with a whole scalar value in the snippet's `# {...}` example
    answers ("0.92..." is an abbreviation, not a value, and is skipped)."""
    scalar = r'"\w+":(?:"[^"]*"|-?\d+(?:\.\d+)?|true|false|null)(?=[,}\]])'
    examples = [line for line in snippet.splitlines() if line.startswith("# {")]
    assert examples, "the promise snippet lost its example answers"
    return [pair for line in examples for pair in re.findall(scalar, line)]


def test_the_tour_stops_at_the_first_refused_call_and_shows_its_error(
    live_server: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    """The merchant's token is the buyer's: the merchant's first call (the shipment) is
    refused 403, and nothing after it runs."""
    base, env = live_server
    tokens = json.loads(Path(env["BUYERGUARD_DEMO_TOKENS"]).read_text())
    swapped = tmp_path / "swapped-tokens.json"
    swapped.write_text(json.dumps({**tokens, "merchant": tokens["buyer"]}))
    result = run_tour(base, {**env, "BUYERGUARD_DEMO_TOKENS": str(swapped)})
    assert result.returncode == 1, result.stdout + result.stderr
    assert re.findall(r"^== (\d+)\. ", result.stdout, re.M) == ["1", "2", "3"]
    order = answers(result.stdout)["POST /v1/orders"]["id"]
    assert result.stdout.endswith(f"POST /v1/orders/{order}/shipment\n")  # its last call
    body, _, where = result.stderr.partition("tour stopped at step ")
    error = json.loads(body)
    assert (error["code"], error["field"]) == ("forbidden", "authorization")
    assert where.startswith("3. The merchant ships it")
    assert where.rstrip().endswith(
        f"POST /v1/orders/{order}/shipment answered HTTP 403 (its error body is above)"
    )
    request = urllib.request.Request(
        f"{base}/v1/orders/{order}", headers={"Authorization": f"Bearer {tokens['marketplace']}"}
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        assert json.loads(response.read())["state"] == "paid"  # never shipped nor signed


def test_the_tour_stops_at_once_when_no_server_answers(tmp_path: Path) -> None:
    tokens = tmp_path / "tokens.json"
    roles = ("marketplace", "merchant", "buyer", "operator")
    tokens.write_text(json.dumps({role: f"bg_{role}" for role in roles}))
    nobody = f"http://127.0.0.1:{free_port()}"
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "BUYERGUARD_DEMO_TOKENS": str(tokens),
    }
    result = run_tour(nobody, env)
    assert result.returncode == 1, result.stdout + result.stderr
    assert re.findall(r"^== (\d+)\. ", result.stdout, re.M) == ["1"]
    assert result.stderr.rstrip().endswith(
        f"POST /v1/orders: no answer from {nobody} (curl exit 7)"
    )


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
        assert post_json(base, path, token, body) in (200, 201)
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
    # One access line per request, ours: uvicorn's own was logged beside it (every request
    # twice) while `serve` said access_log=False.
    assert not [line for line in lines if line.get("logger") == "uvicorn.access"]
    probe_lines = [line for line in lines if line.get("request_id") == "probe-0"]
    assert [line["event"] for line in probe_lines] == ["refused", "request"], probe_lines
