"""After-sales inputs an outside tester sent, on SQLite and PostgreSQL: what a party writes
into a case that becomes someone's money (a carrier named at a pickup is the party the
platform pays) or the record (a tracking number) is checked before anything is written."""

from __future__ import annotations

import pytest

from buyerguard.bootstrap import Runtime
from tests.conftest import Api
from tests.test_cases_api import (
    _pickup_ready,
    act,
    detail,
    last_decision,
    open_case,
    order,
    refused_cleanly,
)


@pytest.mark.parametrize("carrier", ["顺丰 速运", " ", "SF:payable", "a/b", "..", "x" * 49])
def test_a_pickups_carrier_is_a_party_id_or_the_pickup_is_refused(
    api: Api, rt: Runtime, carrier: str
) -> None:
    """The carrier of an official pickup is paid the return-shipping subsidy on
    `carrier:<carrier>:payable`: a name no account id can hold (a space, a colon that
    shifts the account's purpose, a slash, CJK) would leave money on an account nobody
    can read back through `GET /v1/ledger/accounts/{id}` or `?party=`. Refused, nothing
    written; the goods still wait for the pickup."""
    order(api, "K-1", "pay", "ship", "sign")
    case_id = _pickup_ready(api, "K-1")
    refused_cleanly(
        rt,
        lambda: api.post(
            "marketplace", f"/v1/cases/{case_id}/pickup", {"carrier": carrier, "freight": "10.00"}
        ),
        422,
        "id_malformed",
        "carrier",
    )
    assert detail(api, case_id)["goods"] == "awaiting_pickup"


def test_a_pickups_carrier_names_an_account_that_reads_back(api: Api, rt: Runtime) -> None:
    """An id-shaped carrier is paid on an account the API reads back, to the fen."""
    order(api, "K-2", "pay", "ship", "sign")
    case_id = _pickup_ready(api, "K-2")
    act(api, "marketplace", case_id, "pickup", {"carrier": "YTO.express_2", "freight": "10.00"})
    answer = api.get("operator", "/v1/ledger/accounts/carrier:YTO.express_2:payable")
    assert answer.status_code == 200, answer.text
    assert answer.json()["credits_posted"] == "10.00"


@pytest.mark.parametrize(
    "sent",
    [{"carrier": " ", "tracking_number": "YT-1"}, {"carrier": "YTO", "tracking_number": "\t "}],
)
def test_a_buyer_sent_return_names_a_carrier_and_tracking_number_that_say_something(
    api: Api, rt: Runtime, sent: dict[str, str]
) -> None:
    """A buyer-sent handover stops the handover deadline and nothing runs while the goods
    are in transit: blanks for the carrier or the tracking number would leave the merchant
    nothing to follow and the case waiting. Refused like a missing one (as a shipment
    refuses blanks), nothing written."""
    order(api, "K-3", "pay", "ship", "sign")
    case_id = open_case(api, "K-3", "return_no_reason")["id"]
    act(api, "merchant", case_id, "accept")
    refused_cleanly(
        rt,
        lambda: api.post("buyer", f"/v1/cases/{case_id}/handover", sent),
        422,
        "tracking_missing",
        "tracking_number",
    )
    assert detail(api, case_id)["goods"] == "with_buyer"


def test_a_deadline_is_announced_in_the_instant_format_of_every_answer(api: Api) -> None:
    """The decision that sets a deadline said `…T14:00:00+00:00` where the case view, the
    CLI and every other answer say `…T14:00:00Z`: one spelling of an instant everywhere."""
    order(api, "K-4", "pay", "ship", "sign")
    case = open_case(api, "K-4", "return_no_reason")
    announced = last_decision(detail(api, case["id"]), "deadline_set")
    due_at = detail(api, case["id"])["deadline"]["due_at"]
    assert due_at.endswith("Z"), due_at
    assert announced["details"]["due_at"] == due_at
    assert due_at in announced["explanation"]
    assert "+00:00" not in announced["explanation"]


def test_a_role_that_may_not_act_is_told_so_in_words(api: Api) -> None:
    """In a batch (where no route guards the role) a marketplace's ruling was refused with
    `a marketplace may not ruling in a case`: the action is named, not conjugated."""
    order(api, "K-5", "pay", "ship", "sign")
    case_id = open_case(api, "K-5", "return_no_reason")["id"]
    ruling = {"kind": "case-ruling", "case_id": case_id, "idempotency_key": "rule-K-5"}
    answer = api.post(
        "marketplace",
        "/v1/facts",
        {"facts": [{**ruling, "body": {"result": "buyer", "note": "n"}}]},
    )
    assert answer.status_code == 200, answer.text
    [result] = answer.json()["results"]
    assert result["status"] == 403, result
    assert result["error"]["message"] == "a marketplace may not send `ruling` on a case"
