"""Shipment import, the promise table behind GET /v1/promises, and the daily arrival badge."""

from __future__ import annotations

import csv
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from buyerguard.analytics.key_codes import DIMENSIONS, KEY_CODE_COLUMNS
from buyerguard.analytics.shipments import SHIPMENT_FACTS_SCHEMA
from buyerguard.analytics.sign_rate import SignRateParams
from buyerguard.bootstrap import Runtime
from buyerguard.cli import app
from buyerguard.clock import SimulatedClock, format_instant
from buyerguard.domain.parties import Merchant, MerchantTier
from buyerguard.errors import BuyerguardError
from buyerguard.scheduler import Scheduler
from buyerguard.services import badges, catalog, promises
from buyerguard.services.context import OPERATOR
from buyerguard.store.shipment_history import ShipmentHistory
from tests.conftest import Api, at

COLUMNS = [
    "order_id",
    "merchant_id",
    "product_id",
    "industry",
    "carrier",
    "official_logistics",
    "origin_region",
    "destination_region",
    "paid_at",
    "shipped_at",
    "signed_at",
]


def parcel(
    order_id: str,
    paid_at: datetime,
    signed_after: timedelta | None,
    *,
    merchant: str = "M-yiwu",
    product: str = "P-cups",
    industry: str = "daily_goods",
    origin: str = "330782",
    destination: str = "440305",
) -> dict[str, str]:
    return {
        "order_id": order_id,
        "merchant_id": merchant,
        "product_id": product,
        "industry": industry,
        "carrier": "SF",
        "official_logistics": "true",
        "origin_region": origin,
        "destination_region": destination,
        "paid_at": format_instant(paid_at),
        "shipped_at": format_instant(paid_at + timedelta(hours=2)),
        "signed_at": format_instant(paid_at + signed_after) if signed_after else "",
    }


def write_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return path


def next_day_history(
    start: str = "2024-10-08T10:00:00+08:00", count: int = 25
) -> list[dict[str, str]]:
    """`count` parcels on the P-cups route, one paid a day at 10:00, signed the next morning:
    12 normal days from the end of National Day to the usual as-of 2024-10-20 (the model
    learns on normal days only)."""
    first = at(start)
    return [
        parcel(f"H{i}", first + timedelta(days=i % 12), timedelta(hours=22)) for i in range(count)
    ]


def test_import_then_build_then_promise(api: Api, rt: Runtime, tmp_path: Path) -> None:
    rows = rt.history.import_file(
        write_csv(tmp_path / "h.csv", next_day_history()), now=rt.clock.now()
    )
    assert rows == 25
    with rt.reading(OPERATOR) as ctx:
        built = promises.build(ctx, at("2024-10-20T00:00:00+08:00"))
    assert built["routes"] > 0 and built["shipments"] == 25
    paid = "2024-10-20T09:00:00%2B08:00"
    answer = api.get("buyer", f"/v1/promises?product_id=P-cups&destination=440305&paid_at={paid}")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["promised_date"] == "2024-10-21"
    assert body["label"] == "tomorrow"
    assert body["running_late"] is None  # every parcel of the history signed the next day
    assert body["backoff_level"] == 1 and body["sample_size"] == 25
    assert body["probability"] == pytest.approx(1.0)
    # Paid one minute before Shanghai midnight: the same route promises the next local day.
    late = "2024-10-19T23:59:00%2B08:00"
    before_midnight = api.get(
        "buyer", f"/v1/promises?product_id=P-cups&destination=440305&paid_at={late}"
    )
    assert before_midnight.json()["promised_date"] == "2024-10-20"
    # A destination in another city of the same province backs off past level 1.
    other_city = api.get("buyer", "/v1/promises?product_id=P-cups&destination=440106").json()
    assert other_city["backoff_level"] == 2 and other_city["label"] == "tomorrow"


def test_promise_bad_input(api: Api, rt: Runtime, tmp_path: Path) -> None:
    url = "/v1/promises?product_id=P-cups&destination=440305"
    not_built = api.get("buyer", url)
    assert (not_built.status_code, not_built.json()["code"]) == (404, "promises_not_built")
    rt.history.import_file(write_csv(tmp_path / "h.csv", next_day_history()), now=rt.clock.now())
    with rt.reading(OPERATOR) as ctx:
        promises.build(ctx, rt.clock.now())
    cases = [
        ("/v1/promises?product_id=P-none&destination=440305", 404, "product_not_found"),
        ("/v1/promises?product_id=P-cups&destination=44030", 422, "region_malformed"),
        ("/v1/promises?product_id=P-cups&destination=990305", 422, "region_malformed"),
        ("/v1/promises?product_id=P-cups&destination=BR-SP", 422, "region_malformed"),
        ("/v1/promises?product_id=P-cups&destination=4403a5", 422, "region_malformed"),
        (url + "&paid_at=2030-01-01T00:00:00Z", 422, "paid_at_in_future"),
        (url + "&paid_at=yesterday", 422, "instant_malformed"),
        ("/v1/promises?destination=440305", 422, "field_missing"),
    ]
    for path, status, code in cases:
        response = api.get("buyer", path)
        assert (response.status_code, response.json()["code"]) == (status, code), path
    with pytest.raises(BuyerguardError) as future, rt.reading(OPERATOR) as ctx:
        promises.build(ctx, rt.clock.now() + timedelta(days=1))
    assert future.value.code == "as_of_in_future"
    # Before the baseline rulebook (1970) the refusal names the field sent, not "instant".
    for paid_at in ("1900-01-01T00:00:00Z", "1969-12-31T15:59:59Z"):
        early = api.get("buyer", f"{url}&paid_at={paid_at}")
        assert early.status_code == 422
        assert (early.json()["code"], early.json()["field"]) == ("no_rulebook_in_force", "paid_at")
    with pytest.raises(BuyerguardError) as before, rt.reading(OPERATOR) as ctx:
        promises.build(ctx, at("1969-01-01T00:00:00+08:00"))
    assert (before.value.code, before.value.field) == ("no_rulebook_in_force", "as_of")


def test_import_with_bad_rows_writes_nothing(rt: Runtime, tmp_path: Path) -> None:
    rows = next_day_history(count=5)
    rows[1]["destination_region"] = "44030X"
    rows[2]["paid_at"] = "2024-10-02T10:00:00"  # no offset
    rows[3]["signed_at"] = "2024-09-01T00:00:00Z"  # before payment
    rows[4]["order_id"] = rows[0]["order_id"]
    with pytest.raises(BuyerguardError) as refused:
        rt.history.import_file(write_csv(tmp_path / "bad.csv", rows), now=rt.clock.now())
    message = refused.value.message
    assert refused.value.code == "import_rows_invalid"
    assert "4 bad row(s)" in message
    for expected in (
        "row 2: destination_region",
        "row 3: paid_at missing, malformed or without UTC offset",
        "row 4: signed_at before paid_at",
        "order_id duplicated in the file",
    ):
        assert expected in message
    assert not list(rt.history.imported_dir.glob("*")) if rt.history.imported_dir.exists() else True
    assert not rt.history.keys_path.exists()
    future = next_day_history(count=1)
    future[0]["paid_at"] = "2030-01-01T00:00:00Z"
    with pytest.raises(BuyerguardError) as in_future:
        rt.history.import_file(write_csv(tmp_path / "future.csv", future), now=rt.clock.now())
    assert "paid_at in the future" in in_future.value.message


def test_cli_import_refuses_bad_file_with_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BUYERGUARD_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.sqlite3'}")
    monkeypatch.setenv("BUYERGUARD_DATA_DIR", str(tmp_path / "data"))
    runner = CliRunner()
    rows = next_day_history(count=3)
    rows[1]["origin_region"] = "nowhere"
    result = runner.invoke(app, ["shipments", "import", str(write_csv(tmp_path / "x.csv", rows))])
    assert result.exit_code == 2
    assert (
        result.stderr.startswith("error: import_rows_invalid")
        and "row 2: origin_region" in result.stderr
    )
    assert not (tmp_path / "data" / "shipments" / "imported").exists() or not list(
        (tmp_path / "data" / "shipments" / "imported").iterdir()
    )
    missing = runner.invoke(app, ["shipments", "import", str(tmp_path / "none.csv")])
    assert missing.exit_code == 2 and "file_not_found" in missing.stderr
    good = runner.invoke(
        app, ["shipments", "import", str(write_csv(tmp_path / "ok.csv", next_day_history(count=3)))]
    )
    assert good.exit_code == 0 and "3 new parcel(s), 0 updated, 0 unchanged" in good.output


def assert_files_decode(history: ShipmentHistory) -> None:
    """Every stored file's codes decode, through the one codebook, to its own strings."""
    book = history.codebook()  # from_table refuses a value with two codes
    for path in history.imported_dir.glob("*.parquet"):
        table = pq.read_table(path)
        for key, (code, dimension) in KEY_CODE_COLUMNS.items():
            decoded = book.dictionary(dimension).take(table.column(code))
            assert decoded.to_pylist() == table.column(key).to_pylist(), (path.name, key)


def test_imports_share_one_codebook_that_only_grows(rt: Runtime, tmp_path: Path) -> None:
    rt.history.import_file(
        write_csv(tmp_path / "a.csv", next_day_history(count=3)), now=rt.clock.now()
    )
    before = rt.history.codebook()
    later = [
        parcel("N1", at("2024-10-05T10:00:00+08:00"), timedelta(hours=20), merchant="M-new"),
        parcel("N2", at("2024-10-05T11:00:00+08:00"), None, destination="110105"),
    ]
    rt.history.import_file(write_csv(tmp_path / "b.csv", later), now=rt.clock.now())
    after = rt.history.codebook()
    for dimension in DIMENSIONS:
        known = before.dictionary(dimension)
        assert after.dictionary(dimension)[: len(known)].equals(known), dimension
    assert after.dictionary("merchant").to_pylist() == ["M-yiwu", "M-new"]
    assert after.size("region") == before.size("region") + 2  # 110105 and its province
    assert_files_decode(rt.history)


def test_concurrent_imports_never_give_one_code_to_two_values(rt: Runtime, tmp_path: Path) -> None:
    def import_many(worker: int) -> None:
        for n in range(6):
            rows = [
                parcel(
                    f"C{worker}-{n}",
                    at("2024-10-05T10:00:00+08:00"),
                    None,
                    merchant=f"M-{worker}-{n}",
                    product=f"P-{worker}-{n}",
                )
            ]
            path = write_csv(tmp_path / f"c{worker}-{n}.csv", rows)
            rt.history.import_file(path, now=rt.clock.now())

    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(import_many, range(2)))
    assert rt.history.codebook().size("merchant") == 12
    assert_files_decode(rt.history)


def test_a_build_reads_the_files_and_codes_of_the_moment_it_opened_the_history(
    rt: Runtime, tmp_path: Path
) -> None:
    rt.history.import_file(
        write_csv(tmp_path / "a.csv", next_day_history(count=3)), now=rt.clock.now()
    )
    facts = pa.Table.from_pylist(
        [
            {
                **row,
                "paid_at": at(row["paid_at"]),
                "shipped_at": None,
                "signed_at": None,
                "official_logistics": True,
                "origin_city": "330700",
                "origin_province": "330000",
                "destination_province": "440000",
                "refunded_before_shipment": False,
            }
            for row in [parcel("E1", at("2024-10-05T10:00:00+08:00"), None, merchant="M-engine")]
        ],
        schema=SHIPMENT_FACTS_SCHEMA,
    )
    with rt.history.analytics_session() as con:
        view, keys = rt.history.open_history(con, facts)
        # An import lands meanwhile. The engine's merchant kept its code in the codebook
        # (every build codes it alike), so the import's new merchant takes the next one; the
        # open view neither sees the import nor mixes the two up.
        later = [parcel("L1", at("2024-10-05T10:00:00+08:00"), None, merchant="M-later")]
        rt.history.import_file(write_csv(tmp_path / "b.csv", later), now=rt.clock.now())
        book = rt.history.codebook().dictionary("merchant").to_pylist()
        assert book == ["M-yiwu", "M-engine", "M-later"]
        merchants = con.sql(
            f"SELECT k.value, count(*) FROM {view} s JOIN {keys} k"
            " ON k.dimension = 'merchant' AND k.code = s.merchant_code GROUP BY 1 ORDER BY 1"
        ).fetchall()
    assert merchants == [("M-engine", 1), ("M-yiwu", 3)]


def test_the_hourly_update_folds_the_days_late_facts_into_the_served_table(
    api: Api, rt: Runtime, clock: SimulatedClock, tmp_path: Path
) -> None:
    """After the midnight rebuild, an import of yesterday's late sign-fors reaches the served
    table at the next hour, folded in (the same table a rebuild gives, tests/analytics)."""
    clock.set(at("2024-10-20T23:30:00+08:00"))
    signed = next_day_history()
    late = [{**row, "signed_at": ""} for row in signed[-5:]]  # the last five, in transit
    rt.history.import_file(write_csv(tmp_path / "h.csv", signed[:-5] + late), now=clock.now())
    scheduler = Scheduler(rt.engine, clock, rt.rulebooks, history=rt.history, recurring=True)
    scheduler.tick()
    clock.set(at("2024-10-21T00:00:30+08:00"))
    scheduler.tick()
    url = "/v1/promises?product_id=P-cups&destination=440305"
    assert api.get("buyer", url).json()["sample_size"] == 25
    table_before = api.get("buyer", url).json()["promise_table_as_of"]

    clock.set(at("2024-10-21T00:40:00+08:00"))  # the carrier's feed restates the five
    rt.history.import_file(write_csv(tmp_path / "late.csv", signed[-5:]), now=clock.now())
    clock.set(at("2024-10-21T01:00:30+08:00"))
    updated = [item for item in scheduler.tick() if item.kind == promises.PROMISES_UPDATE]
    assert [item.due_at for item in updated] == [at("2024-10-21T01:00:00+08:00")]
    assert "folded 10 changed row(s) in" in updated[0].outcome  # five out, five in
    body = api.get("buyer", url).json()
    assert body["promise_table_as_of"] == "2024-10-20T17:00:00Z" != table_before


def merchant_rates(history: ShipmentHistory) -> list[tuple[str, int, int]]:
    empty = pa.Table.from_pylist([], schema=SHIPMENT_FACTS_SCHEMA)
    rates = history.sign_rates(empty, at("2024-10-20T00:00:00+08:00"), SignRateParams(30, 72, 1))
    return [(r["merchant_id"], r["orders"], r["signed_within"]) for r in rates.to_pylist()]


def good_and_bad_imports(rt: Runtime, tmp_path: Path, *, lose_codebook: bool) -> bytes:
    """M-good (10 signed) then M-bad (10 unsigned), losing the codebook in between if asked;
    returns the codebook as it was after the first import."""
    day = at("2024-10-05T10:00:00+08:00")
    good = [parcel(f"G{i}", day, timedelta(hours=20), merchant="M-good") for i in range(10)]
    rt.history.import_file(write_csv(tmp_path / "good.csv", good), now=rt.clock.now())
    first_codebook = rt.history.keys_path.read_bytes()
    if lose_codebook:
        rt.history.keys_path.unlink()
    bad = [parcel(f"B{i}", day, None, merchant="M-bad") for i in range(10)]
    rt.history.import_file(write_csv(tmp_path / "bad.csv", bad), now=rt.clock.now())
    return first_codebook


def test_a_lost_codebook_is_recovered_from_the_files_not_numbered_anew(
    rt: Runtime, tmp_path: Path
) -> None:
    good_and_bad_imports(rt, tmp_path, lose_codebook=True)
    assert rt.history.codebook().dictionary("merchant").to_pylist() == ["M-good", "M-bad"]
    assert merchant_rates(rt.history) == [("M-bad", 10, 0), ("M-good", 10, 10)]
    assert_files_decode(rt.history)


def test_a_stale_codebook_is_refused(rt: Runtime, tmp_path: Path) -> None:
    older = good_and_bad_imports(rt, tmp_path, lose_codebook=False)
    rt.history.keys_path.write_bytes(older)  # e.g. restored from the backup before M-bad
    for attempt in (
        lambda: merchant_rates(rt.history),
        lambda: rt.history.import_file(
            write_csv(tmp_path / "more.csv", next_day_history(count=1)), now=rt.clock.now()
        ),
    ):
        with pytest.raises(BuyerguardError) as err:
            attempt()
        assert err.value.code == "codebook_stale"
    assert len(list(rt.history.imported_dir.glob("*.parquet"))) == 2  # nothing written


def test_a_codebook_the_files_contradict_is_not_recovered(rt: Runtime, tmp_path: Path) -> None:
    good_and_bad_imports(rt, tmp_path, lose_codebook=False)
    (path, *_) = sorted(rt.history.imported_dir.glob("*.parquet"))
    table = pq.read_table(path)
    renamed = table.set_column(
        table.schema.get_field_index("merchant_id"),
        "merchant_id",
        pa.array(["M-other"] * table.num_rows),
    )
    pq.write_table(renamed, path.with_name("copy.parquet"))  # M-other under M-good's code
    rt.history.keys_path.unlink()
    with pytest.raises(BuyerguardError) as err:
        rt.history.codebook()
    assert err.value.code == "codebook_unrecoverable"


def test_imports_from_before_key_codes_are_coded_on_the_next_build(
    api: Api, rt: Runtime, tmp_path: Path
) -> None:
    rt.history.import_file(write_csv(tmp_path / "h.csv", next_day_history()), now=rt.clock.now())
    (path,) = rt.history.imported_dir.glob("*.parquet")
    # The file as an earlier version wrote it: facts only, and no codebook.
    pq.write_table(pq.read_table(path).select(SHIPMENT_FACTS_SCHEMA.names), path)
    rt.history.keys_path.unlink()
    with rt.reading(OPERATOR) as ctx:
        built = promises.build(ctx, at("2024-10-20T00:00:00+08:00"))
    assert built["shipments"] == 25
    assert "product_code" in pq.read_schema(path).names
    assert_files_decode(rt.history)
    answer = api.get("buyer", "/v1/promises?product_id=P-cups&destination=440305").json()
    assert (answer["backoff_level"], answer["sample_size"]) == (1, 25)
    assert rt.history.upgrade_imports() == 0  # once coded, a file stays as it is


def badge_history() -> list[dict[str, str]]:
    """Two merchants of one industry, 40 orders each from 10-01: M-yiwu signs all within
    a day, M-rival half; the industry average is 60/80, so only M-yiwu beats it."""
    first = at("2024-10-01T09:00:00+08:00")
    rows = []
    for i in range(40):
        paid = first + timedelta(hours=6 * i)
        rows.append(parcel(f"Y{i}", paid, timedelta(hours=20)))
        rows.append(
            parcel(
                f"R{i}",
                paid,
                timedelta(hours=20 if i % 2 else 100),
                merchant="M-rival",
                product="P-rival",
            )
        )
    return rows


def test_badge_awarded_then_withdrawn_by_the_daily_timer(
    api: Api, rt: Runtime, clock: SimulatedClock, tmp_path: Path
) -> None:
    with rt.writing(OPERATOR) as ctx:
        catalog.create_merchant(
            ctx, Merchant("M-rival", "Rival", MerchantTier.STANDARD, "daily_goods", "330782")
        )
    rt.history.import_file(write_csv(tmp_path / "b.csv", badge_history()), now=clock.now())
    scheduler = Scheduler(rt.engine, clock, rt.rulebooks, history=rt.history, recurring=True)
    assert scheduler.tick() == []  # schedules the first evaluation: the next Shanghai midnight
    clock.set(at("2024-10-21T00:00:00+08:00"))
    fired = [item for item in scheduler.tick() if item.kind == badges.BADGE_DAILY]
    assert len(fired) == 1
    assert "awarded 1" in fired[0].outcome
    status = api.get("merchant", "/v1/merchants/M-yiwu/badge").json()
    assert status["badged"] and status["search_filter"]
    assert status["exposure_multiplier"] == "2"
    assert status["history"][0]["since"] == "2024-10-20T16:00:00Z"
    assert status["history"][0]["orders"] == 40 and status["history"][0]["signed_within"] == 40
    rival = api.get("operator", "/v1/merchants/M-rival/badge").json()
    assert rival["badged"] is False and rival["exposure_multiplier"] == "1"
    # Forty days later the orders have left the 30-day window: withdrawn at a midnight.
    clock.set(at("2024-11-30T12:00:00+08:00"))
    fired = [item for item in scheduler.tick() if item.kind == badges.BADGE_DAILY]
    assert len(fired) == 40  # every missed day caught up, each evaluated once
    status = api.get("merchant", "/v1/merchants/M-yiwu/badge").json()
    assert not status["badged"]
    until = status["history"][0]["until"]
    assert until is not None and until.endswith("T16:00:00Z")
    events = [e["kind"] for e in api.get("marketplace", "/v1/events?limit=500").json()["items"]]
    assert events.count(badges.AWARDED) == 1 and events.count(badges.WITHDRAWN) == 1
    assert api.get("other_merchant", "/v1/merchants/M-yiwu/badge").status_code == 404


def test_the_daily_badge_skips_instants_before_a_change_made_by_hand(
    api: Api, rt: Runtime, clock: SimulatedClock, tmp_path: Path
) -> None:
    """A scheduler that was down catches up day by day; when an operator evaluated by hand
    meanwhile, the missed days before that evaluation's change are skipped, saying so, rather
    than awarding again a badge withdrawn later (two overlapping spells)."""
    rt.history.import_file(write_csv(tmp_path / "b.csv", badge_history()), now=clock.now())
    scheduler = Scheduler(rt.engine, clock, rt.rulebooks, history=rt.history, recurring=True)
    scheduler.tick()
    clock.set(at("2024-10-21T00:00:00+08:00"))
    first = [t.outcome for t in scheduler.tick() if t.kind == badges.BADGE_DAILY]
    assert len(first) == 1 and "awarded 1" in first[0]
    # Down until 11-30 noon, when an operator evaluates by hand: the orders have left the window.
    clock.set(at("2024-11-30T12:00:00+08:00"))
    with rt.writing(OPERATOR) as ctx:
        assert badges.evaluate_badges(ctx, clock.now()).withdrawn == {"M-yiwu"}
    fired = [t for t in scheduler.tick() if t.kind == badges.BADGE_DAILY]
    assert len(fired) == 40  # 10-22 .. 11-30, each before the change at 11-30 12:00
    assert all(
        t.outcome == "skipped: M-yiwu's badge changed later, at 2024-11-30T04:00:00Z" for t in fired
    ), fired[0].outcome
    clock.set(at("2024-12-01T00:00:00+08:00"))
    following = [t for t in scheduler.tick() if t.kind == badges.BADGE_DAILY]
    assert [t.outcome for t in following] == ["evaluated 0: awarded 0, withdrawn 0"]
    history = api.get("merchant", "/v1/merchants/M-yiwu/badge").json()["history"]
    assert [(spell["since"], spell["until"]) for spell in history] == [
        ("2024-10-20T16:00:00Z", "2024-11-30T04:00:00Z")
    ]
    events = [e["kind"] for e in api.get("marketplace", "/v1/events?limit=500").json()["items"]]
    assert events.count(badges.AWARDED) == 1 and events.count(badges.WITHDRAWN) == 1


def test_scheduler_rebuilds_the_promise_table_at_each_shanghai_midnight(
    api: Api, rt: Runtime, clock: SimulatedClock, tmp_path: Path
) -> None:
    rt.history.import_file(write_csv(tmp_path / "h.csv", next_day_history()), now=clock.now())
    scheduler = Scheduler(rt.engine, clock, rt.rulebooks, history=rt.history, recurring=True)
    assert scheduler.tick() == []  # schedules the first rebuild: the next Shanghai midnight
    url = "/v1/promises?product_id=P-cups&destination=440305"
    assert api.get("buyer", url).status_code == 404  # nothing built yet

    clock.set(at("2024-10-21T00:00:30+08:00"))
    rebuilt = [item for item in scheduler.tick() if item.kind == promises.PROMISES_REBUILD]
    assert [item.due_at for item in rebuilt] == [at("2024-10-21T00:00:00+08:00")]
    assert "as of 2024-10-20T16:00:00Z" in rebuilt[0].outcome
    body = api.get("buyer", url).json()
    assert body["promise_table_as_of"] == "2024-10-20T16:00:00Z"
    assert body["label"] == "tomorrow" and body["sample_size"] == 25

    # Down for a week: one rebuild, as of the last midnight missed, not seven.
    clock.set(at("2024-10-28T08:00:00+08:00"))
    rebuilt = [item for item in scheduler.tick() if item.kind == promises.PROMISES_REBUILD]
    assert len(rebuilt) == 1 and "as of 2024-10-27T16:00:00Z" in rebuilt[0].outcome
    assert api.get("buyer", url).json()["promise_table_as_of"] == "2024-10-27T16:00:00Z"
    # The hourly jobs run beside them: the expiry of idempotency keys, the promise update.
    hourly = ("idempotency.expire:", "arrival.promises_update:")
    daily = scheduler.due_timer_ids(at("2024-10-28T23:59:59+08:00"))
    assert [timer for timer in daily if not timer.startswith(hourly)] == []
    assert [timer for timer in daily if timer.startswith(hourly[1])] == [
        "arrival.promises_update:2024-10-28T01:00:00+00:00"
    ]
    due = scheduler.due_timer_ids(at("2024-10-29T00:00:00+08:00"))
    assert sorted(timer.split(":")[0] for timer in due if not timer.startswith(hourly)) == [
        "arrival.badge_daily",
        "arrival.promises_rebuild",
        "payouts.run",
    ]


def test_a_flag_that_is_not_true_or_false_is_refused_not_read_as_false(
    rt: Runtime, tmp_path: Path
) -> None:
    """docs/logistics.md: a flag is true or false (t/f, 1/0, yes/no), blank is false. A typo
    ("ture", "2") was read as false silently, so a refunded parcel counted as delivered."""
    rows = next_day_history(count=4)
    rows[0]["official_logistics"] = "ture"
    rows[1]["refunded_before_shipment"] = "2"
    rows[2]["official_logistics"] = ""
    rows[3]["refunded_before_shipment"] = "no"
    columns = [*COLUMNS, "refunded_before_shipment"]

    def flags_file() -> Path:
        path = tmp_path / "flags.csv"
        with path.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=columns, restval="")
            writer.writeheader()
            writer.writerows(rows)
        return path

    with pytest.raises(BuyerguardError) as refused:
        rt.history.import_file(flags_file(), now=rt.clock.now())
    message = refused.value.message
    assert "2 bad row(s)" in message, message
    assert "row 1: official_logistics not true or false" in message
    assert "row 2: refunded_before_shipment not true or false" in message
    rows[0]["official_logistics"], rows[1]["refunded_before_shipment"] = "yes", "0"
    assert rt.history.import_file(flags_file(), now=rt.clock.now()) == 4


@pytest.mark.parametrize(
    ("industry", "reason"),
    [("i" * 65, "longer than 64 characters"), ("daily\x00goods", "has a control character")],
)
def test_an_industry_the_badge_cannot_record_is_refused_at_the_import(
    api: Api, rt: Runtime, clock: SimulatedClock, tmp_path: Path, industry: str, reason: str
) -> None:
    """A merchant's industry is a label of at most 64 characters, as the catalogue takes it,
    and the badge records the industry it was compared with. An import took any text: a
    65-character industry (or one holding a NUL) was stored, and the next badge evaluation
    failed with a traceback on PostgreSQL (`value too long`; SQLite kept it), every night,
    dead-lettering the scheduler's timer. Now the import refuses the row."""
    with rt.writing(OPERATOR) as ctx:
        catalog.create_merchant(
            ctx, Merchant("M-rival", "Rival", MerchantTier.STANDARD, "daily_goods", "330782")
        )
    rows = [parcel | {"industry": industry} for parcel in badge_history()]
    with pytest.raises(BuyerguardError) as refused:
        rt.history.import_file(write_csv(tmp_path / "b.csv", rows), now=clock.now())
    assert refused.value.code == "import_rows_invalid"
    assert f"80 bad row(s) (and 60 more); nothing imported: row 1: industry {reason}" in (
        refused.value.message
    )
    assert not rt.history.imported_dir.exists() and not rt.history.keys_path.exists()
    # The longest industry the catalogue takes is imported, compared and recorded alike on
    # both databases.
    longest = "i" * 64
    rows = [parcel | {"industry": longest} for parcel in badge_history()]
    assert rt.history.import_file(write_csv(tmp_path / "b.csv", rows), now=clock.now()) == 80
    with rt.writing(OPERATOR) as ctx:
        changes = badges.evaluate_badges(ctx, at("2024-10-20T00:00:00+08:00"))
        assert changes.awarded == {"M-yiwu"}
    status = api.get("merchant", "/v1/merchants/M-yiwu/badge").json()
    assert status["badged"] and status["history"][0]["industry"] == longest


def test_a_city_given_for_a_gbt_origin_is_its_code_s_city_as_the_provinces_are(
    api: Api, rt: Runtime, tmp_path: Path
) -> None:
    """A GB/T 2260 origin's city is its code's first four digits and `00`, as the engine's
    own orders and every lookup derive it. An export that also filled `origin_city` (a name,
    `金华`, or another city's code) had its value stored as the city: its parcels made routes
    no lookup reaches, and a lookup that should back off to its merchant's route from Jinhua
    (level 2) found nothing there. Like the provinces, it is recomputed from the region."""
    rows = [
        row | {"origin_city": "金华" if i % 2 else "330100"}
        for i, row in enumerate(next_day_history())
    ]
    path = tmp_path / "cities.csv"
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=[*COLUMNS, "origin_city"])
        writer.writeheader()
        writer.writerows(rows)
    assert rt.history.import_file(path, now=rt.clock.now()) == 25
    with rt.reading(OPERATOR) as ctx:
        promises.build(ctx, at("2024-10-20T00:00:00+08:00"))
    other_city = api.get("buyer", "/v1/promises?product_id=P-cups&destination=440106").json()
    assert (other_city["backoff_level"], other_city["sample_size"]) == (2, 25), other_city
    assert other_city["label"] == "tomorrow"
