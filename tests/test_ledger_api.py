"""Reading the ledger through the API: listing accounts (by party, paged) and one account."""

from __future__ import annotations

from typing import Any

from buyerguard.ledger.accounts import part_of
from tests.conftest import Api
from tests.test_api import assert_refused

ORDER = {"buyer_id": "B-shop", "lines": [{"product_id": "P-cups", "quantity": 10}]}


def pay(api: Api, order_id: str) -> None:
    placed = api.post("marketplace", "/v1/orders", {"id": order_id, **ORDER})
    assert placed.status_code == 201, placed.text
    paid = api.post("marketplace", f"/v1/orders/{order_id}/payment", {"amount": "360.00"})
    assert paid.status_code == 200, paid.text


def every_page(api: Api, role: str, query: str, limit: int) -> list[dict[str, Any]]:
    """Walk the pages; each but the last is full and says there is more."""
    items: list[dict[str, Any]] = []
    after = ""
    while True:
        answer = api.get(role, f"/v1/ledger/accounts?limit={limit}{query}{after}")
        assert answer.status_code == 200, answer.text
        body = answer.json()
        items += body["items"]
        if not body["has_more"]:
            assert body["next_cursor"] is None and len(body["items"]) <= limit
            return items
        assert len(body["items"]) == limit and body["next_cursor"] == items[-1]["account_id"]
        after = f"&after={body['next_cursor']}"


def test_accounts_are_listed_by_party_and_paged(api: Api) -> None:
    for number in range(3):
        pay(api, f"O-acc-{number}")
    everything = every_page(api, "operator", "", limit=2)
    ids = [item["account_id"] for item in everything]
    assert ids == sorted(ids) and len(ids) == len(set(ids))
    assert {"merchant:M-yiwu:escrow", "merchant:M-yiwu:payable"} <= set(ids)
    clearing = [item for item in everything if item["account_id"].startswith("rail:clearing:")]
    assert clearing and all(item["purpose"] == "clearing" for item in clearing)
    escrow = next(item for item in everything if item["account_id"] == "merchant:M-yiwu:escrow")
    assert (escrow["party"], escrow["purpose"], escrow["balance"]) == (
        "merchant:M-yiwu",
        "escrow",
        "1080.00",
    )
    merchants = every_page(api, "marketplace", "&party=merchant:M-yiwu", limit=100)
    assert {item["party"] for item in merchants} == {"merchant:M-yiwu"}
    assert every_page(api, "operator", "&party=nobody", limit=10) == []


def test_a_merchant_lists_only_its_own_accounts(api: Api) -> None:
    pay(api, "O-own")
    own = every_page(api, "merchant", "", limit=50)
    asked_for_another = every_page(api, "merchant", "&party=platform", limit=50)
    assert own == asked_for_another and own
    assert all(item["account_id"].startswith("merchant:M-yiwu:") for item in own)
    assert_refused(api.get("buyer", "/v1/ledger/accounts"), 403, "forbidden")


def test_bad_paging_and_unknown_accounts_are_refused(api: Api) -> None:
    zero = api.get("operator", "/v1/ledger/accounts?limit=0")
    assert zero.status_code == 422 and zero.json()["field"] == "limit"
    refused = api.get("operator", "/v1/ledger/accounts?after=bad%20id")
    assert refused.status_code == 422 and refused.json()["field"] == "after"
    typo = api.get("operator", "/v1/ledger/accounts/merchant:M-yiwu:payabel")
    assert_refused(typo, 404, "account_not_found", "account_id")


def test_a_split_account_reads_zero_before_its_first_posting(api: Api) -> None:
    """`GET /v1/ledger/accounts/platform:fee_revenue` on a new marketplace answered
    `404 account_not_found`, though the account is in everyone's chart of accounts (the
    README's tour reads it): it reads zero with no parts until a posting touches one."""
    for account_id in ("platform:fee_revenue", "rail:clearing", "platform:subsidy_expense"):
        fresh = api.get("operator", f"/v1/ledger/accounts/{account_id}")
        assert fresh.status_code == 200, fresh.text
        assert fresh.json()["account_id"] == account_id
        assert fresh.json()["balance"] == "0.00" and fresh.json()["parts"] == []
    pay(api, "O-first")
    clearing = api.get("operator", "/v1/ledger/accounts/rail:clearing").json()
    assert [part["account_id"] for part in clearing["parts"]] == [
        f"rail:clearing:{part_of('O-first'):02d}"
    ]
    assert clearing["balance"] == clearing["parts"][0]["balance"] != "0.00"
    unknown = api.get("operator", "/v1/ledger/accounts/platform:fee_revenue:99")
    assert_refused(unknown, 404, "account_not_found", "account_id")
