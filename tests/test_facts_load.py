"""`buyerguard facts load` against a live server, killed mid-load and run again."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.test_live_tour import ROOT, free_port

ORDERS = 300
LINES = [{"product_id": "P-cups", "quantity": 1}]


def start_server(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    server = subprocess.Popen(
        ["buyerguard", "serve", "--port", str(port), "--no-scheduler"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
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


def test_a_load_killed_midway_then_run_again_applies_every_fact_once(tmp_path: Path) -> None:
    db = tmp_path / "load.sqlite3"
    bin_dir = Path(sys.executable).parent
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "BUYERGUARD_DATABASE_URL": f"sqlite:///{db}",
        "BUYERGUARD_DEMO_TOKENS": str(tmp_path / "tokens.json"),
        "BUYERGUARD_DATA_DIR": str(tmp_path / "data"),
    }
    for command in (["db", "upgrade"], ["demo", "load"]):
        subprocess.run(["buyerguard", *command], env=env, cwd=ROOT, check=True, capture_output=True)
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
    server.send_signal(signal.SIGKILL)
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
        assert f"{3 * ORDERS} fact(s):" in again.stdout and "0 refused" in again.stdout
        bad = tmp_path / "bad.ndjson"
        bad.write_text(
            '{"kind": "payment", "order_id": "L0", "idempotency_key": "pay-L0", '
            '"body": {"amount": "36.00"}}\nnot json\n'
        )
        refused = subprocess.run(
            ["buyerguard", "facts", "load", str(bad), "--url", f"http://127.0.0.1:{port}"],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert refused.returncode == 2
        assert "line 2: line_malformed" in refused.stdout
        assert refused.stderr.strip().startswith("error: facts_refused")
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert count(db, "SELECT count(*) FROM orders WHERE state = 'shipped'") == ORDERS
    assert count(db, "SELECT count(*) FROM decisions WHERE kind = 'escrow_held'") == ORDERS
    assert count(db, "SELECT count(*) FROM ledger_transfers WHERE purpose = 'payment'") == ORDERS
    check = subprocess.run(
        ["buyerguard", "ledger", "check"], env=env, cwd=ROOT, capture_output=True
    )
    assert check.returncode == 0, check.stdout
