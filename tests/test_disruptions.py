"""Declared logistics disruptions: stored, refused when wrong, and acting on the next lookup
in every API worker (services/disruptions.py, POST/GET /v1/logistics/disruptions)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from buyerguard.api.app import create_app
from buyerguard.bootstrap import Runtime
from buyerguard.clock import SimulatedClock
from buyerguard.rulebook import rulebooks
from buyerguard.services import promises
from buyerguard.services.context import OPERATOR
from buyerguard.services.disruptions import region_covers
from buyerguard.store.db import make_engine
from buyerguard.store.tables import audit_log, logistics_disruptions
from tests.conftest import Api, at
from tests.schema_conformance import checked_client
from tests.test_logistics import next_day_history, write_csv

DISRUPTIONS = "/v1/logistics/disruptions"
# Paid 2024-10-20 09:00 Shanghai, the P-cups route promises the next day ("tomorrow").
LOOKUP = "/v1/promises?product_id=P-cups&destination=440305&paid_at=2024-10-20T09:00:00%2B08:00"


def built(api: Api, rt: Runtime, tmp_path: Path) -> None:
    """The P-cups route (SF, 330782 → 440305) learned, as of the test clock's day."""
    rt.history.import_file(write_csv(tmp_path / "h.csv", next_day_history()), now=rt.clock.now())
    with rt.reading(OPERATOR) as ctx:
        promises.build(ctx, at("2024-10-20T00:00:00+08:00"))


def declaration(**changes: Any) -> dict[str, Any]:
    body = {
        "carrier": "SF",
        "regions": ["440000"],
        "from": "2024-10-19T00:00:00+08:00",
        "until": "2024-10-27T00:00:00+08:00",
        "expected_extra_days": 3,
        "reason": "typhoon: Shenzhen hub closed",
    }
    return body | changes


def lookup(api: Api, path: str = LOOKUP) -> dict[str, Any]:
    answer = api.get("buyer", path)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def stored(rt: Runtime) -> int:
    with rt.engine.connect() as connection:
        return int(
            connection.execute(select(func.count()).select_from(logistics_disruptions)).scalar_one()
        )


def test_region_codes_cover_their_districts() -> None:
    assert region_covers("440000", "440305") and region_covers("440300", "440305")
    assert region_covers("440305", "440305") and not region_covers("440306", "440305")
    assert not region_covers("440100", "440305") and not region_covers("330000", "440305")
    assert not region_covers("440000", "BR-SP")


def test_a_declaration_moves_the_next_lookup_and_ending_it_restores_the_promise(
    api: Api, rt: Runtime, clock: SimulatedClock, tmp_path: Path
) -> None:
    built(api, rt, tmp_path)
    before = lookup(api)
    assert (before["promised_date"], before["label"], before["disruption"]) == (
        "2024-10-21",
        "tomorrow",
        None,
    )
    declared = api.post("operator", DISRUPTIONS, declaration())
    assert declared.status_code == 201, declared.text
    shown = declared.json()
    assert shown["carrier"] == "SF" and shown["regions"] == ["440000"]
    assert shown["from"] == "2024-10-18T16:00:00Z" and shown["until"] == "2024-10-26T16:00:00Z"
    assert shown["active_until"] == shown["until"] and shown["ended_at"] is None
    assert shown["declared_by"].startswith("operator")

    pushed = lookup(api)
    assert (pushed["promised_date"], pushed["label"]) == ("2024-10-24", None)
    assert pushed["disruption"] == {"id": shown["id"], "carrier": "SF", "expected_extra_days": 3}
    # The carrier decides: SF's parcels wait, another carrier's do not; an unnamed carrier
    # may be SF's, so it waits too.
    assert lookup(api, LOOKUP + "&carrier=SF")["promised_date"] == "2024-10-24"
    other = lookup(api, LOOKUP + "&carrier=YTO")
    assert (other["promised_date"], other["label"], other["disruption"]) == (
        "2024-10-21",
        "tomorrow",
        None,
    )

    # A second one, at the origin's city, delaying more: the worse one answers.
    worse = api.post(
        "operator", DISRUPTIONS, declaration(regions=["330700"], expected_extra_days=5)
    ).json()
    assert lookup(api)["disruption"]["id"] == worse["id"]
    assert lookup(api)["promised_date"] == "2024-10-26"

    ended = api.post("operator", f"{DISRUPTIONS}/{worse['id']}/end")
    assert ended.status_code == 200, ended.text
    assert ended.json()["ended_at"] == ended.json()["active_until"] == "2024-10-20T02:00:00Z"
    # Ended now (10:00 Shanghai): a parcel paid at 09:00 still met it; one paid later does not.
    assert lookup(api)["disruption"]["id"] == worse["id"]
    clock.set(at("2024-10-20T11:00:00+08:00"))
    later = LOOKUP.replace("T09:00:00", "T10:30:00")
    assert lookup(api, later)["disruption"]["id"] == shown["id"]

    assert api.post("operator", f"{DISRUPTIONS}/{shown['id']}/end").status_code == 200
    assert lookup(api, later)["disruption"]["id"] == shown["id"]  # paid before the end
    restored = lookup(api, "/v1/promises?product_id=P-cups&destination=440305")  # paid now
    assert (restored["promised_date"], restored["label"], restored["disruption"]) == (
        "2024-10-21",
        "tomorrow",
        None,
    )
    again = api.post("operator", f"{DISRUPTIONS}/{shown['id']}/end")
    assert (again.status_code, again.json()["code"]) == (409, "disruption_already_ended")
    missing = api.post("operator", f"{DISRUPTIONS}/dis-none/end")
    assert (missing.status_code, missing.json()["code"]) == (404, "disruption_not_found")
    with rt.engine.connect() as connection:
        commands = connection.execute(
            select(audit_log.c.command).where(audit_log.c.command.like("%disruption"))
        ).scalars()
        assert sorted(commands) == [
            "declare_disruption",
            "declare_disruption",
            "end_disruption",
            "end_disruption",
        ]


def test_only_a_disruption_over_the_parcels_journey_moves_it(
    api: Api, rt: Runtime, tmp_path: Path
) -> None:
    built(api, rt, tmp_path)
    # Promised 10-21: a disruption from 10-22 misses the journey, one from 10-21 noon meets it.
    api.post("operator", DISRUPTIONS, declaration(**{"from": "2024-10-22T00:00:00+08:00"}))
    assert lookup(api)["disruption"] is None
    api.post("operator", DISRUPTIONS, declaration(**{"from": "2024-10-21T12:00:00+08:00"}))
    assert lookup(api)["promised_date"] == "2024-10-24"
    # Over before the payment: nothing.
    old = LOOKUP.replace("2024-10-20T09", "2024-10-10T09")
    api.post(
        "operator",
        DISRUPTIONS,
        declaration(**{"from": "2024-10-01T00:00:00+08:00", "until": "2024-10-09T00:00:00+08:00"}),
    )
    assert lookup(api, old)["disruption"] is None


def test_every_api_worker_sees_a_declaration_at_its_next_lookup(
    api: Api, rt: Runtime, clock: SimulatedClock, tmp_path: Path
) -> None:
    """A second worker: its own engine (so its own cache) on the same database and history."""
    built(api, rt, tmp_path)
    other_rt = Runtime(
        make_engine(rt.engine.url.render_as_string(hide_password=False)),
        rt.clock,
        rulebooks(),
        rt.history,
    )
    try:
        with checked_client(create_app(other_rt)) as client:
            other = Api(client, api.tokens)
            assert lookup(other)["label"] == "tomorrow"  # its cache now holds "none declared"
            declared = api.post("operator", DISRUPTIONS, declaration()).json()
            assert lookup(other)["disruption"]["id"] == declared["id"]
            api.post("operator", f"{DISRUPTIONS}/{declared['id']}/end")
            clock.set(at("2024-10-20T11:00:00+08:00"))
            later = LOOKUP.replace("T09:00:00", "T10:30:00")
            assert lookup(other, later)["label"] == "tomorrow"
    finally:
        other_rt.engine.dispose()


def test_bad_declarations_are_refused_and_write_nothing(
    api: Api, rt: Runtime, tmp_path: Path
) -> None:
    # No shipment history yet: no carrier is known, so none can be declared disrupted.
    refused = api.post("operator", DISRUPTIONS, declaration())
    assert (refused.status_code, refused.json()["code"], refused.json()["field"]) == (
        422,
        "carrier_unknown",
        "carrier",
    )
    built(api, rt, tmp_path)
    cases = [
        (declaration(until="2024-10-18T00:00:00+08:00"), "until_not_after_from", "until"),
        (declaration(until="2024-10-19T00:00:00+08:00"), "until_not_after_from", "until"),
        (declaration(carrier="ZTO"), "carrier_unknown", "carrier"),
        (declaration(regions=["990000"]), "region_malformed", "regions[0]"),
        (declaration(regions=["440000", "44"]), "region_malformed", "regions[1]"),
        (declaration(regions=["44a000"]), "region_malformed", "regions[0]"),
        (declaration(regions=["440000", "BR-SP"]), "region_malformed", "regions[1]"),
        (declaration(regions=[]), None, None),
        (declaration(expected_extra_days=-1), None, None),
        (declaration(reason="   "), "reason_missing", "reason"),
        (declaration(**{"from": "2024-10-19"}), "instant_malformed", "from"),
        (declaration(until="2024-10-27T00:00:00"), "instant_without_offset", "until"),
    ]
    for number, (body, code, field) in enumerate(cases):
        answer = api.post("operator", DISRUPTIONS, body, key=f"refused-{number}")
        assert answer.status_code == 422, (body, answer.text)
        if code is not None:
            assert (answer.json()["code"], answer.json()["field"]) == (code, field), body
    forbidden = api.post("marketplace", DISRUPTIONS, declaration())
    assert forbidden.status_code == 403
    assert api.post("merchant", f"{DISRUPTIONS}/dis-x/end").status_code == 403
    assert stored(rt) == 0
    listed = api.get("merchant", DISRUPTIONS).json()
    assert listed == {"items": [], "next_cursor": None, "has_more": False}
    assert api.get("buyer", DISRUPTIONS).status_code == 403


def test_a_repeated_key_declares_once_and_pages_list_in_declaration_order(
    api: Api, rt: Runtime, clock: SimulatedClock, tmp_path: Path
) -> None:
    built(api, rt, tmp_path)
    first = api.post("operator", DISRUPTIONS, declaration(), key="typhoon-1")
    replay = api.post("operator", DISRUPTIONS, declaration(), key="typhoon-1")
    assert replay.headers.get("Idempotent-Replayed") == "true"
    assert replay.json() == first.json() and stored(rt) == 1
    for extra_days in (1, 2):
        clock.advance(timedelta(seconds=1))
        api.post("operator", DISRUPTIONS, declaration(expected_extra_days=extra_days))
    page = api.get("marketplace", f"{DISRUPTIONS}?limit=2").json()
    assert [item["expected_extra_days"] for item in page["items"]] == [3, 1]
    assert page["has_more"] is True
    rest = api.get("marketplace", f"{DISRUPTIONS}?limit=2&after={page['next_cursor']}").json()
    assert [item["expected_extra_days"] for item in rest["items"]] == [2]
    assert (rest["has_more"], rest["next_cursor"]) == (False, None)
