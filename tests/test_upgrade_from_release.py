"""A database filled by release fc058e6 upgrades with its money, holds, timers and feed intact.

The fixtures were written by that release's own code
(tests/fixtures/release_fc058e6/make_fixture.py). What was there BEFORE is read
with plain SQL on the old schema, which is frozen; what is there AFTER is read
through the current code and API. Money is compared by merchant (payable and
paid out) and by groups of accounts (rail clearing, escrow, fee revenue), never
account by account, so a reorganised chart of accounts still passes as long as
no money is lost, created, or moved from one merchant to another.

The money-out cut-over (migration 0010) books every merchant payable as paid
out (the marketplace paid it on the old feed) and every earlier refund as an
executed refund instruction, so the first payout run pays only what is released
after the upgrade.
"""

from __future__ import annotations

import fnmatch
import json
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine, select, text
from sqlalchemy.engine import make_url
from typer.testing import CliRunner, Result

from buyerguard.api.app import create_app
from buyerguard.bootstrap import Runtime
from buyerguard.cli import app as cli_app
from buyerguard.clock import SimulatedClock, parse_instant
from buyerguard.ledger.check import check_ledger
from buyerguard.money import format_fen, parse_yuan
from buyerguard.rulebook import rulebooks
from buyerguard.scheduler import Scheduler
from buyerguard.store.db import make_engine, read_transaction
from buyerguard.store.shipment_history import ShipmentHistory
from buyerguard.store.tables import ledger_accounts, ledger_transfers, metadata

FIXTURES = Path(__file__).parent / "fixtures" / "release_fc058e6"
DUMP = FIXTURES / "fc058e6.postgres.sql"
MANIFEST: dict[str, Any] = json.loads((FIXTURES / "fc058e6.json").read_text())
STORY_ENDED = parse_instant(MANIFEST["story_ends_at"])
OLD_HEAD = "0002"

# Which accounts hold which money, whatever the chart of accounts calls them now.
GROUPS: dict[str, tuple[str, ...]] = {
    "rail clearing": ("rail:clearing", "rail:clearing:*"),
    "escrow": ("platform:escrow", "merchant:*:escrow"),
    "fee revenue": ("platform:fee_revenue", "platform:fee_revenue:*"),
}
MERCHANTS = ("M-yiwu", "M-shenzhen", "M-guangzhou")


@dataclass(frozen=True)
class Net:
    """An account's credit balance, posted and pending (credits minus debits)."""

    posted: int
    pending: int

    def __add__(self, other: Net) -> Net:
        return Net(self.posted + other.posted, self.pending + other.pending)


@dataclass(frozen=True)
class Books:
    """Balances by account, and every transfer: (kind, amount, the hold it settles)."""

    balances: dict[str, Net]
    transfers: dict[str, tuple[str, int, str | None]]

    def holds(self) -> dict[str, tuple[int, bool]]:
        """Every hold by transfer id: its amount, and whether it was posted or voided."""
        settled = {pending for _, _, pending in self.transfers.values() if pending}
        return {
            transfer_id: (amount, transfer_id in settled)
            for transfer_id, (kind, amount, _) in self.transfers.items()
            if kind == "pending"
        }

    def group(self, patterns: tuple[str, ...]) -> Net:
        total = Net(0, 0)
        for account_id, net in self.balances.items():
            if any(fnmatch.fnmatchcase(account_id, pattern) for pattern in patterns):
                total += net
        return total

    def groups(self) -> dict[str, Net]:
        return {name: self.group(patterns) for name, patterns in GROUPS.items()}

    def payable(self, merchant_id: str) -> Net:
        return self.balances.get(f"merchant:{merchant_id}:payable", Net(0, 0))

    def paid_out(self, party: str) -> Net:
        """What was paid to a party (`merchant:M`, `buyer:B`): its paid_out account."""
        return self.balances.get(f"{party}:paid_out", Net(0, 0))


@dataclass(frozen=True)
class Before:
    books: Books
    pending_timers: dict[str, tuple[str, datetime]]
    feed: list[tuple[str, str]]  # (cursor, decision id), in feed order


def utc(value: datetime | str) -> datetime:
    """An instant as either backend returns it from plain SQL (SQLite: naive UTC text)."""
    instant = datetime.fromisoformat(value) if isinstance(value, str) else value
    return instant.replace(tzinfo=UTC) if instant.tzinfo is None else instant.astimezone(UTC)


def read_old_release(connection: Connection) -> Before:
    """Everything to carry over, read with plain SQL on release fc058e6's schema."""
    balances = {
        row.id: Net(
            row.credits_posted_fen - row.debits_posted_fen,
            row.credits_pending_fen - row.debits_pending_fen,
        )
        for row in connection.execute(
            text(
                "SELECT id, debits_posted_fen, credits_posted_fen, debits_pending_fen, "
                "credits_pending_fen FROM ledger_accounts"
            )
        )
    }
    transfers = {
        row.id: (row.kind, int(row.amount_fen), row.pending_id)
        for row in connection.execute(
            text("SELECT id, kind, amount_fen, pending_id FROM ledger_transfers")
        )
    }
    timers = {
        row.id: (row.kind, utc(row.due_at))
        for row in connection.execute(
            text("SELECT id, kind, due_at FROM timers WHERE status = 'pending'")
        )
    }
    feed = [
        (str(row.seq), row.id)
        for row in connection.execute(text("SELECT seq, id FROM decisions ORDER BY seq"))
    ]
    return Before(Books(balances, transfers), timers, feed)


def read_books(engine: Engine) -> Books:
    """The books through the current code's tables, whatever the accounts are called."""
    with read_transaction(engine) as connection:
        balances = {
            row.id: Net(
                row.credits_posted_fen - row.debits_posted_fen,
                row.credits_pending_fen - row.debits_pending_fen,
            )
            for row in connection.execute(select(ledger_accounts))
        }
        columns = ledger_transfers.c
        transfers = {
            row.id: (row.kind, int(row.amount_fen), row.pending_id)
            for row in connection.execute(
                select(columns.id, columns.kind, columns.amount_fen, columns.pending_id)
            )
        }
    return Books(balances, transfers)


def assert_ledger_checks(engine: Engine) -> None:
    with read_transaction(engine) as connection:
        report = check_ledger(connection)
    assert report.ok, "\n".join(report.breaches)
    assert report.transfers > 0


def restore(url: str) -> None:
    """The release's database, as an operator would restore it: a file, or psql on a dump."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        assert parsed.database is not None
        shutil.copy(FIXTURES / "fc058e6.sqlite3", parsed.database)
        return
    if shutil.which("psql") is None:
        pytest.fail("psql is needed to restore the PostgreSQL fixture")
    libpq = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
    subprocess.run(
        ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", libpq, "-f", str(DUMP)],
        check=True,
        capture_output=True,
    )


def cli(url: str, *args: str) -> Result:
    """The `buyerguard` command on the fixture database."""
    return CliRunner().invoke(cli_app, list(args), env={"BUYERGUARD_DATABASE_URL": url})


def migration_heads(engine: Engine) -> set[str]:
    with engine.connect() as connection:
        return {
            row[0] for row in connection.execute(text("SELECT version_num FROM alembic_version"))
        }


@pytest.fixture
def release_url(blank_database_url: str) -> str:
    """A fresh database on each backend holding exactly what release fc058e6 wrote."""
    restore(blank_database_url)
    return blank_database_url


@pytest.fixture
def release(release_url: str) -> Iterator[tuple[str, Engine]]:
    engine = make_engine(release_url)
    yield release_url, engine
    engine.dispose()


def backend(url: str) -> str:
    return "sqlite" if make_url(url).get_backend_name() == "sqlite" else "postgres"


class Caller:
    """The current API on the upgraded database, called with the tokens the old release issued."""

    def __init__(self, client: TestClient, tokens: dict[str, str]) -> None:
        self.client = client
        self.tokens = tokens

    def get(self, who: str, path: str, **params: str | int) -> Any:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"}
        response = self.client.get(path, params=params, headers=headers)
        assert response.status_code == 200, response.text
        return response.json()

    def post(
        self, who: str, path: str, body: object = None, key: str | None = None, status: int = 200
    ) -> Any:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"}
        if key is not None:
            headers["Idempotency-Key"] = key
        response = self.client.post(path, json=body, headers=headers)
        assert response.status_code == status, response.text
        return response.json()

    def feed_after(self, cursor: str | None) -> list[str]:
        """Decision ids after a cursor, to the end of the feed, page by page."""
        ids: list[str] = []
        while True:
            after = {} if cursor is None else {"after": cursor}
            page = self.get("marketplace", "/v1/events", limit=10, **after)
            if not page["items"]:
                return ids
            ids += [item["id"] for item in page["items"]]
            cursor = page["next_cursor"]

    def pending_timers(self) -> dict[str, tuple[str, datetime]]:
        timers: dict[str, tuple[str, datetime]] = {}
        after: dict[str, str] = {}
        while True:
            page = self.get("operator", "/v1/timers", state="pending", limit=5, **after)
            timers |= {t["id"]: (t["kind"], parse_instant(t["due_at"])) for t in page["items"]}
            if page["next_cursor"] is None:
                return timers
            after = {"after": page["next_cursor"]}


@contextmanager
def serving(url: str, engine: Engine, tmp_path: Path, clock: SimulatedClock) -> Iterator[Caller]:
    """The current app on the upgraded database."""
    rt = Runtime(engine, clock, rulebooks(), ShipmentHistory(tmp_path / "data"))
    with TestClient(create_app(rt)) as client:
        yield Caller(client, MANIFEST["tokens"][backend(url)])


def test_the_fixtures_hold_what_the_old_api_showed(release: tuple[str, Engine]) -> None:
    """Guards the fixtures: plain SQL on them gives the feed the old API served, in order."""
    _, engine = release
    assert migration_heads(engine) == {OLD_HEAD}
    with engine.connect() as connection:
        before = read_old_release(connection)
    assert [list(item) for item in before.feed] == MANIFEST["feed"]
    assert {kind for kind, _ in before.pending_timers.values()} == {
        "order.auto_confirm",
        "order.complete",
        "arrival.badge_daily",
        "arrival.promises_rebuild",
    }
    held = {merchant for merchant in MERCHANTS if before.books.payable(merchant).pending > 0}
    assert held == set(MERCHANTS)
    assert {state for state in MANIFEST["order_states"].values()} == {
        "placed",
        "paid",
        "shipped",
        "signed",
        "confirmed",
        "completed",
        "refunded",
        "cancelled",
    }


def test_db_upgrade_carries_everything_over_and_the_engine_carries_on(
    release: tuple[str, Engine], tmp_path: Path
) -> None:
    """Issue 11: every balance, hold, pending timer and feed position survives `db upgrade`,
    the books check before and after, and orders paid under the old release settle on."""
    url, engine = release
    assert_ledger_checks(engine)
    with engine.connect() as connection:
        before = read_old_release(connection)
    holds_before = before.books.holds()
    open_before = {hold: amount for hold, (amount, done) in holds_before.items() if not done}
    assert len(open_before) >= 10

    upgraded = cli(url, "db", "upgrade")
    assert upgraded.exit_code == 0, upgraded.output
    assert migration_heads(engine) != {OLD_HEAD}

    assert_ledger_checks(engine)
    after = read_books(engine)
    cut_over = {}
    for merchant in MERCHANTS:
        # The money-out cut-over: what was payable is booked as paid out (the marketplace
        # paid it on the old feed); what escrow still holds for the merchant stays held.
        old = before.books.payable(merchant)
        assert after.payable(merchant) == Net(0, old.pending), merchant
        assert after.paid_out(f"merchant:{merchant}") == Net(old.posted, 0), merchant
        if old.posted:
            cut_over[f"cutover-payout:{merchant}"] = ("posted", old.posted, None)
    assert cut_over  # two of the three merchants had money payable
    assert after.groups() == before.books.groups()
    for transfer_id, (kind, amount, _) in before.books.transfers.items():
        assert after.transfers.get(transfer_id, ("missing", 0, None))[:2] == (kind, amount)
    # Besides the released sub-orders' refundable memo balances (migration 0005), the upgrade
    # moves money only by the cut-over transfers.
    new_transfers = set(after.transfers) - set(before.books.transfers)
    made = {
        transfer_id: after.transfers[transfer_id]
        for transfer_id in new_transfers
        if not transfer_id.startswith("refundable:")
    }
    assert made == cut_over
    holds_after = after.holds()
    for hold, (amount, done) in holds_before.items():
        assert holds_after.get(hold) == (amount, done), hold

    an_hour_later = SimulatedClock(STORY_ENDED + timedelta(hours=1))
    with serving(url, engine, tmp_path, an_hour_later) as api:
        # The feed: the same decisions in the same order, and every old cursor resumes exactly.
        old_ids = [decision_id for _, decision_id in before.feed]
        assert api.feed_after(None) == old_ids
        for index, (cursor, _) in enumerate(before.feed):
            assert api.feed_after(cursor) == old_ids[index + 1 :], cursor
        for cursor in MANIFEST["page_cursors"][1:]:
            assert api.feed_after(cursor) == old_ids[int(cursor) :]
        # Every pending timer still pending, due at the same instant.
        timers_after = api.pending_timers()
        for timer_id, (kind, due_at) in before.pending_timers.items():
            assert timers_after.get(timer_id) == (kind, due_at), timer_id

        # A payment the old release took, retried with its Idempotency-Key, replays its answer.
        retried = api.client.post(
            "/v1/orders/R1-paid-sz/payment",
            json={"amount": "1518.00"},
            headers={
                "Authorization": f"Bearer {api.tokens['marketplace']}",
                "Idempotency-Key": "pay-R1-paid-sz",
            },
        )
        assert retried.status_code == 200, retried.text
        assert retried.headers.get("Idempotent-Replayed") == "true"

        # The engine carries on: the buyer confirms a signed order paid under the old release.
        confirmed = api.post("buyer", "/v1/orders/R1-signed-yiwu/confirmation")
        assert confirmed["state"] == "confirmed"
        decisions = api.get("merchant", "/v1/orders/R1-signed-yiwu/decisions")["items"]
        fees = {d["subject_id"]: d["amount"] for d in decisions if d["kind"] == "fee_charged"}
        assert fees == {"R1-signed-yiwu-1": "4.32", "R1-signed-yiwu-2": "18.00"}
        # ...and the marketplace refunds a paid order before shipment: paid by instruction.
        refunded = api.post("marketplace", "/v1/orders/R1-paid-yiwu/refund-before-shipment")
        assert refunded["state"] == "refunded"
        instructed = api.get("marketplace", "/v1/instructions", kind="refund", state="instructed")
        assert [
            (item["order_id"], item["party"], item["amount"], item["cut_over"])
            for item in instructed["items"]
        ] == [("R1-paid-yiwu", "buyer:B-shop", "5118.00", False)]
        assert "order.auto_confirm:R1-signed-yiwu" not in api.pending_timers()
        new_ids = api.feed_after(before.feed[-1][0])
        assert new_ids and not set(new_ids) & set(old_ids)
        assert api.feed_after(None) == old_ids + new_ids

    assert_ledger_checks(engine)
    books = read_books(engine)
    confirmed_holds = {
        "hold:R1-signed-yiwu-1": 72000,
        "hold:R1-signed-yiwu-2": 500000,
        "hold-shipping:R1-signed-yiwu": 3000,
    }
    refunded_holds = {
        "hold:R1-paid-yiwu-1": 10800,
        "hold:R1-paid-yiwu-2": 500000,
        "hold-shipping:R1-paid-yiwu": 1000,
    }
    settled_by = {pending: kind for kind, _, pending in books.transfers.values() if pending}
    for holds, kind in ((confirmed_holds, "post_pending"), (refunded_holds, "void_pending")):
        for hold, amount in holds.items():
            assert open_before[hold] == amount
            assert books.holds()[hold] == (amount, True)
            assert settled_by[hold] == kind
    released, fee, refund = sum(confirmed_holds.values()), 432 + 1800, sum(refunded_holds.values())
    assert books.payable("M-yiwu") == after.payable("M-yiwu") + Net(
        released - fee, -released - refund
    )
    assert books.paid_out("merchant:M-yiwu") == after.paid_out("merchant:M-yiwu")
    groups, old_groups = books.groups(), before.books.groups()
    assert groups["escrow"] == old_groups["escrow"] + Net(-released - refund, released + refund)
    assert groups["fee revenue"] == old_groups["fee revenue"] + Net(fee, 0)
    # The refund no longer goes straight to the rails: it is owed to the buyer and instructed.
    assert groups["rail clearing"] == old_groups["rail clearing"]
    assert books.balances["buyer:B-shop:payable"] == Net(refund, -refund)
    assert books.paid_out("buyer:B-shop") == Net(0, refund)
    for merchant in ("M-shenzhen", "M-guangzhou"):
        assert books.payable(merchant) == after.payable(merchant)
        assert books.paid_out(f"merchant:{merchant}") == after.paid_out(f"merchant:{merchant}")


def test_every_timer_the_old_release_left_pending_fires_after_the_upgrade(
    release: tuple[str, Engine], tmp_path: Path
) -> None:
    """Timers are carried over to be run: the current scheduler fires each exactly once."""
    url, engine = release
    with engine.connect() as connection:
        before = read_old_release(connection)
    assert cli(url, "db", "upgrade").exit_code == 0
    clock = SimulatedClock(parse_instant("2024-10-30T10:00:00+08:00"))  # all of them due
    scheduler = Scheduler(
        engine, clock, rulebooks(), name="after-upgrade", history=ShipmentHistory(tmp_path)
    )
    fired = scheduler.tick()
    assert not [item for item in fired if item.failed]
    outcomes = {item.timer_id: item.outcome for item in fired}
    assert len(outcomes) == len(fired)
    assert set(before.pending_timers) <= set(outcomes)
    signed = ("R1-signed-yiwu", "R1-signed-sz", "R1-signed-gz")
    assert {outcomes[f"order.auto_confirm:{order_id}"] for order_id in signed} == {"confirmed"}
    assert_ledger_checks(engine)

    settled_by = {pending: kind for kind, _, pending in read_books(engine).transfers.values()}
    released = [
        hold
        for hold in before.books.holds()
        if hold.removeprefix("hold:").removeprefix("hold-shipping:").startswith(signed)
    ]
    assert len(released) == 7  # yiwu's two sub-orders and shipping; one and shipping each other
    assert {settled_by.get(hold) for hold in released} == {"post_pending"}
    with serving(url, engine, tmp_path, clock) as api:
        for order_id in (*signed, "R1-confirmed", "R1-confirmed-sz"):
            assert api.get("operator", f"/v1/orders/{order_id}")["state"] == "completed"
        new_ids = api.feed_after(before.feed[-1][0])
        # The fee of the Anxingou merchant's order is the rulebook's business, not the upgrade's.
        fees = {
            d["subject_id"]: d["amount"]
            for d in api.get("marketplace", "/v1/events", limit=500)["items"]
            if d["kind"] == "fee_charged" and d["id"] in new_ids
        }
    assert {f"receipt_auto_confirmed:{order_id}" for order_id in signed} <= set(new_ids)
    assert fees["R1-signed-yiwu-1"] == "4.32" and fees["R1-signed-sz-1"] == "13.50"


# Orders of release fc058e6 released after the upgrade, each fact with the caller that sends it.
# M-shenzhen is left with nothing released after the cut-over, though it had money payable
# before it; M-guangzhou had nothing payable before it.
SHIP = {"carrier": "SF", "tracking_number": "SF-after-upgrade"}
RELEASED_AFTER_UPGRADE: dict[str, tuple[str, list[tuple[str, str, object]]]] = {
    "R1-signed-yiwu": ("M-yiwu", [("buyer", "confirmation", None)]),
    "R1-shipped": (
        "M-yiwu",
        [("marketplace", "signing", None), ("buyer_chain", "confirmation", None)],
    ),
    "R1-partial": (  # refunded in part before shipment under the old release
        "M-yiwu",
        [
            ("merchant", "shipment", SHIP),
            ("marketplace", "signing", None),
            ("buyer_chain", "confirmation", None),
        ],
    ),
    "R1-paid-yiwu": (
        "M-yiwu",
        [
            ("merchant", "shipment", SHIP),
            ("marketplace", "signing", None),
            ("buyer", "confirmation", None),
        ],
    ),
    "R1-signed-gz": ("M-guangzhou", [("marketplace", "confirmation", None)]),
}


def old_refunds(connection: Connection) -> dict[str, tuple[int, str, str]]:
    """Every refund release fc058e6 sent to the rails: (amount, order, buyer) by transfer id."""
    return {
        row.id: (int(row.amount_fen), row.order_id, row.buyer_id)
        for row in connection.execute(
            text(
                "SELECT t.id, t.amount_fen, t.order_id, o.buyer_id FROM ledger_transfers t "
                "JOIN orders o ON o.id = t.order_id WHERE t.purpose = 'refund'"
            )
        )
    }


def test_the_first_payout_run_after_the_upgrade_pays_only_releases_made_after_it(
    release: tuple[str, Engine], tmp_path: Path
) -> None:
    """Issue 13 acceptance: upgrading a database filled by the code at fc058e6, the first
    payout run instructs only releases made after the cut-over. What was payable before is
    booked as paid out by an executed cut-over payout; every earlier refund reads as an
    executed cut-over refund instruction; each merchant's first payout is exactly its
    releases since the upgrade less their fees, and a merchant with none is paid nothing."""
    url, engine = release
    with engine.connect() as connection:
        before = read_old_release(connection)
        refunds_before = old_refunds(connection)
    assert len(refunds_before) == 3  # a whole refund with its shipping, and one in part
    owed_before = {merchant: before.books.payable(merchant).posted for merchant in MERCHANTS}
    assert owed_before["M-yiwu"] > 0 and owed_before["M-shenzhen"] > 0
    assert owed_before["M-guangzhou"] == 0
    assert cli(url, "db", "upgrade").exit_code == 0

    an_hour_later = SimulatedClock(STORY_ENDED + timedelta(hours=1))
    with serving(url, engine, tmp_path, an_hour_later) as api:
        cut_over_payouts = api.get("marketplace", "/v1/payouts")["items"]
        assert {
            (p["id"], p["party"], p["amount"], p["state"], p["cut_over"], p["run_id"])
            for p in cut_over_payouts
        } == {
            (f"po-cutover-{m}", f"merchant:{m}", format_fen(owed), "executed", True, None)
            for m, owed in owed_before.items()
            if owed > 0
        }
        refunds = api.get("marketplace", "/v1/instructions", kind="refund")["items"]
        assert sorted(
            (r["details"]["transfer"], r["amount"], r["order_id"], r["party"]) for r in refunds
        ) == sorted(
            (transfer_id, format_fen(amount), order_id, f"buyer:{buyer}")
            for transfer_id, (amount, order_id, buyer) in refunds_before.items()
        )
        assert {(r["state"], r["cut_over"]) for r in refunds} == {("executed", True)}
        assert api.get("marketplace", "/v1/instructions", state="overdue")["items"] == []
        for merchant, owed in owed_before.items():
            balance = api.get("marketplace", f"/v1/merchants/{merchant}/balance")
            assert (balance["payable"], balance["in_flight"], balance["debt"]) == (
                "0.00",
                "0.00",
                "0.00",
            ), merchant
            assert balance["paid_out"] == format_fen(owed), merchant

        released = dict.fromkeys(MERCHANTS, 0)
        for order_id, (merchant, facts) in RELEASED_AFTER_UPGRADE.items():
            for who, fact, body in facts:
                api.post(who, f"/v1/orders/{order_id}/{fact}", body)
            decisions = api.get("marketplace", f"/v1/orders/{order_id}/decisions")["items"]
            for decision in decisions:
                sign = {"escrow_released": 1, "shipping_released": 1, "fee_charged": -1}
                released[merchant] += sign.get(decision["kind"], 0) * parse_yuan(decision["amount"])
        assert released["M-yiwu"] > 0 and released["M-guangzhou"] > 0
        assert released["M-shenzhen"] == 0

        run = api.post("operator", "/v1/payouts/runs", status=201)
        paid = {r["merchant_id"]: r["amount"] for r in run["results"] if r["payout_id"]}
        assert paid == {m: format_fen(amount) for m, amount in released.items() if amount}
        assert run["total"] == format_fen(sum(released.values()))
        instructed = api.get("marketplace", "/v1/payouts", state="instructed")["items"]
        assert {(p["party"], p["amount"], p["cut_over"], p["run_id"]) for p in instructed} == {
            (f"merchant:{m}", format_fen(amount), False, run["id"])
            for m, amount in released.items()
            if amount
        }
        for merchant, owed in owed_before.items():
            balance = api.get("marketplace", f"/v1/merchants/{merchant}/balance")
            assert balance["in_flight"] == format_fen(released[merchant]), merchant
            assert balance["paid_out"] == format_fen(owed), merchant
            assert balance["payable"] == "0.00", merchant
        # The feed tells the marketplace to pay exactly these; nothing of the cut-over.
        new_ids = api.feed_after(before.feed[-1][0])
        instructed_ids = {i for i in new_ids if i.split(":", 1)[0].endswith("_instructed")}
        assert instructed_ids == {f"payout_instructed:{p['id']}" for p in instructed}
    assert_ledger_checks(engine)


def table_contents(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in a stable order."""
    with engine.connect() as connection:
        contents = {
            table.name: sorted(
                (tuple(map(repr, row)) for row in connection.execute(select(table))),
            )
            for table in metadata.sorted_tables
        }
        contents["alembic_version"] = sorted(
            tuple(row) for row in connection.execute(text("SELECT * FROM alembic_version"))
        )
    return contents


def test_db_upgrade_twice_changes_nothing_the_second_time(release: tuple[str, Engine]) -> None:
    """Operators rerun upgrades (deploy scripts do): the second run must not touch a row."""
    url, engine = release
    assert cli(url, "db", "upgrade").exit_code == 0
    once = table_contents(engine)
    again = cli(url, "db", "upgrade")
    assert again.exit_code == 0, again.output
    assert table_contents(engine) == once
    assert_ledger_checks(engine)


@pytest.mark.parametrize("args", [["serve", "--port", "1"], ["ledger", "check"]])
def test_the_cli_refuses_the_release_database_until_upgraded(
    release: tuple[str, Engine], args: list[str]
) -> None:
    """A forgotten upgrade stops the server at start, in one line, before it writes anything."""
    url, engine = release
    refused = cli(url, *args)
    assert refused.exit_code == 2, refused.output
    lines = refused.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: database_not_at_head"), refused.stderr
    assert migration_heads(engine) == {OLD_HEAD}
