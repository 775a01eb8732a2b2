"""Money as integer fen: parsing, formatting and the one half-up rounding rule."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Context, Decimal, localcontext

import pytest
from hypothesis import given
from hypothesis import strategies as st

from buyerguard.errors import BuyerguardError, InvalidInput
from buyerguard.money import (
    MAX_FEN,
    Rate,
    apply_rate,
    format_fen,
    format_percent,
    parse_rate,
    parse_yuan,
    require_fen,
    round_half_up,
)

# Realistic bounds: 10^15 fen is ten trillion yuan, far above any order or ledger total.
AMOUNTS = st.integers(min_value=-(10**15), max_value=10**15)
NON_NEGATIVE_AMOUNTS = st.integers(min_value=0, max_value=10**15)
RATES = st.decimals(min_value=0, max_value=1, places=6, allow_nan=False, allow_infinity=False)


WIDE = Context(prec=120)


def refused(call: object, *args: object, **kwargs: object) -> BuyerguardError:
    """Call and return the refusal (an InvalidInput), failing when nothing is raised."""
    assert callable(call)
    with pytest.raises(InvalidInput) as info:
        call(*args, **kwargs)
    return info.value


def exact_half_up(amount_fen: int, rate: Decimal) -> int:
    """The reference result, computed with ample precision."""
    with localcontext() as ctx:
        ctx.prec = 100
        return int((Decimal(amount_fen) * rate).quantize(Decimal(1), rounding=ROUND_HALF_UP))


# --------------------------------------------------------------------------- parse_yuan
@pytest.mark.parametrize(
    ("text", "fen"),
    [
        ("1,234.56", 123456),
        ("18", 1800),
        ("18.00", 1800),
        ("18.0", 1800),
        ("18.5", 1850),
        ("0.05", 5),
        ("0.5", 50),
        ("0", 0),
        ("0.00", 0),
        ("1,000", 100000),
        ("1,000,000.01", 100000001),
        ("12,345,678.90", 1234567890),
        ("999", 99900),
        ("1234567.89", 123456789),  # separators are optional
        ("  18.00  ", 1800),  # surrounding whitespace is trimmed
        ("\t7.50\n", 750),
        ("-0.00", 0),  # negative zero is zero, not a negative amount
    ],
)
def test_parse_yuan_accepts_decimal_strings(text: str, fen: int) -> None:
    assert parse_yuan(text) == fen


@pytest.mark.parametrize(
    ("text", "fen"),
    [("-1.00", -100), ("-1,234.56", -123456), ("-0.01", -1), ("-18", -1800)],
)
def test_parse_yuan_accepts_negatives_when_allowed(text: str, fen: int) -> None:
    assert parse_yuan(text, allow_negative=True) == fen


@pytest.mark.parametrize("value", [18.0, 0.1, 18, 0, True, False, None, b"18.00", ["18.00"]])
def test_parse_yuan_refuses_non_strings(value: object) -> None:
    error = refused(parse_yuan, value, field="paid")
    assert error.code == "amount_not_a_string"
    assert error.field == "paid"
    assert type(value).__name__ in error.message


@pytest.mark.parametrize("text", ["1.234", "0.001", "18.000", "1,234.567", "-1.234"])
def test_parse_yuan_refuses_more_than_two_decimals(text: str) -> None:
    error = refused(parse_yuan, text, allow_negative=True)
    assert error.code == "amount_too_precise"
    assert error.field == "amount"


@pytest.mark.parametrize(
    "text",
    [
        "NaN",
        "nan",
        "inf",
        "-inf",
        "Infinity",
        "1e3",
        "1E3",
        "",
        " ",
        "1,23.00",
        "12,34",
        "1234,567",
        "1,2345",
        ",123",
        "1,",
        "+1.00",
        "1.",
        ".5",
        "1.2.3",
        "1 234.00",
        "18 yuan",
        "¥18.00",
        "0x10",
        "--1",
        "-",
        "1_000",
    ],
)
def test_parse_yuan_refuses_malformed_text(text: str) -> None:
    error = refused(parse_yuan, text, allow_negative=True)
    assert error.code == "amount_malformed"


@pytest.mark.parametrize("text", ["-1.00", "-0.01", "-1,234.56"])
def test_parse_yuan_refuses_negatives_by_default(text: str) -> None:
    error = refused(parse_yuan, text, field="refund")
    assert error.code == "amount_negative"
    assert error.field == "refund"
    assert text in error.message


def test_refusal_is_a_422_with_a_dict_body() -> None:
    error = refused(parse_yuan, 18.0)
    assert error.status_code == 422
    assert error.as_dict() == {
        "code": "amount_not_a_string",
        "message": error.message,
        "field": "amount",
    }


# --------------------------------------------------------------------------- format_fen
@pytest.mark.parametrize(
    ("fen", "plain", "grouped"),
    [
        (0, "0.00", "0.00"),
        (5, "0.05", "0.05"),
        (50, "0.50", "0.50"),
        (1800, "18.00", "18.00"),
        (123456, "1234.56", "1,234.56"),
        (100000001, "1000000.01", "1,000,000.01"),
        (-5, "-0.05", "-0.05"),
        (-123456, "-1234.56", "-1,234.56"),
    ],
)
def test_format_fen(fen: int, plain: str, grouped: str) -> None:
    assert format_fen(fen) == plain
    assert format_fen(fen, thousands=True) == grouped


@pytest.mark.parametrize("value", [1.0, True, Decimal("1"), "100"])
def test_format_fen_refuses_non_integers(value: object) -> None:
    error = refused(format_fen, value)
    assert error.code == "amount_not_integer_fen"


@given(NON_NEGATIVE_AMOUNTS, st.booleans())
def test_round_trip_of_non_negative_amounts(fen: int, thousands: bool) -> None:
    text = format_fen(fen, thousands=thousands)
    assert parse_yuan(text) == fen
    assert text.count(".") == 1 and len(text.split(".")[1]) == 2


@given(AMOUNTS, st.booleans())
def test_round_trip_of_signed_amounts(fen: int, thousands: bool) -> None:
    assert parse_yuan(format_fen(fen, thousands=thousands), allow_negative=True) == fen


@given(st.integers(min_value=1, max_value=10**15))
def test_negative_amounts_round_trip_only_when_allowed(fen: int) -> None:
    with pytest.raises(InvalidInput) as info:
        parse_yuan(format_fen(-fen))
    assert info.value.code == "amount_negative"


@given(st.integers(min_value=-MAX_FEN, max_value=MAX_FEN))
def test_round_trip_of_any_bigint(fen: int) -> None:
    assert parse_yuan(format_fen(fen), allow_negative=True) == fen
    assert parse_yuan(format_fen(fen, thousands=True), allow_negative=True) == fen


@given(st.integers(min_value=MAX_FEN + 1))
def test_amounts_beyond_a_bigint_are_refused(fen: int) -> None:
    assert refused(parse_yuan, format_fen(fen)).code == "amount_too_large"


@given(st.integers(min_value=-MAX_FEN, max_value=MAX_FEN))
def test_apply_rate_is_exact_for_any_bigint(fen: int) -> None:
    rate = Rate(Decimal("0.0005"))
    exact = (Decimal(fen) * rate).quantize(Decimal(1), rounding=ROUND_HALF_UP, context=WIDE)
    assert apply_rate(fen, rate) == int(exact)


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_every_float_is_refused(value: float) -> None:
    with pytest.raises(InvalidInput) as info:
        parse_yuan(value)
    assert info.value.code == "amount_not_a_string"


@given(st.text(alphabet="0123456789,.-eE+ ", max_size=12))
def test_parse_yuan_either_parses_or_refuses_with_a_known_code(text: str) -> None:
    try:
        fen = parse_yuan(text, allow_negative=True)
    except InvalidInput as error:
        assert error.code in {"amount_malformed", "amount_too_precise"}
    else:
        assert isinstance(fen, int) and not isinstance(fen, bool)
        assert parse_yuan(format_fen(fen), allow_negative=True) == fen


# --------------------------------------------------------------------------- require_fen
@pytest.mark.parametrize("value", [0, 1, -1, 10**20])
def test_require_fen_accepts_ints(value: int) -> None:
    assert require_fen(value) == value


@pytest.mark.parametrize("value", [1.0, 0.0, True, False, None, "1", Decimal("1")])
def test_require_fen_refuses_float_bool_and_others(value: object) -> None:
    error = refused(require_fen, value, field="goods_paid_fen")
    assert error.code == "amount_not_integer_fen"
    assert error.field == "goods_paid_fen"


# --------------------------------------------------------------------------- parse_rate
@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("0.006", Decimal("0.006")),
        ("0.05", Decimal("0.05")),
        ("0.0005", Decimal("0.0005")),
        ("2", Decimal("2")),
        ("0", Decimal("0")),
        (" 0.90 ", Decimal("0.90")),
    ],
)
def test_parse_rate_is_exact(text: str, value: Decimal) -> None:
    rate = parse_rate(text)
    assert isinstance(rate, Decimal)
    assert rate == value


def test_parse_rate_keeps_digits_a_float_would_lose() -> None:
    assert parse_rate("0.1") * 3 == Decimal("0.3")


@pytest.mark.parametrize("value", [0.006, 0.0, 1, True, None])
def test_parse_rate_refuses_non_strings(value: object) -> None:
    error = refused(parse_rate, value, field="fees.rate")
    assert error.code == "rate_not_a_string"
    assert error.field == "fees.rate"


@pytest.mark.parametrize("text", ["NaN", "nan", "sNaN", "inf", "-Infinity", "", "abc", "0.0.6"])
def test_parse_rate_refuses_malformed_and_non_finite(text: str) -> None:
    assert refused(parse_rate, text).code == "rate_malformed"


@pytest.mark.parametrize("text", ["-0.006", "-1", "-0.0000001"])
def test_parse_rate_refuses_negatives(text: str) -> None:
    assert refused(parse_rate, text).code == "rate_negative"


# --------------------------------------------------------------------------- rounding
@pytest.mark.parametrize(
    ("amount_fen", "rate", "expected"),
    [
        (750, "0.006", 5),  # 4.5 fen -> 5: half-up, not banker's rounding
        (250, "0.006", 2),  # 1.5 -> 2
        (1250, "0.006", 8),  # 7.5 -> 8 (half-even would give 8 too)
        (4750, "0.006", 29),  # 28.5 -> 29 (half-even would give 28)
        (83, "0.006", 0),  # 0.498
        (84, "0.006", 1),  # 0.504
        (100000, "0.006", 600),
        (1000000, "0.006", 6000),
        (1000000, "0.05", 50000),
        (0, "0.006", 0),
        (12345, "0", 0),
        (12345, "1", 12345),
        (-750, "0.006", -5),  # halves go away from zero
        (-749, "0.006", -4),
    ],
)
def test_apply_rate_rounds_half_up(amount_fen: int, rate: str, expected: int) -> None:
    assert apply_rate(amount_fen, parse_rate(rate)) == expected


@pytest.mark.parametrize("amount", [7.5, True, "750"])
def test_apply_rate_refuses_non_integer_amounts(amount: object) -> None:
    error = refused(apply_rate, amount, Rate(Decimal("0.006")))
    assert error.code == "amount_not_integer_fen"


@pytest.mark.parametrize(
    ("value", "expected"),
    [("4.5", 5), ("4.4999", 4), ("-4.5", -5), ("0.5", 1), ("-0.5", -1), ("2.5", 3), ("3", 3)],
)
def test_round_half_up(value: str, expected: int) -> None:
    assert round_half_up(Decimal(value)) == expected


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity"])
def test_round_half_up_refuses_non_finite(value: str) -> None:
    assert refused(round_half_up, Decimal(value)).code == "amount_not_finite"


@given(AMOUNTS, RATES)
def test_apply_rate_equals_exact_half_up(amount_fen: int, rate: Decimal) -> None:
    assert apply_rate(amount_fen, Rate(rate)) == exact_half_up(amount_fen, rate)


@given(AMOUNTS, RATES)
def test_apply_rate_is_within_half_a_fen_of_the_true_product(
    amount_fen: int, rate: Decimal
) -> None:
    result = apply_rate(amount_fen, Rate(rate))
    with localcontext() as ctx:
        ctx.prec = 100
        exact = Decimal(amount_fen) * rate
        error = Decimal(result) - exact
    assert abs(error) <= Decimal("0.5")
    if abs(error) == Decimal("0.5"):
        # On an exact half the result moves away from zero.
        assert abs(result) > abs(exact)


@given(NON_NEGATIVE_AMOUNTS, NON_NEGATIVE_AMOUNTS, RATES)
def test_apply_rate_is_monotonic(first: int, second: int, rate: Decimal) -> None:
    low, high = sorted((first, second))
    assert apply_rate(low, Rate(rate)) <= apply_rate(high, Rate(rate))


@given(AMOUNTS, RATES)
def test_apply_rate_is_symmetric_in_sign(amount_fen: int, rate: Decimal) -> None:
    assert apply_rate(-amount_fen, Rate(rate)) == -apply_rate(amount_fen, Rate(rate))


@given(st.integers(min_value=0, max_value=10**12).map(lambda n: 2 * n + 1))
def test_exact_halves_round_up(odd: int) -> None:
    # odd x 0.5 always ends in exactly .5 fen.
    assert apply_rate(odd, Rate(Decimal("0.5"))) == (odd + 1) // 2


@pytest.mark.parametrize("text", ["１８.００", "١٨.٠٠", "१८"])
def test_parse_yuan_refuses_non_ascii_digits(text: str) -> None:
    assert refused(parse_yuan, text).code == "amount_malformed"


@given(st.integers(min_value=-MAX_FEN, max_value=MAX_FEN))
def test_require_fen_refuses_negatives_only_when_asked(fen: int) -> None:
    assert require_fen(fen, field="goods") == fen
    if fen >= 0:
        assert require_fen(fen, field="goods", allow_negative=False) == fen
        return
    with pytest.raises(InvalidInput) as info:
        require_fen(fen, field="goods", allow_negative=False)
    assert (info.value.code, info.value.field) == ("amount_negative", "goods")
    assert format_fen(fen) in info.value.message


@pytest.mark.parametrize(
    ("rate", "shown"),
    [("0.05", "5%"), ("0.006", "0.6%"), ("1", "100%"), ("0", "0%"), ("0.125", "12.5%")],
)
def test_format_percent(rate: str, shown: str) -> None:
    assert format_percent(parse_rate(rate)) == shown
