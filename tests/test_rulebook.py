"""Effective-dated rulebooks: the shipped set, validation of malformed files, and the CLI."""

from __future__ import annotations

import dataclasses
import operator
import re
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from buyerguard.cli import app
from buyerguard.errors import InvalidInput, RulebookError
from buyerguard.rulebook import (
    RULEBOOK_DIR_ENV,
    Rulebook,
    RulebookSet,
    default_rulebook_dir,
    describe_keys,
    file_key,
    load_rulebook_dir,
    parse_rulebooks,
    render_value,
    rulebook_at,
    rulebooks,
)
from buyerguard.rulebook_sections import SECTIONS
from tests.conftest import at

SHIPPED_DIR = Path(__file__).resolve().parents[1] / "rulebooks"
SHIPPED_IDS = ["baseline", "2024-02-02", "2024-03-08", "2024-09-12", "2024-09-13", "2024-10-15"]
BASELINE_NAME = "0-baseline.toml"
BASELINE = (SHIPPED_DIR / BASELINE_NAME).read_text("utf-8")
SHIPPED_DOCUMENTS = [
    (path.name, path.read_text("utf-8")) for path in sorted(SHIPPED_DIR.glob("*.toml"))
]
LATER_NAME = "2025-01-01.toml"

Documents = list[tuple[str, str]]
Loader = Callable[[Documents], RulebookSet]


def later(body: str = "", *, rulebook_id: str = "2025-01-01", effective: str = "") -> str:
    """A later rulebook's text: a header, then `body`."""
    effective = effective or "2025-01-01T00:00:00+08:00"
    return f'id = "{rulebook_id}"\neffective_from = {effective}\ntitle = "later"\n{body}'


def baseline_with(old: str, new: str) -> str:
    """The shipped baseline with exactly one occurrence of `old` replaced."""
    assert BASELINE.count(old) == 1, f"{old!r} must occur once in the baseline"
    return BASELINE.replace(old, new)


def baseline_without_line(key: str) -> str:
    """The shipped baseline without the line that sets `key`."""
    pattern = re.compile(rf"^{re.escape(key)} = .*\n", re.MULTILINE)
    assert len(pattern.findall(BASELINE)) == 1
    return pattern.sub("", BASELINE)


def baseline_without_section(section: str) -> str:
    """The shipped baseline without a whole `[section]` table."""
    pattern = re.compile(rf"^\[{re.escape(section)}\].*?(?=^\[|\Z)", re.MULTILINE | re.DOTALL)
    assert len(pattern.findall(BASELINE)) == 1
    return pattern.sub("", BASELINE)


@pytest.fixture(params=["parse_rulebooks", "load_rulebook_dir"])
def load(request: pytest.FixtureRequest, tmp_path: Path) -> Loader:
    """Both ways into the validator: text pairs, and files in a directory."""
    if request.param == "parse_rulebooks":
        return parse_rulebooks

    def from_directory(documents: Documents) -> RulebookSet:
        directory = tmp_path / "rulebooks"
        directory.mkdir()
        for name, text in documents:
            (directory / name).write_text(text, "utf-8")
        return load_rulebook_dir(directory)

    return from_directory


def refused(load: Loader, documents: Documents) -> RulebookError:
    with pytest.raises(RulebookError) as info:
        load(documents)
    return info.value


def shipped() -> RulebookSet:
    return rulebooks(SHIPPED_DIR)


def book(rulebook_id: str) -> Rulebook:
    return shipped().by_id(rulebook_id)


# --------------------------------------------------------------------------- the shipped set
def test_shipped_set_loads_in_effective_order() -> None:
    books = shipped().rulebooks
    assert [b.id for b in books] == SHIPPED_IDS
    assert [b.source for b in books] == [
        "0-baseline.toml",
        "2024-02-02.toml",
        "2024-03-08.toml",
        "2024-09-12.toml",
        "2024-09-13.toml",
        "2024-10-15.toml",
    ]
    starts = [b.effective_from for b in books]
    assert starts == sorted(starts)
    assert all(start.utcoffset() is not None for start in starts)
    for b in books[1:]:
        assert b.effective_from == at(b.id)  # each later id is its Shanghai start day
        assert b.title


def test_default_directory_is_the_shipped_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(RULEBOOK_DIR_ENV, raising=False)
    assert default_rulebook_dir().resolve() == SHIPPED_DIR
    assert [b.id for b in rulebooks().rulebooks] == SHIPPED_IDS
    assert load_rulebook_dir(SHIPPED_DIR) == parse_rulebooks(SHIPPED_DOCUMENTS)


def test_environment_variable_names_the_directory(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(RULEBOOK_DIR_ENV, str(tmp_path))
    assert default_rulebook_dir() == tmp_path


def test_baseline_effective_from() -> None:
    assert book("baseline").effective_from == at("1970-01-01T00:00:00+08:00")


@pytest.mark.parametrize(
    ("instant", "rulebook_id"),
    [
        ("1970-01-01T00:00:00+08:00", "baseline"),
        ("2000-06-01", "baseline"),
        ("2024-02-01T23:59:59+08:00", "baseline"),
        ("2024-02-01T15:59:59Z", "baseline"),
        ("2024-02-01T16:00:00Z", "2024-02-02"),
        ("2024-02-02T00:00:00+08:00", "2024-02-02"),
        ("2024-03-07T23:59:59+08:00", "2024-02-02"),
        ("2024-03-08", "2024-03-08"),
        ("2024-09-01", "2024-03-08"),
        ("2024-09-11T23:59:59+08:00", "2024-03-08"),
        ("2024-09-12T00:00:00+08:00", "2024-09-12"),
        ("2024-09-12T23:59:59+08:00", "2024-09-12"),
        ("2024-09-12T23:59:59.999999+08:00", "2024-09-12"),
        ("2024-09-13T00:00:00+08:00", "2024-09-13"),
        ("2024-09-12T16:00:00Z", "2024-09-13"),
        ("2024-10-14T23:59:59+08:00", "2024-09-13"),
        ("2024-10-15T00:00:00+08:00", "2024-10-15"),
        ("2030-01-01", "2024-10-15"),
    ],
)
def test_rulebook_at_boundaries(instant: str, rulebook_id: str) -> None:
    assert rulebook_at(at(instant), SHIPPED_DIR).id == rulebook_id
    assert shipped().at(at(instant)).id == rulebook_id


def test_no_rulebook_before_the_baseline() -> None:
    with pytest.raises(InvalidInput) as info:
        shipped().at(at("1969-12-31T23:59:59+08:00"))
    assert info.value.code == "no_rulebook_in_force"
    assert "1969-12-31T15:59:59Z" in info.value.message
    assert info.value.field is None  # an instant the caller did not name
    with pytest.raises(InvalidInput) as named:
        shipped().at(at("1969-12-31T23:59:59+08:00"), field="paid_at")
    assert (named.value.field, named.value.message) == (
        "paid_at",
        "paid_at: no rulebook is in force at 1969-12-31T15:59:59Z",
    )


def test_rulebook_at_refuses_naive_instants() -> None:
    with pytest.raises(InvalidInput) as info:
        shipped().at(datetime(2024, 9, 13))
    assert info.value.code == "instant_without_offset"


def test_unknown_id_lists_the_known_ones() -> None:
    with pytest.raises(InvalidInput) as info:
        shipped().by_id("nope")
    assert info.value.code == "unknown_rulebook"
    assert info.value.field == "id"
    for rulebook_id in SHIPPED_IDS:
        assert rulebook_id in info.value.message


# Every number of policies.md, read from the rulebook in force today (2024-10-15 on).
@pytest.mark.parametrize(
    ("attribute", "expected"),
    [
        ("orders.auto_confirm_after_signing_days", 10),
        ("listing.min_order_quantity", 1),
        # §1
        ("fees.rate", Decimal("0.006")),
        ("fees.cap_enabled", True),
        ("fees.cap_fen", 1800),
        ("fees.required_service", "buyer_protection"),
        ("fees.entrusted_goods_exempt", True),
        ("fees.refunded_before_shipment_exempt", True),
        # §2
        ("returns.no_reason_mandatory", True),
        ("returns.window_days", 7),
        ("returns.handover_days_after_approval", 7),
        ("returns.one_piece_spot_tier_required", True),
        ("returns.buyer_pays_return_shipping", True),
        (
            "returns.excluded_categories",
            ["custom_made", "digital_downloaded_or_unsealed", "periodicals_delivered"],
        ),
        # §3
        ("free_return_shipping.enabled", True),
        ("free_return_shipping.official_logistics_required", True),
        ("free_return_shipping.super_buyer_cap_fen", 20000),
        ("free_return_shipping.large_order_tier_cap_fen", 5000),
        ("free_return_shipping.default_cap_fen", 2500),
        ("free_return_shipping.large_order_min_goods_fen", 500000),
        ("free_return_shipping.large_order_tiers", ["super_factory", "powerful_merchant"]),
        ("free_return_shipping.super_buyer_min_net_paid_fen", 50000000),
        ("free_return_shipping.super_buyer_window_months", 12),
        # §4
        ("quick_refund.enabled", True),
        ("quick_refund.platform_absorbs_empty_or_wrong_return", True),
        # §5
        ("custom_compensation.enabled", True),
        ("custom_compensation.rate", Decimal("0.05")),
        ("custom_compensation.cap_fen", 300000),
        # §6
        ("liability.net_merchant_debt_against_sales", True),
        # §7
        ("merchant_relief.high_repurchase_window_days", 90),
        ("merchant_relief.high_repurchase_top_share", Decimal("0.20")),
        ("merchant_relief.high_repurchase_min_buyers", 30),
        ("merchant_relief.refund_only_subsidy_monthly_cap_fen", 50000),
        ("merchant_relief.refund_only_subsidy_monthly_cap_top_tier_fen", 100000),
        ("merchant_relief.late_shipment_subsidy_monthly_cap_fen", 30000),
        ("merchant_relief.late_shipment_subsidy_max_orders_per_month", 5),
        ("merchant_relief.green_appeal_decision_hours", 24),
        ("merchant_relief.transit_accident_cap_fen", 5000000),
        ("merchant_relief.new_merchant_guarantee_days", 90),
        # §8
        ("refund_only.before_shipment_always_allowed", True),
        ("refund_only.seller_response_hours", 36),
        ("returns.merchant_review_hours", 24),
        ("returns.picked_up_inspection_hours", 24),
        ("returns.buyer_sent_inspection_days", 7),
        # §9
        ("credit.enabled", True),
        ("credit.repayment_day_of_month", 8),
        ("credit.min_account_age_days", 180),
        ("credit.min_completed_orders", 10),
        ("credit.no_overdue_months", 12),
        ("credit.line_share_of_purchases", Decimal("0.30")),
        ("credit.purchases_window_months", 12),
        ("credit.min_line_fen", 50000),
        ("credit.max_line_fen", 20000000),
        ("credit.late_fee_daily_rate", Decimal("0.0005")),
        ("credit.collections_after_overdue_days", 30),
        # §10
        ("free_shipping.enabled", True),
        (
            "free_shipping.excluded_remote_provinces",
            ["650000", "540000", "630000", "150000", "640000", "620000"],
        ),
        ("free_shipping.price_uplift", "highest_non_remote_template_charge"),
        # §10b
        ("shipping_commitment.promise_hours_options", [24, 48, 72]),
        ("shipping_commitment.spring_festival_promise_hours", 72),
        ("shipping_commitment.honoured_as_displayed_since", date(2022, 7, 6)),
        ("shipping_commitment.late_compensation_rate", Decimal("0.05")),
        ("shipping_commitment.late_compensation_min_fen", 500),
        ("shipping_commitment.late_compensation_max_fen", 10000),
        # §11
        ("arrival.enabled", True),
        ("arrival.history_window_days", 30),
        ("arrival.promise_confidence", Decimal("0.90")),
        ("arrival.min_route_samples", 20),
        ("arrival.max_label_offset_days", 2),
        (
            "arrival.backoff_levels",
            [
                "product_route",
                "merchant_origin_city_to_province",
                "origin_city_to_province",
                "origin_province_to_province",
                "carrier",
            ],
        ),
        ("arrival.sign_rate_hours", 72),
        ("arrival.sign_rate_window_days", 30),
        ("arrival.badge_min_orders", 30),
        ("arrival.badge_exposure_multiplier", Decimal("2")),
        ("arrival.badge_evaluation_interval_hours", 24),
        ("arrival.promise_rebuild_interval_hours", 24),
        # §12
        ("traffic.four_services_traffic_share", Decimal("0.75")),
        (
            "traffic.four_services",
            ["credit", "free_shipping", "estimated_arrival", "trust_based_returns"],
        ),
    ],
)
def test_policy_numbers_are_in_the_current_rulebook(attribute: str, expected: object) -> None:
    value = operator.attrgetter(attribute)(book("2024-10-15"))
    assert value == expected
    assert type(value) is type(expected)


def test_optional_categories_and_triggers_cover_the_policy() -> None:
    current = book("2024-10-15")
    assert len(current.returns.optional_categories) == 5
    assert "custom_delivery_delay" in current.custom_compensation.triggers
    assert {"size_mismatch", "misprinted", "damaged", "defective"} <= set(
        current.custom_compensation.triggers
    )
    assert "false_shipment" in current.liability.merchant_bears
    assert "quick_refund_advance" in current.liability.platform_bears


# Keys that change along the timeline, with their value in each shipped rulebook.
TIMELINE: dict[str, list[object]] = {
    "listing.min_order_quantity": [2, 1, 1, 1, 1, 1],
    "returns.no_reason_mandatory": [False, True, True, True, True, True],
    "returns.one_piece_spot_tier_required": [False, True, True, True, True, True],
    "credit.enabled": [False, False, True, True, True, True],
    "free_shipping.enabled": [False, False, True, True, True, True],
    "arrival.enabled": [False, False, True, True, True, True],
    "free_return_shipping.enabled": [False, False, False, True, True, True],
    "custom_compensation.enabled": [False, False, False, True, True, True],
    "fees.cap_enabled": [False, False, False, False, True, True],
    "fees.required_service": [*["anxingou"] * 4, *["buyer_protection"] * 2],
    "quick_refund.enabled": [False, False, False, False, False, True],
}


@pytest.mark.parametrize("key", sorted(TIMELINE))
def test_overrides_along_the_timeline(key: str) -> None:
    assert [b.flat()[key] for b in shipped().rulebooks] == TIMELINE[key]


@pytest.mark.parametrize(
    ("older", "newer", "changed"),
    [
        (
            "baseline",
            "2024-02-02",
            {
                "listing.min_order_quantity",
                "returns.no_reason_mandatory",
                "returns.one_piece_spot_tier_required",
            },
        ),
        (
            "2024-02-02",
            "2024-03-08",
            {
                "credit.enabled",
                "free_shipping.enabled",
                "arrival.enabled",
                "trust_based_returns.enabled",
            },
        ),
        (
            "2024-03-08",
            "2024-09-12",
            {"free_return_shipping.enabled", "custom_compensation.enabled"},
        ),
        (
            "2024-09-12",
            "2024-09-13",
            {"fees.cap_enabled", "fees.required_service", "fees.services_moved_over"},
        ),
        ("2024-09-13", "2024-10-15", {"quick_refund.enabled"}),
    ],
)
def test_each_rulebook_changes_only_what_it_announces(
    older: str, newer: str, changed: set[str]
) -> None:
    left, right = book(older).flat(), book(newer).flat()
    assert left.keys() == right.keys()
    assert {key for key in left if left[key] != right[key]} == changed


def test_unchanged_keys_are_inherited_from_the_baseline() -> None:
    first, last = book("baseline"), book("2024-10-15")
    assert last.fees.rate == first.fees.rate == Decimal("0.006")
    assert last.fees.cap_fen == first.fees.cap_fen == 1800
    assert last.credit == dataclasses.replace(first.credit, enabled=True)
    assert last.shipping_commitment == first.shipping_commitment
    assert last.traffic == first.traffic


def test_anxingou_era_rules() -> None:
    anxingou = book("2024-09-12")
    assert anxingou.fees.cap_enabled is False
    assert anxingou.fees.required_service == "anxingou"
    assert anxingou.fees.rate == Decimal("0.006")


def test_every_key_is_documented_and_present_in_every_rulebook() -> None:
    described = list(describe_keys())
    keys = [key for key, _ in described]
    assert len(keys) == len(set(keys))
    assert all(doc.strip() for _, doc in described)
    assert {key.split(".")[0] for key in keys} == set(SECTIONS)
    assert not [key for key in keys if key.endswith("_fen")]
    for b in shipped().rulebooks:
        assert list(b.flat()) == sorted(keys)


def test_money_keys_are_written_in_yuan_and_read_in_fen() -> None:
    assert file_key("cap_fen") == "cap_yuan"
    assert file_key("rate") == "rate"
    current = book("2024-10-15")
    assert current.flat()["fees.cap_yuan"] == "18.00"
    assert current.fees.cap_fen == 1800
    assert current.flat()["free_return_shipping.super_buyer_min_net_paid_yuan"] == "500000.00"


def test_render_value() -> None:
    assert render_value(True) == "true"
    assert render_value(False) == "false"
    assert render_value("18.00") == '"18.00"'
    assert render_value(7) == "7"
    assert render_value([24, 48]) == "[24, 48]"
    assert render_value(["a", True]) == '["a", true]'
    assert render_value(date(2022, 7, 6)) == "2022-07-06"


@given(st.permutations(SHIPPED_DOCUMENTS))
def test_file_order_does_not_matter(documents: Documents) -> None:
    loaded = parse_rulebooks(list(documents))
    assert [b.id for b in loaded.rulebooks] == SHIPPED_IDS
    assert loaded == shipped()
    assert [b.flat() for b in loaded.rulebooks] == [b.flat() for b in shipped().rulebooks]


def test_a_later_file_may_give_only_its_header(load: Loader) -> None:
    loaded = load([(BASELINE_NAME, BASELINE), (LATER_NAME, later())])
    base, new = loaded.rulebooks
    assert new.id == "2025-01-01"
    assert new.flat() == base.flat()
    assert new.fees == base.fees


def test_a_summary_header_is_allowed(load: Loader) -> None:
    text = later().replace('title = "later"', 'title = "later"\nsummary = "why"')
    assert load([(BASELINE_NAME, BASELINE), (LATER_NAME, text)]).rulebooks[1].title == "later"


# --------------------------------------------------------------------------- malformed
def test_unknown_section(load: Loader) -> None:
    error = refused(load, [(BASELINE_NAME, BASELINE), (LATER_NAME, later("[bogus]\nx = 1\n"))])
    assert error.code == "rulebook_unknown_key"
    assert error.field == "bogus"
    assert LATER_NAME in error.message and "bogus" in error.message


def test_unknown_top_level_key(load: Loader) -> None:
    error = refused(load, [(BASELINE_NAME, "oops = 1\n" + BASELINE)])
    assert error.code == "rulebook_unknown_key"
    assert error.field == "oops"
    assert BASELINE_NAME in error.message


@pytest.mark.parametrize(
    ("section", "key"),
    [("fees", "bogus"), ("fees", "cap_fen"), ("fees", "rate_percent"), ("credit", "enable")],
)
def test_unknown_key_in_a_later_file(load: Loader, section: str, key: str) -> None:
    error = refused(
        load, [(BASELINE_NAME, BASELINE), (LATER_NAME, later(f"[{section}]\n{key} = 1\n"))]
    )
    assert error.code == "rulebook_unknown_key"
    assert error.field == f"{section}.{key}"
    assert LATER_NAME in error.message
    assert f"{section}.{key}" in error.message
    assert error.status_code == 500


def test_unknown_key_in_the_baseline(load: Loader) -> None:
    error = refused(load, [(BASELINE_NAME, baseline_with("[fees]", "[fees]\nbogus = 1"))])
    assert error.code == "rulebook_unknown_key"
    assert error.field == "fees.bogus"
    assert f"{BASELINE_NAME}: unknown key fees.bogus" in error.message


@pytest.mark.parametrize(
    ("line", "key"),
    [
        ("window_days = 7\n", "returns.window_days"),
        ('rate = "0.006"\n', "fees.rate"),
        ('cap_yuan = "18.00"                            # not applied', "fees.cap_yuan"),
        ("repayment_day_of_month = 8\n", "credit.repayment_day_of_month"),
        (
            "honoured_as_displayed_since = 2022-07-06\n",
            "shipping_commitment.honoured_as_displayed_since",
        ),
    ],
)
def test_missing_key_in_the_baseline(load: Loader, line: str, key: str) -> None:
    error = refused(load, [(BASELINE_NAME, baseline_with(line, f"# removed: {line}"))])
    assert error.code == "rulebook_missing_key"
    assert error.field == key
    assert error.message == f"{BASELINE_NAME}: missing key {key}"


def test_missing_section_in_the_baseline(load: Loader) -> None:
    error = refused(load, [(BASELINE_NAME, baseline_without_section("quick_refund"))])
    assert error.code == "rulebook_missing_key"
    assert error.field == "quick_refund.enabled"
    assert BASELINE_NAME in error.message


def test_the_earliest_file_must_give_every_key(load: Loader) -> None:
    early = later(
        "[fees]\ncap_enabled = true\n", rulebook_id="early", effective="1960-01-01T00:00:00+08:00"
    )
    error = refused(load, [(BASELINE_NAME, BASELINE), ("early.toml", early)])
    assert error.code == "rulebook_missing_key"
    assert "early.toml" in error.message


@pytest.mark.parametrize(
    ("old", "new", "key"),
    [
        ("window_days = 7\n", 'window_days = "7"\n', "returns.window_days"),
        ("window_days = 7\n", "window_days = 7.0\n", "returns.window_days"),
        ("window_days = 7\n", "window_days = true\n", "returns.window_days"),
        ("min_order_quantity = 2", "min_order_quantity = [2]", "listing.min_order_quantity"),
        ("\ncap_enabled = false\n", "\ncap_enabled = 0\n", "fees.cap_enabled"),
        ("\ncap_enabled = false\n", '\ncap_enabled = "false"\n', "fees.cap_enabled"),
        ('required_service = "anxingou"', "required_service = 1", "fees.required_service"),
        ('rate = "0.006"', "rate = 0.006", "fees.rate"),
        ('rate = "0.006"', 'rate = "0.6%"', "fees.rate"),
        ('rate = "0.006"', 'rate = "NaN"', "fees.rate"),
        ('rate = "0.006"', 'rate = "-0.006"', "fees.rate"),
        ('cap_yuan = "18.00"', "cap_yuan = 18", "fees.cap_yuan"),
        ('cap_yuan = "18.00"', "cap_yuan = 18.00", "fees.cap_yuan"),
        ('cap_yuan = "18.00"', 'cap_yuan = "18.000"', "fees.cap_yuan"),
        ('cap_yuan = "18.00"', 'cap_yuan = "-18.00"', "fees.cap_yuan"),
        ('cap_yuan = "18.00"', 'cap_yuan = "18 yuan"', "fees.cap_yuan"),
        (
            'late_fee_daily_rate = "0.0005"',
            "late_fee_daily_rate = 0.0005",
            "credit.late_fee_daily_rate",
        ),
        (
            "promise_hours_options = [24, 48, 72]",
            'promise_hours_options = [24, "48", 72]',
            "shipping_commitment.promise_hours_options",
        ),
        (
            "promise_hours_options = [24, 48, 72]",
            "promise_hours_options = [24, true]",
            "shipping_commitment.promise_hours_options",
        ),
        (
            "promise_hours_options = [24, 48, 72]",
            "promise_hours_options = 24",
            "shipping_commitment.promise_hours_options",
        ),
        (
            'large_order_tiers = ["super_factory", "powerful_merchant"]',
            'large_order_tiers = "super_factory"',
            "free_return_shipping.large_order_tiers",
        ),
        (
            "honoured_as_displayed_since = 2022-07-06",
            'honoured_as_displayed_since = "2022-07-06"',
            "shipping_commitment.honoured_as_displayed_since",
        ),
        (
            "honoured_as_displayed_since = 2022-07-06",
            "honoured_as_displayed_since = 2022-07-06T00:00:00+08:00",
            "shipping_commitment.honoured_as_displayed_since",
        ),
    ],
)
def test_wrong_types_in_the_baseline(load: Loader, old: str, new: str, key: str) -> None:
    error = refused(load, [(BASELINE_NAME, baseline_with(old, new))])
    assert error.code == "rulebook_bad_value"
    assert f"{BASELINE_NAME}: {key}" in error.message
    assert error.field is not None and error.field.endswith(key)


@pytest.mark.parametrize(
    ("old", "new", "key"),
    [
        ('rate = "0.006"', "rate = 0.006", "fees.rate"),
        ("\ncap_enabled = false\n", "\ncap_enabled = 0\n", "fees.cap_enabled"),
        ('cap_yuan = "18.00"', "cap_yuan = 18", "fees.cap_yuan"),
    ],
)
def test_bad_value_field_is_the_bare_key(load: Loader, old: str, new: str, key: str) -> None:
    error = refused(load, [(BASELINE_NAME, baseline_with(old, new))])
    assert error.code == "rulebook_bad_value"
    assert error.field == key


@pytest.mark.parametrize(
    ("body", "key"),
    [
        ("[fees]\nrate = 0.006\n", "fees.rate"),
        ("[fees]\ncap_yuan = 18\n", "fees.cap_yuan"),
        ('[fees]\ncap_yuan = "18.001"\n', "fees.cap_yuan"),
        ("[quick_refund]\nenabled = 1\n", "quick_refund.enabled"),
        ('[returns]\nwindow_days = "7"\n', "returns.window_days"),
    ],
)
def test_wrong_type_in_a_later_file_names_that_file(load: Loader, body: str, key: str) -> None:
    error = refused(load, [(BASELINE_NAME, BASELINE), (LATER_NAME, later(body))])
    assert error.code == "rulebook_bad_value"
    assert f"{LATER_NAME}: {key}" in error.message


@pytest.mark.parametrize(
    ("body", "key"),
    [
        ('[payouts]\nreserve_share = "10"\n', "payouts.reserve_share"),  # 10 %, written as 10
        ('[payouts]\nreserve_share = "1.01"\n', "payouts.reserve_share"),
        ("[payouts]\nrun_minutes_after_midnight = 1440\n", "payouts.run_minutes_after_midnight"),
        ("[payouts]\nrun_minutes_after_midnight = -1\n", "payouts.run_minutes_after_midnight"),
        ("[payouts]\nreserve_window_days = -1\n", "payouts.reserve_window_days"),
        ("[payouts]\nreserve_window_days = 999999999\n", "payouts.reserve_window_days"),
        ("[instructions]\noverdue_after_hours = 0\n", "instructions.overdue_after_hours"),
        (
            "[instructions]\noverdue_after_hours = 999999999999\n",
            "instructions.overdue_after_hours",
        ),
        ("[arrival]\nsign_rate_hours = 0\n", "arrival.sign_rate_hours"),
        ("[arrival]\nsign_rate_window_days = 0\n", "arrival.sign_rate_window_days"),
        ("[arrival]\nbadge_min_orders = 0\n", "arrival.badge_min_orders"),
        (
            "[arrival]\nbadge_evaluation_interval_hours = -24\n",
            "arrival.badge_evaluation_interval_hours",
        ),
    ],
)
def test_a_money_out_or_badge_number_out_of_its_range_is_refused(
    load: Loader, body: str, key: str
) -> None:
    """The loader checked only types: a reserve share of "10" (10 % meant) kept every
    merchant's whole payable back, silently; an overdue time past what a datetime holds
    failed every instruction (OverflowError, a 500); a badge interval of 0 or less failed
    the upkeep at the start of every scheduler tick, so no timer fired; a sign-rate window,
    threshold or minimum of 0 failed each daily badge evaluation; a run minute outside the
    day moved the payout run to another day. Each is refused when the rulebooks load,
    naming the file, the key and its range."""
    error = refused(load, [(BASELINE_NAME, BASELINE), (LATER_NAME, later(body))])
    assert (error.code, error.field) == ("rulebook_bad_value", key), error
    assert f"{LATER_NAME}: {key} must be " in error.message, error.message


@pytest.mark.parametrize(
    "key",
    [
        "fees.rate",
        "custom_compensation.rate",
        "merchant_relief.high_repurchase_top_share",
        "credit.line_share_of_purchases",
        "credit.late_fee_daily_rate",
        "shipping_commitment.late_compensation_rate",
        "traffic.four_services_traffic_share",
        "arrival.promise_confidence",
        "arrival.running_late_max_signed_ratio",
    ],
)
@pytest.mark.parametrize("value", ["1.01", "6"])
def test_a_share_above_one_is_refused(load: Loader, key: str, value: str) -> None:
    """Only the payout reserve's share was bounded: a fee rate of "6" (6 % meant) loaded
    and charged a merchant six times the goods (a 100.00 sub-order cost 600.00, leaving a
    debt), a compensation rate of "1.01" paid the buyer more than the goods, a promise
    confidence above 1 no day can reach. Every share, rate and ratio is refused above 1,
    naming the file, the key and its range; 1 itself still loads."""
    section, name = key.split(".")
    error = refused(
        load, [(BASELINE_NAME, BASELINE), (LATER_NAME, later(f'[{section}]\n{name} = "{value}"\n'))]
    )
    assert (error.code, error.field) == ("rulebook_bad_value", key), error
    assert f"{LATER_NAME}: {key} must be from 0 to 1, got {value}" in error.message, error.message
    at_most = later(f'[{section}]\n{name} = "1"\n')
    books = parse_rulebooks([(BASELINE_NAME, BASELINE), (LATER_NAME, at_most)])
    assert books.by_id("2025-01-01").flat()[key] == "1"


@pytest.mark.parametrize("options", ["[24, 2147483647]", "[0, 24]", "[-24]"])
def test_a_shipping_promise_option_outside_1_hour_to_a_century_is_refused(
    load: Loader, options: str
) -> None:
    """The items of a list of numbers escaped the range check: a promise option of
    2,147,483,647 hours loaded, a spot product listed it, and every payment of that product
    failed with a 500 (OverflowError adding it to the payment instant); one of 0 or -24
    hours loaded as a promise no product may make. Each option is now 1 hour to a century."""
    body = f"[shipping_commitment]\npromise_hours_options = {options}\n"
    error = refused(load, [(BASELINE_NAME, BASELINE), (LATER_NAME, later(body))])
    key = "shipping_commitment.promise_hours_options"
    assert (error.code, error.field) == ("rulebook_bad_value", key), error
    assert f"{LATER_NAME}: {key} must be from 1 to 878400, got " in error.message, error.message


@pytest.mark.parametrize("day", [0, 32])
def test_a_day_of_the_month_outside_1_to_31_is_refused(load: Loader, day: int) -> None:
    """A repayment day of 0 or 32 loaded as if a month had it; it is refused, 1 to 31."""
    body = f"[credit]\nrepayment_day_of_month = {day}\n"
    error = refused(load, [(BASELINE_NAME, BASELINE), (LATER_NAME, later(body))])
    assert (error.code, error.field) == ("rulebook_bad_value", "credit.repayment_day_of_month")
    assert "must be from 1 to 31" in error.message, error.message


def test_a_section_must_be_a_table(load: Loader) -> None:
    error = refused(load, [(BASELINE_NAME, BASELINE), (LATER_NAME, later("fees = 1\n"))])
    assert error.code == "rulebook_bad_value"
    assert error.field == "fees"
    assert LATER_NAME in error.message


@pytest.mark.parametrize(
    ("old", "new", "code", "field"),
    [
        (
            "effective_from = 1970-01-01T00:00:00+08:00\n",
            "",
            "rulebook_missing_key",
            "effective_from",
        ),
        (
            "1970-01-01T00:00:00+08:00",
            "1970-01-01T00:00:00",
            "rulebook_bad_value",
            "effective_from",
        ),
        ("1970-01-01T00:00:00+08:00", "1970-01-01", "rulebook_bad_value", "effective_from"),
        # Outside the instants buyerguard accepts: refused as `instant_out_of_range [instant]`
        # without the file or the key.
        (
            "1970-01-01T00:00:00+08:00",
            "9999-01-01T00:00:00Z",
            "rulebook_bad_value",
            "effective_from",
        ),
        (
            "1970-01-01T00:00:00+08:00",
            "1800-01-01T00:00:00Z",
            "rulebook_bad_value",
            "effective_from",
        ),
        (
            "1970-01-01T00:00:00+08:00",
            '"1970-01-01T00:00:00+08:00"',
            "rulebook_bad_value",
            "effective_from",
        ),
        ('id = "baseline"\n', "", "rulebook_missing_key", "id"),
        ('id = "baseline"', 'id = ""', "rulebook_bad_value", "id"),
        ('id = "baseline"', "id = 1", "rulebook_bad_value", "id"),
        (
            'title = "Baseline (rules in force before the 2024 programme)"\n',
            "",
            "rulebook_missing_key",
            "title",
        ),
        (
            'title = "Baseline (rules in force before the 2024 programme)"',
            "title = 1",
            "rulebook_bad_value",
            "title",
        ),
    ],
)
def test_bad_header(load: Loader, old: str, new: str, code: str, field: str) -> None:
    error = refused(load, [(BASELINE_NAME, baseline_with(old, new))])
    assert error.code == code
    assert error.field == field
    assert BASELINE_NAME in error.message and field in error.message


def test_duplicate_id(load: Loader) -> None:
    error = refused(load, [(BASELINE_NAME, BASELINE), (LATER_NAME, later(rulebook_id="baseline"))])
    assert error.code == "rulebook_duplicate_id"
    assert error.field == "id"
    assert LATER_NAME in error.message and BASELINE_NAME in error.message


def test_duplicate_effective_from_even_in_other_offsets(load: Loader) -> None:
    first = later(rulebook_id="a")
    second = later(rulebook_id="b", effective="2024-12-31T16:00:00Z")
    error = refused(load, [(BASELINE_NAME, BASELINE), ("a.toml", first), ("b.toml", second)])
    assert error.code == "rulebook_duplicate_effective_from"
    assert error.field == "effective_from"


@pytest.mark.parametrize(
    "text",
    [BASELINE + "\nfoo = = 1\n", BASELINE + '\n[fees]\nrate = "0.006"\n', "id = 'x\n"],
)
def test_toml_syntax_error(load: Loader, text: str) -> None:
    error = refused(load, [(BASELINE_NAME, BASELINE), (LATER_NAME, text)])
    assert error.code == "rulebook_malformed"
    assert error.message.startswith(f"{LATER_NAME}: ")


def test_no_documents() -> None:
    with pytest.raises(RulebookError) as info:
        parse_rulebooks([])
    assert info.value.code == "rulebook_missing"


def test_empty_directory(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("not a rulebook", "utf-8")
    with pytest.raises(RulebookError) as info:
        load_rulebook_dir(tmp_path)
    assert info.value.code == "rulebook_missing"


def test_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(RulebookError) as info:
        load_rulebook_dir(tmp_path / "absent")
    assert info.value.code == "rulebook_missing"
    assert info.value.field == "rulebooks"
    assert "absent" in info.value.message


# --------------------------------------------------------------------------- CLI
runner = CliRunner()


def copy_shipped(directory: Path) -> Path:
    directory.mkdir(exist_ok=True)
    for name, text in SHIPPED_DOCUMENTS:
        (directory / name).write_text(text, "utf-8")
    return directory


def test_cli_show_prints_the_rulebook_in_force() -> None:
    result = runner.invoke(app, ["rulebook", "show", "--at", "2024-09-01"])
    assert result.exit_code == 0, result.output
    assert "2024-03-08" in result.stdout
    assert "Buyer experience plan" in result.stdout
    assert "fees.cap_yuan" in result.stdout
    assert '"18.00"' in result.stdout
    assert result.stderr == ""


def test_cli_show_at_a_boundary() -> None:
    result = runner.invoke(app, ["rulebook", "show", "--at", "2024-09-13T00:00:00+08:00"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0].startswith("2024-09-13")


def test_cli_show_from_a_directory(tmp_path: Path) -> None:
    directory = copy_shipped(tmp_path / "books")
    (directory / LATER_NAME).write_text(later('[fees]\ncap_yuan = "20.00"\n'), "utf-8")
    result = runner.invoke(
        app, ["rulebook", "show", "--at", "2025-06-01", "--rulebooks", str(directory)]
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("2025-01-01")
    assert '"20.00"' in result.stdout


def test_cli_diff_lists_the_changed_keys() -> None:
    result = runner.invoke(app, ["rulebook", "diff", "2024-09-12", "2024-09-13"])
    assert result.exit_code == 0, result.output
    assert "fees.cap_enabled" in result.stdout
    assert "fees.required_service" in result.stdout
    assert '"buyer_protection"' in result.stdout
    assert "fees.rate" not in result.stdout
    assert "quick_refund.enabled" not in result.stdout


def test_cli_diff_of_identical_rulebooks() -> None:
    result = runner.invoke(app, ["rulebook", "diff", "2024-09-13", "2024-09-13"])
    assert result.exit_code == 0, result.output
    assert "set every key alike" in result.stdout


def one_error_line(stderr: str) -> str:
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    return lines[0]


def test_cli_diff_of_an_unknown_rulebook_exits_2() -> None:
    result = runner.invoke(app, ["rulebook", "diff", "nope", "2024-09-13"])
    assert result.exit_code == 2
    assert one_error_line(result.stderr).startswith("error: unknown_rulebook")
    assert result.stdout == ""


def test_cli_show_with_a_malformed_directory_exits_2(tmp_path: Path) -> None:
    directory = copy_shipped(tmp_path / "books")
    (directory / LATER_NAME).write_text(later("[fees]\nbogus = 1\n"), "utf-8")
    result = runner.invoke(app, ["rulebook", "show", "--rulebooks", str(directory)])
    assert result.exit_code == 2
    line = one_error_line(result.stderr)
    assert line.startswith("error: rulebook_unknown_key")
    assert LATER_NAME in line and "fees.bogus" in line


def test_cli_show_with_a_bad_value_exits_2(tmp_path: Path) -> None:
    directory = copy_shipped(tmp_path / "books")
    (directory / BASELINE_NAME).write_text(baseline_with('rate = "0.006"', "rate = 0.006"))
    result = runner.invoke(
        app, ["rulebook", "show", "--at", "2024-09-01", "--rulebooks", str(directory)]
    )
    assert result.exit_code == 2
    line = one_error_line(result.stderr)
    assert line.startswith("error: rulebook_bad_value")
    assert BASELINE_NAME in line and "fees.rate" in line


def test_cli_show_with_an_empty_directory_exits_2(tmp_path: Path) -> None:
    result = runner.invoke(app, ["rulebook", "show", "--rulebooks", str(tmp_path)])
    assert result.exit_code == 2
    assert one_error_line(result.stderr).startswith("error: rulebook_missing")


def _not_utf8(path: Path) -> None:
    path.write_bytes(BASELINE.encode("utf-16"))  # an editor's "Unicode" save


def _a_directory(path: Path) -> None:
    path.mkdir()


def _dangling_link(path: Path) -> None:
    path.symlink_to(path.parent / "gone.toml")


@pytest.mark.parametrize(
    ("make", "code", "says"),
    [
        (_not_utf8, "rulebook_malformed", "not UTF-8 text"),
        (_a_directory, "rulebook_unreadable", "cannot be read"),
        (_dangling_link, "rulebook_unreadable", "cannot be read"),
    ],
)
def test_a_file_that_cannot_be_read_as_text_is_refused_naming_it(
    tmp_path: Path, make: Callable[[Path], None], code: str, says: str
) -> None:
    """A rulebook saved in UTF-16, a directory named `x.toml` or a link to a file gone
    stopped `serve`, `rulebook show` and every command with a traceback (UnicodeDecodeError,
    IsADirectoryError, FileNotFoundError; exit 1); each is now a refusal naming the file."""
    directory = copy_shipped(tmp_path / "books")
    make(directory / LATER_NAME)
    with pytest.raises(RulebookError) as info:
        load_rulebook_dir(directory)
    assert (info.value.code, info.value.field) == (code, None), info.value
    assert info.value.message.startswith(f"{LATER_NAME}: {says}"), info.value.message
    result = runner.invoke(app, ["rulebook", "show", "--rulebooks", str(directory)])
    assert result.exit_code == 2, result.output
    assert one_error_line(result.stderr).startswith(f"error: {code}")
    assert result.stdout == ""


@pytest.mark.parametrize("instant", ["garbage", "2024-13-01", "2024-09-01T12:00:00"])
def test_cli_show_refuses_a_bad_instant(instant: str) -> None:
    result = runner.invoke(app, ["rulebook", "show", "--at", instant])
    assert result.exit_code == 2
    assert one_error_line(result.stderr).startswith("error: instant_")
    assert result.stdout == ""


def test_cli_show_before_the_baseline_exits_2() -> None:
    result = runner.invoke(app, ["rulebook", "show", "--at", "1969-06-01"])
    assert result.exit_code == 2
    assert one_error_line(result.stderr).startswith("error: no_rulebook_in_force")


@pytest.mark.parametrize(
    ("body", "key", "bounds"),
    [
        ("[returns]\nwindow_days = -7\n", "returns.window_days", "from 0 to 36600"),
        ("[orders]\nfact_settling_seconds = -60\n", "orders.fact_settling_seconds", "from 0 to"),
        (
            "[refund_only]\nseller_response_hours = 999999999\n",
            "refund_only.seller_response_hours",
            "from 0 to 878400",
        ),
        (
            "[free_return_shipping]\nsuper_buyer_window_months = 5000\n",
            "free_return_shipping.super_buyer_window_months",
            "from 0 to 1200",
        ),
        ("[arrival]\nmin_route_samples = -1\n", "arrival.min_route_samples", "at least 0"),
        ("[arrival]\nlost_after_days = -1\n", "arrival.lost_after_days", "from 0 to 36600"),
    ],
)
def test_any_number_below_zero_or_any_span_past_a_century_is_refused(
    load: Loader, body: str, key: str, bounds: str
) -> None:
    """The class of the ranges above, for every key that declares none: a negative number
    (a window of -7 days, a settling time of -60 s) loaded and ran, and a span no instant
    can add (999,999,999 hours) loaded and failed the first command that added it. Each is
    refused as the rulebooks load, naming the file, the key and the range."""
    error = refused(load, [(BASELINE_NAME, BASELINE), (LATER_NAME, later(body))])
    assert (error.code, error.field) == ("rulebook_bad_value", key), error
    assert f"{LATER_NAME}: {key} must be {bounds}" in error.message, error.message
