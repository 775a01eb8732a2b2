"""After-sales inputs an outside tester sent, on SQLite and PostgreSQL: what a party writes
into a case that becomes someone's money (a carrier named at a pickup is the party the
platform pays) or the record (a tracking number) is checked before anything is written."""

from __future__ import annotations

import pytest

from buyerguard.bootstrap import Runtime
from tests.conftest import Api
from tests.test_cases_api import _pickup_ready, act, detail, open_case, order, refused_cleanly


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
