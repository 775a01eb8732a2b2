"""`buyerguard facts load` against a live server, killed mid-load and run again."""

from __future__ import annotations

import http.client
import json
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from buyerguard.facts_load import count_lines, read_facts
from tests.live_server import ROOT, descendants, free_port

ORDERS = 300
LINES = [{"product_id": "P-cups", "quantity": 1}]


def start_server(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    server = subprocess.Popen(
        ["buyerguard", "serve", "--port", str(port), "--no-scheduler", "--workers", "2"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group, so a crash can take every worker
    )
    for _ in range(200):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                return server
        except OSError:
            time.sleep(0.05)
    server.kill()
    pytest.fail("server did not come up")


def write_facts(path: Path) -> None:
    with path.open("w") as out:
        for n in range(ORDERS):
            order_id = f"L{n}"
            facts = [
                {
                    "kind": "order",
                    "idempotency_key": f"place-{order_id}",
                    "body": {"id": order_id, "buyer_id": "B-shop", "lines": LINES},
                },
                {
                    "kind": "payment",
                    "order_id": order_id,
                    "idempotency_key": f"pay-{order_id}",
                    "body": {"amount": "36.00"},
                },
                {
                    "kind": "shipment",
                    "order_id": order_id,
                    "idempotency_key": f"ship-{order_id}",
                    "body": {"carrier": "SF", "tracking_number": f"T{n}"},
                },
            ]
            for fact in facts:
                out.write(json.dumps(fact) + "\n")


def count(db: Path, sql: str) -> int:
    with sqlite3.connect(db) as connection:
        return int(connection.execute(sql).fetchone()[0])


def migrated_env(tmp_path: Path, db: Path) -> dict[str, str]:
    """The environment of a `buyerguard` process on a migrated SQLite file of its own."""
    bin_dir = Path(sys.executable).parent
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "BUYERGUARD_DATABASE_URL": f"sqlite:///{db}",
        "BUYERGUARD_DEMO_TOKENS": str(tmp_path / "tokens.json"),
        "BUYERGUARD_DATA_DIR": str(tmp_path / "data"),
    }
    subprocess.run(
        ["buyerguard", "db", "upgrade"], env=env, cwd=ROOT, check=True, capture_output=True
    )
    return env


def test_a_load_killed_midway_then_run_again_applies_every_fact_once(tmp_path: Path) -> None:
    db = tmp_path / "load.sqlite3"
    env = migrated_env(tmp_path, db)
    subprocess.run(
        ["buyerguard", "demo", "load"], env=env, cwd=ROOT, check=True, capture_output=True
    )
    env["BUYERGUARD_TOKEN"] = json.loads((tmp_path / "tokens.json").read_text())["marketplace"]
    facts = tmp_path / "facts.ndjson"
    write_facts(facts)
    port = free_port()
    load = [
        "buyerguard",
        "facts",
        "load",
        str(facts),
        "--url",
        f"http://127.0.0.1:{port}",
        "--batch-size",
        "25",
    ]

    server = start_server(env, port)
    loader = subprocess.Popen(
        load, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 60
    while count(db, "SELECT count(*) FROM orders") < ORDERS // 4 and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(server.pid, signal.SIGKILL)  # the machine dies: supervisor and workers at once
    server.wait(timeout=10)
    _, stderr = loader.communicate(timeout=60)
    assert loader.returncode == 2, stderr
    assert b"server_unreachable" in stderr
    cut_short = count(db, "SELECT count(*) FROM orders")
    assert ORDERS // 4 <= cut_short < ORDERS

    server = start_server(env, port)
    try:
        again = subprocess.run(load, env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
        assert again.returncode == 0, again.stdout + again.stderr
        assert f"{3 * ORDERS:,} fact(s):" in again.stdout and "0 refused" in again.stdout
        bad = tmp_path / "bad.ndjson"
        bad_place = {
            "kind": "order",
            "idempotency_key": "place-N1",
            "body": {"id": "N1", "buyer_id": "B-nobody", "lines": LINES},
        }
        good_place = {
            "kind": "order",
            "idempotency_key": "place-N1-again",
            "body": {"id": "N1", "buyer_id": "B-shop", "lines": LINES},
        }
        bad.write_text(
            '{"kind": "payment", "order_id": "L0", "idempotency_key": "pay-L0", '
            '"body": {"amount": "36.00"}}\nnot json\n'
            + json.dumps(bad_place)
            + "\n"
            + json.dumps(good_place)
            + "\n"
        )
        refused = subprocess.run(
            [
                "buyerguard",
                "facts",
                "load",
                str(bad),
                "--url",
                f"http://127.0.0.1:{port}",
                "--batch-size",
                "1",
            ],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert refused.returncode == 2
        assert "line 2: line_malformed" in refused.stdout
        assert "line 3: buyer_not_found" in refused.stdout
        # N1's next fact is in a later batch: skipped all the same, never sent
        assert "line 4: skipped_after_refusal" in refused.stdout
        assert refused.stderr.strip().startswith("error: facts_refused")
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert count(db, "SELECT count(*) FROM orders WHERE state = 'shipped'") == ORDERS
    assert count(db, "SELECT count(*) FROM orders WHERE id = 'N1'") == 0
    assert count(db, "SELECT count(*) FROM decisions WHERE kind = 'escrow_held'") == ORDERS
    assert count(db, "SELECT count(*) FROM ledger_transfers WHERE purpose = 'payment'") == ORDERS
    check = subprocess.run(
        ["buyerguard", "ledger", "check"], env=env, cwd=ROOT, capture_output=True
    )
    assert check.returncode == 0, check.stdout


def test_serve_runs_workers_and_one_scheduler_and_stops_both_on_sigterm(tmp_path: Path) -> None:
    env = migrated_env(tmp_path, tmp_path / "serve.sqlite3")
    port = free_port()
    server = subprocess.Popen(
        ["buyerguard", "serve", "--port", str(port), "--workers", "2"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        for _ in range(200):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                    break
            except OSError:
                time.sleep(0.05)
        children = descendants(server.pid)
        assert any("scheduler" in command for command in children.values()), children
        # The scheduler process keeps the recurring jobs scheduled.
        deadline = time.monotonic() + 20
        db = tmp_path / "serve.sqlite3"
        while count(db, "SELECT count(*) FROM timers") < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert count(db, "SELECT count(*) FROM timers WHERE status = 'pending'") >= 2
    finally:
        server.send_signal(signal.SIGTERM)
        output, _ = server.communicate(timeout=30)
    assert server.returncode == 0, output
    assert b"with 2 worker(s) and a scheduler process" in output
    deadline = time.monotonic() + 10
    while [
        pid for pid in children if Path(f"/proc/{pid}").exists()
    ] and time.monotonic() < deadline:
        time.sleep(0.1)
    left = {pid: command for pid, command in children.items() if Path(f"/proc/{pid}").exists()}
    assert not left, f"children outlived serve: {left}"


def test_keep_alive_requests_to_several_workers_do_not_stall(tmp_path: Path) -> None:
    """With more than one worker, uvicorn's supervisor binds the socket without naming
    TCP, so asyncio never set TCP_NODELAY and each keep-alive response waited ~40 ms for
    the client's delayed ACK (found by benchmarks/ingest_throughput.py: /healthz at 44 ms
    p50 under --workers 2, 0.4 ms under --workers 1)."""
    env = migrated_env(tmp_path, tmp_path / "keepalive.sqlite3")
    port = free_port()
    server = start_server(env, port)
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        durations_ms = []
        for _ in range(21):
            started = time.perf_counter()
            connection.request("GET", "/healthz")
            answer = connection.getresponse()
            answer.read()
            durations_ms.append((time.perf_counter() - started) * 1000)
            assert answer.status == 200
        connection.close()
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert statistics.median(durations_ms[1:]) < 20, durations_ms


def test_a_line_that_is_not_utf8_is_refused_on_its_own(tmp_path: Path) -> None:
    """A GBK line (an export from a Chinese Windows tool) once stopped the load with a
    traceback before anything was sent; it is refused like any malformed line now, and the
    lines around it, a UTF-8 byte-order mark on the first included, are read. The refused
    line still says what it is about (its order), so that the load can hold that back; a
    byte-order mark may begin any line (files that each had one, concatenated)."""
    fact = {"kind": "cancellation", "order_id": "O-1", "idempotency_key": "k-1"}
    good = json.dumps(fact, ensure_ascii=False)
    gbk = json.dumps({**fact, "reason": "买家取消"}, ensure_ascii=False).encode("gbk")
    path = tmp_path / "facts.ndjson"
    bom = b"\xef\xbb\xbf"
    path.write_bytes(bom + good.encode() + b"\n" + gbk + b"\n\n" + bom + good.encode() + b"\n")
    assert count_lines(path) == 3
    read = list(read_facts(path))
    assert [(number, problem == "") for number, _, problem in read] == [
        (1, True),
        (2, False),
        (4, True),
    ]
    assert read[0][1] == read[2][1] == fact
    assert read[1][1] is not None and read[1][1]["order_id"] == "O-1"
    assert read[1][2].startswith("not UTF-8 at byte ")


def test_a_line_nested_too_deeply_or_cut_short_is_refused_on_its_own(tmp_path: Path) -> None:
    """A line of arrays nested 100,000 deep stopped the load with a RecursionError traceback
    (found by a tester); it is refused like any malformed line. A line cut short (a file
    copied while it was written) says where its JSON stops."""
    fact = {"kind": "cancellation", "order_id": "O-1", "idempotency_key": "k-1"}
    good = json.dumps(fact)
    path = tmp_path / "facts.ndjson"
    path.write_text(good + "\n" + "[" * 100_000 + "\n" + good + "\n" + good[:30])
    read = list(read_facts(path))
    assert [(number, value) for number, value, _ in read] == [
        (1, fact),
        (2, None),
        (3, fact),
        (4, None),
    ]
    assert read[1][2] == "nested too deeply to read: a fact is a few levels deep"
    assert read[3][2] == "not JSON: Unterminated string starting at column 26"


def test_facts_load_of_a_directory_says_it_is_one(tmp_path: Path) -> None:
    """`facts load DIR` said `file_missing … no file DIR` of a directory that is there
    (found by a tester): it is refused as `shipments import DIR` is."""
    from typer.testing import CliRunner

    from buyerguard.cli import app

    folder = tmp_path / "facts.ndjson"  # a suffix does not make it a file
    folder.mkdir()
    load = ["facts", "load", str(folder), "--token", "bg_unused"]
    result = CliRunner().invoke(app, load)
    assert result.exit_code == 2
    assert result.stderr == (
        f"error: file_is_directory [file]: {folder} is a directory: name an NDJSON file in it\n"
    )
    result = CliRunner().invoke(
        app, ["facts", "load", str(tmp_path / "none.ndjson"), "--token", "t"]
    )
    assert result.exit_code == 2
    assert result.stderr == f"error: file_missing [file]: no file {tmp_path / 'none.ndjson'}\n"


def test_a_url_that_names_no_buyerguard_server_is_refused_in_one_line(tmp_path: Path) -> None:
    """`--url notaurl` (a host without its scheme) and an answer that is not a buyerguard
    server's (a web page with status 200, from whatever listens there) stopped the load
    with a ValueError or JSONDecodeError traceback (found by a tester); `file://` URLs were
    opened. Each is one line, exit 2."""
    import http.server
    import threading

    from typer.testing import CliRunner

    from buyerguard.cli import app

    facts = tmp_path / "facts.ndjson"
    facts.write_text('{"kind": "signing", "order_id": "O-1", "idempotency_key": "k"}\n')

    def load(url: str) -> str:
        result = CliRunner().invoke(
            app, ["facts", "load", str(facts), "--url", url, "--token", "t"]
        )
        assert result.exit_code == 2, result.output
        return str(result.stderr)

    for url in ("notaurl", "file:///etc/hostname", "http://", "http://127.0.0.1:99999"):
        assert load(url).startswith("error: url_invalid [--url]: --url is the server's http(s) URL")

    class Page(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(b"<html>hello</html>")

        def log_message(self, *args: object) -> None:
            pass

    page = http.server.HTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=page.handle_request, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{page.server_port}"
        assert load(url) == (
            f"error: answer_malformed [--url]: {url} answered what a buyerguard server does not: "
            "'<html>hello</html>'; is it the server?\n"
        )
    finally:
        page.server_close()


def test_a_token_that_cannot_be_sent_is_refused_in_one_line(tmp_path: Path) -> None:
    """A token with a character no header can carry (`键`, a line feed) stopped the load
    with a UnicodeEncodeError or ValueError traceback (found by a tester); a token read
    from a file with Windows line ends (`$(cat token.txt)` keeps the `\\r`) is taken
    without it."""
    from typer.testing import CliRunner

    from buyerguard.cli import app

    facts = tmp_path / "facts.ndjson"
    facts.write_text('{"kind": "signing", "order_id": "O-1", "idempotency_key": "k"}\n')
    for token, code in (
        ("键", "token_malformed"),
        ("a\nb", "token_malformed"),
        (" ", "token_missing"),
    ):
        result = CliRunner().invoke(app, ["facts", "load", str(facts), "--token", token])
        assert result.exit_code == 2 and result.stderr.startswith(f"error: {code} [--token]")
    # past the token: the next refusal is the URL's
    load = ["facts", "load", str(facts), "--token", "bg_x\r", "--url", "notaurl"]
    assert CliRunner().invoke(app, load).stderr.startswith("error: url_invalid [--url]")


def test_a_refusal_holds_back_the_later_lines_of_its_order_across_batches(
    live_server: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    """One fact a batch: the load itself holds back the later lines of a refused fact's
    order, a case action's order known from an opening earlier in the file or asked of the
    server (found by a tester: a refused case action let its order's confirmation through).
    A line the load refuses itself (an object with no idempotency_key, a key not in UTF-8)
    holds its order back too, as the server does in a batch: the payment after it was
    sent, and applied."""
    from buyerguard.facts_load import load_file
    from tests.live_server import post_json

    base, env = live_server
    token = json.loads(Path(env["BUYERGUARD_DEMO_TOKENS"]).read_text())["marketplace"]
    for order_id in ("Q-1", "Q-2"):
        body = {
            "id": order_id,
            "buyer_id": "B-shop",
            "lines": [{"product_id": "P-cups", "quantity": 10}],
        }
        assert post_json(base, "/v1/orders", token, body) == 201
        for step, fact_body in (
            ("payment", {"amount": "360.00"}),
            ("shipment", {"carrier": "SF", "tracking_number": f"T-{order_id}"}),
            ("signing", {}),
        ):
            assert post_json(base, f"/v1/orders/{order_id}/{step}", token, fact_body) == 200
    quality = {"type": "refund_only_quality", "reason": "torn", "amount": "90.00"}
    opened = {**quality, "sub_order_id": "Q-2-1", "id": "C-Q2"}
    assert post_json(base, "/v1/orders/Q-2/cases", token, opened) == 201
    lines = [
        {
            "kind": "case",
            "order_id": "Q-1",
            "idempotency_key": "q1-open",
            "body": {**quality, "sub_order_id": "Q-1-1", "id": "C-Q1"},
        },
        {
            "kind": "case-offer",
            "case_id": "C-Q1",
            "idempotency_key": "q1-offer",
            "body": {"amount": "500.00"},
        },
        {"kind": "case-accept", "case_id": "C-Q1", "idempotency_key": "q1-accept"},
        {"kind": "confirmation", "order_id": "Q-1", "idempotency_key": "q1-confirm"},
        {
            "kind": "case-offer",
            "case_id": "C-Q2",
            "idempotency_key": "q2-offer",
            "body": {"amount": "500.00"},
        },
        {"kind": "confirmation", "order_id": "Q-2", "idempotency_key": "q2-confirm"},
        {
            "kind": "order",
            "idempotency_key": "q3-place",
            "body": {"id": "Q-3", "buyer_id": "B-shop", "lines": LINES},
        },
        {"kind": "payment", "order_id": "Q-3", "body": {"amount": "36.00"}},  # no key
        {
            "kind": "payment",
            "order_id": "Q-3",
            "idempotency_key": "q3-pay",
            "body": {"amount": "36.00"},
        },
        {
            "kind": "order",
            "idempotency_key": "q4-place",
            "body": {"id": "Q-4", "buyer_id": "B-shop", "lines": LINES},
        },
        # a key in GBK, not UTF-8: refused, and its order's next line held back
        {"kind": "payment", "order_id": "Q-4", "idempotency_key": "付款-Q4", "body": {}},
        {
            "kind": "payment",
            "order_id": "Q-4",
            "idempotency_key": "q4-pay",
            "body": {"amount": "36.00"},
        },
    ]
    path = tmp_path / "facts.ndjson"
    path.write_bytes(
        b"".join(
            json.dumps(line, ensure_ascii=False).encode("gbk" if number == 10 else "utf-8") + b"\n"
            for number, line in enumerate(lines)
        )
    )
    summary = load_file(path, base, token, batch_size=1)
    assert summary.counts == {"applied": 3, "replayed": 0, "skipped": 5, "refused": 4}
    assert [(number, code) for number, code, _ in summary.refused] == [
        (2, "offer_out_of_range"),
        (3, "skipped_after_refusal"),
        (4, "skipped_after_refusal"),
        (5, "offer_out_of_range"),
        (6, "skipped_after_refusal"),
        (8, "line_malformed"),
        (9, "skipped_after_refusal"),
        (11, "line_malformed"),
        (12, "skipped_after_refusal"),
    ]
    assert summary.sent == 5  # the skipped and malformed lines never went to the server
