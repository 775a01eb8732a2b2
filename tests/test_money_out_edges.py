"""Money out at its edges, as an outside tester tried it: months, amounts and reports at
the limits of what the API accepts. Each refusal is a 4xx naming its field, and changes
nothing (docs/orders-and-ledger.md, "Money out" and "Errors")."""

from __future__ import annotations

from pathlib import Path

from buyerguard.bootstrap import Runtime
from tests.conftest import Api
from tests.test_api import assert_refused
from tests.test_money_out import ok, put_reserve, released_demo_orders, snapshot

CLAWBACK = {"kind": "clawback", "sub_order_id": "O-1-1", "amount": "1.00", "reason": "test"}


def test_a_statement_month_outside_the_instants_accepted_is_month_malformed(
    api: Api, rt: Runtime
) -> None:
    """A month whose end lies past the last instant accepted (2200-01-01) answered `422
    instant_out_of_range` naming `instant`, and 9999-12 a 500 (its end is in year 10000)."""
    released_demo_orders(api)
    before = snapshot(rt)
    for month in ("2200-01", "2999-06", "9999-11", "9999-12", "1969-12", "0000-01"):
        path = f"/v1/merchants/M-yiwu/statements/{month}"
        assert_refused(api.get("merchant", path), 422, "month_malformed", "month")
    assert snapshot(rt) == before
    for month in ("1970-01", "2199-12"):
        statement = ok(api.get("merchant", f"/v1/merchants/M-yiwu/statements/{month}"))
        assert statement["month"] == month


def test_the_schema_names_the_sources_a_reserve_share_answers(api: Api) -> None:
    """PayoutSettings.source was described as `merchant` or `rulebook`; the route answers
    the setting's key: merchant_payout_settings.reserve_share or payouts.reserve_share."""
    document = api.client.get("/openapi.json").json()
    described = document["components"]["schemas"]["PayoutSettings"]["properties"]["source"]
    for share in ("0.10", None):
        assert ok(put_reserve(api, share))["source"] in described["description"], described


def test_an_unknown_payout_is_payout_not_found_on_every_payout_route(api: Api, rt: Runtime) -> None:
    """The payout routes answered an id nobody issued with `instruction_not_found` naming
    `instruction_id`, a field they do not have; another kind's id was already
    `payout_not_found`, field `payout_id`, as the docs say."""
    released_demo_orders(api)
    before = snapshot(rt)
    for role in ("marketplace", "merchant"):
        assert_refused(api.get(role, "/v1/payouts/po_nope"), 404, "payout_not_found", "payout_id")
    executed = {"outcome": "executed"}
    answer = api.post("marketplace", "/v1/payouts/po_nope/execution", executed, key="k")
    assert_refused(answer, 404, "payout_not_found", "payout_id")
    answer = api.post("marketplace", "/v1/instructions/po_nope/execution", executed, key="k")
    assert_refused(answer, 404, "instruction_not_found", "instruction_id")
    assert snapshot(rt) == before


def test_every_money_out_refusal_met_here_is_listed_under_errors(api: Api) -> None:
    """docs/orders-and-ledger.md "Errors" lists the codes an integrator meets; these money
    out refusals were answered and not listed."""
    released_demo_orders(api)
    docs = (Path(__file__).parents[1] / "docs" / "orders-and-ledger.md").read_text()
    errors = docs.split("\n## Errors\n", 1)[1].split("\n## ", 1)[0]
    path = "/v1/orders/O-1/adjustments"
    refused = [
        api.post("operator", path, {**CLAWBACK, "amount": "1.0.0"}, key="a"),
        api.post("operator", path, {**CLAWBACK, "sub_order_id": "O-2-1"}, key="b"),
        put_reserve(api, "one tenth"),
    ]
    payout = ok(api.post("operator", "/v1/payouts/runs", {"merchant_ids": ["M-yiwu"]}), 201)
    early = {"outcome": "executed", "occurred_at": "2000-01-01T00:00:00+08:00"}
    payout_id = payout["results"][0]["payout_id"]
    refused.append(api.post("marketplace", f"/v1/payouts/{payout_id}/execution", early))
    codes = [answer.json()["code"] for answer in refused]
    assert codes == [
        "amount_malformed",
        "unknown_sub_order",
        "rate_malformed",
        "occurred_before_instruction",
    ]
    assert [code for code in codes if f"`{code}`" not in errors] == []


def test_a_reserve_share_of_many_decimals_is_kept_and_answered_as_written(
    api: Api, rt: Runtime
) -> None:
    """A share such as "0.0000001" (from 0 to 1, 16 characters at most) was stored as
    Python writes the Decimal, "1E-7", which the share's own parser refuses: the PUT
    answered `422 rate_malformed` naming `rate` and the value '1E-7', which nobody sent.
    It is kept, answered and carried on the payout as written."""
    released_demo_orders(api)
    for share in ("0.0000001", "0.00000000", "0.00000000000001"):
        answer = ok(put_reserve(api, share))
        assert (answer["reserve_share"], answer["source"]) == (
            share,
            "merchant_payout_settings.reserve_share",
        )
    assert ok(put_reserve(api, "0.0000001"))["reserve_share"] == "0.0000001"
    run = ok(api.post("operator", "/v1/payouts/runs", {"merchant_ids": ["M-yiwu"]}), 201)
    assert run["payouts"] == 1, run
    payouts = ok(api.get("merchant", "/v1/payouts"))["items"]
    assert [item["details"]["reserve_share"] for item in payouts] == ["0.0000001"]
    assert payouts[0]["details"]["reserved"] == "0.00"  # 5,380.00 x 1e-7 rounds to 0
