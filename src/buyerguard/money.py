"""Money as integer fen, and the one rounding rule.

A fen is 0.01 yuan. Amounts are plain `int` fen everywhere inside buyerguard;
they enter and leave as decimal yuan strings ("1,234.56"). Rates (0.6%, 5%)
are exact `Decimal`s, and `apply_rate` is the only place a fractional fen is
rounded — half-up, as policies.md demands (7.50 x 0.6% = 4.5 fen -> 5 fen).
Floats are refused on every path: they cannot represent 0.1 exactly.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, localcontext
from typing import NewType

from buyerguard.errors import InvalidInput

Fen = int
Rate = NewType("Rate", Decimal)

FEN_PER_YUAN = 100
_EXACT_DIGITS = 120  # a BIGINT amount times any rulebook rate fits without rounding
MAX_FEN = 2**63 - 1  # what a BIGINT column holds
_MAX_WHOLE_DIGITS = len(str(MAX_FEN // FEN_PER_YUAN))
# What `parse_yuan` accepts, for API schemas to declare (surrounding blanks are trimmed).
YUAN_TEXT_PATTERN = r"^\s*-?(\d{1,3}(,\d{3})+|\d+)(\.\d{1,2})?\s*$"
_YUAN_PATTERN = re.compile(r"^(-)?(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d{1,2}))?$", re.ASCII)
_RATE_PATTERN = re.compile(r"^\d+(?:\.\d+)?$", re.ASCII)


def _shown(text: str) -> str:
    """The caller's text for an error message, cut short: a refusal never echoes megabytes."""
    return repr(text) if len(text) <= 40 else f"{text[:40]!r}… ({len(text)} characters)"


def parse_yuan(text: object, *, field: str = "amount", allow_negative: bool = False) -> Fen:
    """Parse a yuan string such as "1,234.56", "18" or "0.05" into fen.

    Refuses JSON numbers (floats and ints alike: amounts travel as strings),
    more than two decimals, NaN/infinity spellings and, unless allowed,
    negatives.
    """
    if isinstance(text, bool) or not isinstance(text, str):
        raise InvalidInput(
            "amount_not_a_string",
            f'{field} must be a decimal string such as "18.00", not {type(text).__name__}',
            field,
        )
    candidate = text.strip()
    match = _YUAN_PATTERN.match(candidate)
    if match is None:
        if re.match(r"^-?\d[\d,]*\.\d{3,}$", candidate, re.ASCII):
            raise InvalidInput(
                "amount_too_precise", f"{field} has more than 2 decimals: {_shown(text)}", field
            )
        raise InvalidInput(
            "amount_malformed", f"{field} is not a yuan amount: {_shown(text)}", field
        )
    sign, whole, decimals = match.groups()
    whole = whole.replace(",", "").lstrip("0")
    if len(whole) > _MAX_WHOLE_DIGITS:  # refused before int(), which has a digit limit
        raise InvalidInput("amount_too_large", f"{field} is too large: {_shown(text)}", field)
    fen = int(whole or "0") * FEN_PER_YUAN + int((decimals or "0").ljust(2, "0"))
    if sign:
        fen = -fen
    if abs(fen) > MAX_FEN:
        raise InvalidInput("amount_too_large", f"{field} is too large: {_shown(text)}", field)
    if fen < 0 and not allow_negative:
        raise InvalidInput(
            "amount_negative", f"{field} must not be negative: {_shown(text)}", field
        )
    return fen


def format_fen(amount_fen: Fen, *, thousands: bool = False) -> str:
    """Render fen as a yuan string with exactly two decimals ("18.00")."""
    require_fen(amount_fen)
    sign = "-" if amount_fen < 0 else ""
    whole, cents = divmod(abs(amount_fen), FEN_PER_YUAN)
    whole_text = f"{whole:,}" if thousands else str(whole)
    return f"{sign}{whole_text}.{cents:02d}"


def require_fen(
    amount_fen: object, *, field: str = "amount_fen", allow_negative: bool = True
) -> Fen:
    """Assert that a value is an integer fen amount (bool and float refused), and with
    `allow_negative` False that it is not below 0."""
    if isinstance(amount_fen, bool) or not isinstance(amount_fen, int):
        raise InvalidInput(
            "amount_not_integer_fen", f"{field} must be integer fen, got {amount_fen!r}", field
        )
    if amount_fen < 0 and not allow_negative:
        raise InvalidInput(
            "amount_negative", f"{field} must not be negative: {format_fen(amount_fen)}", field
        )
    return amount_fen


def format_percent(rate: Decimal) -> str:
    """A rate as people read it in an explanation: "0.05" → "5%", "0.006" → "0.6%"."""
    return f"{(rate * 100).normalize():f}%"


def format_rate(rate: Decimal) -> str:
    """A rate as written, in plain digits ("0.10", "0.0000001"), as `parse_rate` reads it
    back: `str` writes a small one in exponent form ("1E-7"), which it refuses."""
    return f"{rate:f}"


def parse_rate(text: object, *, field: str = "rate") -> Rate:
    """Parse an exact decimal rate such as "0.006"; floats are refused."""
    if isinstance(text, bool) or not isinstance(text, str):
        raise InvalidInput("rate_not_a_string", f"{field} must be a decimal string", field)
    candidate = text.strip()
    if candidate.startswith("-") and _RATE_PATTERN.match(candidate[1:]):
        raise InvalidInput("rate_negative", f"{field} must not be negative: {_shown(text)}", field)
    if not _RATE_PATTERN.match(candidate):
        raise InvalidInput(
            "rate_malformed", f"{field} is not a plain decimal: {_shown(text)}", field
        )
    return Rate(Decimal(candidate))


def round_half_up(value: Decimal) -> Fen:
    """Round a fractional fen amount to whole fen, halves away from zero."""
    if not value.is_finite():
        raise InvalidInput("amount_not_finite", f"cannot round {value!r} to fen")
    with localcontext() as context:
        context.prec = _EXACT_DIGITS
        return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def apply_rate(amount_fen: Fen, rate: Rate) -> Fen:
    """`amount_fen` x `rate`, rounded half-up to the fen: the only rate helper.

    The product is computed with enough digits to be exact, so rounding
    happens once, here, and never inside the multiplication.
    """
    require_fen(amount_fen)
    with localcontext() as context:
        context.prec = _EXACT_DIGITS
        return round_half_up(Decimal(amount_fen) * rate)
