"""Effective-dated rulebooks: every number of the programme, as data.

Rulebooks are TOML files in `rulebooks/`. The earliest (the baseline) must
give every key; each later file names its `effective_from` instant and
overrides only the keys that changed, inheriting the rest from the file before
it. Files are validated on load: an unknown key, a missing key or a value of
the wrong kind is an error naming the file and the key.

Conventions of the files:
- money is written in yuan as a decimal string under a key ending `_yuan`
  ("18.00") and read here, as integer fen, under the same name ending `_fen`;
- rates and shares are decimal strings ("0.006"), read as exact `Decimal`s;
- counts and durations are integers whose key names the unit (`_days`).

A decision cites the rules it used by their file key (`fees.rate`), plus the
rulebook id, so any amount can be traced back to the line that set it.
"""

from __future__ import annotations

import tomllib
import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

from buyerguard.clock import ensure_utc, format_instant
from buyerguard.errors import BuyerguardError, InvalidInput, RulebookError
from buyerguard.money import parse_rate, parse_yuan
from buyerguard.rulebook_arrival import ArrivalRules
from buyerguard.rulebook_keys import LONGEST_SPAN, RATE
from buyerguard.rulebook_sections import (
    SECTIONS,
    CaseRules,
    CreditRules,
    CustomCompensationRules,
    FeeRules,
    FreeReturnShippingRules,
    FreeShippingRules,
    InstructionRules,
    LiabilityRules,
    ListingRules,
    MerchantReliefRules,
    OrderRules,
    PayoutRules,
    QuickRefundRules,
    RefundOnlyRules,
    ReturnRules,
    ShippingCommitmentRules,
    TrafficRules,
    TrustBasedReturnsRules,
)
from buyerguard.settings import ENV_PREFIX, settings

RULEBOOK_DIR_ENV = f"{ENV_PREFIX}RULEBOOKS_DIR"


HEADER_KEYS = {"id", "effective_from", "title", "summary"}


@dataclass(frozen=True)
class Rulebook:
    """The complete set of rules in force from `effective_from` on."""

    id: str
    effective_from: datetime
    title: str
    source: str
    orders: OrderRules
    listing: ListingRules
    fees: FeeRules
    returns: ReturnRules
    free_return_shipping: FreeReturnShippingRules
    quick_refund: QuickRefundRules
    custom_compensation: CustomCompensationRules
    liability: LiabilityRules
    merchant_relief: MerchantReliefRules
    refund_only: RefundOnlyRules
    trust_based_returns: TrustBasedReturnsRules
    credit: CreditRules
    free_shipping: FreeShippingRules
    shipping_commitment: ShippingCommitmentRules
    arrival: ArrivalRules
    traffic: TrafficRules
    cases: CaseRules
    payouts: PayoutRules
    instructions: InstructionRules
    raw: Mapping[str, Mapping[str, object]] = field(repr=False, compare=False)

    def flat(self) -> dict[str, object]:
        """Every key as written in the files (`fees.cap_yuan`), for show and diff."""
        return {
            f"{section}.{key}": value
            for section, values in sorted(self.raw.items())
            for key, value in sorted(values.items())
        }


def file_key(attribute: str) -> str:
    """The key a dataclass attribute is written under in TOML (`cap_fen` -> `cap_yuan`)."""
    return attribute[: -len("_fen")] + "_yuan" if attribute.endswith("_fen") else attribute


def describe_keys() -> Iterator[tuple[str, str]]:
    """(`section.key`, documentation) for every key, in file order."""
    for section, cls in SECTIONS.items():
        for spec in fields(cls):
            yield f"{section}.{file_key(spec.name)}", str(spec.metadata["doc"])


# --------------------------------------------------------------------------- loading
def _convert(
    value: object, annotation: Any, kind: str, source: str, key: str, attribute: str
) -> object:
    """Turn one TOML value into the typed value the dataclass holds."""
    where = f"{source}: {key}"
    try:
        if attribute.endswith("_fen"):
            return parse_yuan(value, field=where)
        if kind == RATE:
            return parse_rate(value, field=where)
    except BuyerguardError as exc:
        raise RulebookError("rulebook_bad_value", exc.message, key) from exc
    origin = typing.get_origin(annotation)
    if origin is list:
        (item_type,) = typing.get_args(annotation)
        if not isinstance(value, list) or not all(
            isinstance(item, item_type) and not isinstance(item, bool) for item in value
        ):
            raise RulebookError(
                "rulebook_bad_value", f"{where} must be a list of {item_type.__name__}", key
            )
        return list(value)
    if annotation is date:
        if isinstance(value, date) and not isinstance(value, datetime):
            return value
        raise RulebookError("rulebook_bad_value", f"{where} must be a date (YYYY-MM-DD)", key)
    expected = {"int": int, "bool": bool, "str": str}[annotation.__name__]
    if type(value) is not expected:
        raise RulebookError(
            "rulebook_bad_value", f"{where} must be {expected.__name__}, got {value!r}", key
        )
    return value


def _build_section(section: str, values: Mapping[str, object], source: str) -> object:
    cls = SECTIONS[section]
    hints = typing.get_type_hints(cls)
    kwargs: dict[str, object] = {}
    for spec in fields(cls):
        key = file_key(spec.name)
        where = f"{section}.{key}"
        if key not in values:
            raise RulebookError("rulebook_missing_key", f"{source}: missing key {where}", where)
        kwargs[spec.name] = _convert(
            values[key],
            hints[spec.name],
            str(spec.metadata["kind"]),
            source,
            where,
            spec.name,
        )
        _check_range(kwargs[spec.name], spec.metadata, source, where, spec.name)
    return cls(**kwargs)


def _check_range(
    value: object, metadata: Mapping[str, Any], source: str, key: str, attribute: str
) -> None:
    """A number outside its key's range is refused as the rulebooks load: a share of "10"
    (10 % meant) or an overdue time no instant can add is no rule. Every number is at least
    0 and every duration at most a century unless its key declares otherwise (`least`,
    `most`), and so is every number of a list; an amount in yuan is bounded where it is
    read (`parse_yuan`)."""
    if isinstance(value, list):  # a list of numbers: each item is in the key's range
        for item in value:
            _check_range(item, metadata, source, key, attribute)
        return
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        return
    least, most = metadata.get("least"), metadata.get("most")
    if least is None:
        least = 0
    if most is None:
        unit = next((unit for unit in LONGEST_SPAN if attribute.endswith(unit)), None)
        most = None if unit is None else LONGEST_SPAN[unit]
    if value >= least and (most is None or value <= most):
        return
    bounds = f"from {least} to {most}" if most is not None else f"at least {least}"
    raise RulebookError("rulebook_bad_value", f"{source}: {key} must be {bounds}, got {value}", key)


def _check_known_keys(document: Mapping[str, object], source: str) -> None:
    for key, value in document.items():
        if key in HEADER_KEYS:
            continue
        if key not in SECTIONS:
            raise RulebookError("rulebook_unknown_key", f"{source}: unknown section {key}", key)
        if not isinstance(value, dict):
            raise RulebookError("rulebook_bad_value", f"{source}: {key} must be a table", key)
        known = {file_key(spec.name) for spec in fields(SECTIONS[key])}
        for sub_key in value:
            if sub_key not in known:
                where = f"{key}.{sub_key}"
                raise RulebookError("rulebook_unknown_key", f"{source}: unknown key {where}", where)


def _header(document: Mapping[str, object], source: str) -> tuple[str, datetime, str]:
    for key in ("id", "effective_from", "title"):
        if key not in document:
            raise RulebookError("rulebook_missing_key", f"{source}: missing key {key}", key)
    rulebook_id, effective, title = document["id"], document["effective_from"], document["title"]
    if not isinstance(rulebook_id, str) or not rulebook_id:
        raise RulebookError("rulebook_bad_value", f"{source}: id must be a string", "id")
    if not isinstance(title, str):
        raise RulebookError("rulebook_bad_value", f"{source}: title must be a string", "title")
    if not isinstance(effective, datetime) or effective.tzinfo is None:
        raise RulebookError(
            "rulebook_bad_value",
            f"{source}: effective_from must be a TOML datetime with offset",
            "effective_from",
        )
    try:
        return rulebook_id, ensure_utc(effective, field="effective_from"), title
    except InvalidInput as exc:  # before 1900 or from 2200 on
        raise RulebookError("rulebook_bad_value", f"{source}: {exc.message}", exc.field) from None


@dataclass(frozen=True)
class RulebookSet:
    """All rulebooks of a directory, oldest first."""

    rulebooks: tuple[Rulebook, ...]

    def at(self, instant: datetime, *, field: str | None = None) -> Rulebook:
        """The rulebook in force at `instant`; `field`, the caller's name for it (`paid_at`,
        `as_of`, ...), is the refusal's field when none is in force."""
        instant = ensure_utc(instant, field=field or "instant")
        in_force = [book for book in self.rulebooks if book.effective_from <= instant]
        if not in_force:
            raise InvalidInput(
                "no_rulebook_in_force",
                (f"{field}: " if field else "")
                + f"no rulebook is in force at {format_instant(instant)}",
                field,
            )
        return in_force[-1]

    def by_id(self, rulebook_id: str) -> Rulebook:
        for book in self.rulebooks:
            if book.id == rulebook_id:
                return book
        known = ", ".join(book.id for book in self.rulebooks)
        raise InvalidInput(
            "unknown_rulebook", f"no rulebook {rulebook_id!r} (known: {known})", "id"
        )


def parse_rulebooks(documents: list[tuple[str, str]]) -> RulebookSet:
    """Validate and chain (source name, TOML text) pairs into a `RulebookSet`."""
    parsed: list[tuple[str, datetime, str, str, dict[str, Any]]] = []
    for source, text in documents:
        try:
            document = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise RulebookError("rulebook_malformed", f"{source}: {exc}", None) from exc
        rulebook_id, effective, title = _header(document, source)
        _check_known_keys(document, source)
        parsed.append((source, effective, rulebook_id, title, document))
    if not parsed:
        raise RulebookError("rulebook_missing", "no rulebook files found", None)
    parsed.sort(key=lambda item: item[1])
    seen: dict[str, str] = {}
    merged: dict[str, dict[str, object]] = {}
    books: list[Rulebook] = []
    for source, effective, rulebook_id, title, document in parsed:
        if rulebook_id in seen:
            raise RulebookError(
                "rulebook_duplicate_id",
                f"{source}: id {rulebook_id} already used by {seen[rulebook_id]}",
                "id",
            )
        seen[rulebook_id] = source
        if books and books[-1].effective_from == effective:
            raise RulebookError(
                "rulebook_duplicate_effective_from",
                f"{source}: effective_from equals that of {books[-1].source}",
                "effective_from",
            )
        for section in SECTIONS:
            merged.setdefault(section, {}).update(document.get(section, {}))
        sections = {name: _build_section(name, merged[name], source) for name in SECTIONS}
        raw = {name: dict(values) for name, values in merged.items()}
        books.append(
            Rulebook(
                id=rulebook_id,
                effective_from=effective,
                title=title,
                source=source,
                raw=raw,
                **sections,  # type: ignore[arg-type]
            )
        )
    return RulebookSet(tuple(books))


def default_rulebook_dir() -> Path:
    """`$BUYERGUARD_RULEBOOKS_DIR`, else the repository's `rulebooks/`."""
    configured = settings().rulebooks_dir
    if configured is not None:
        return configured
    beside_source = Path(__file__).resolve().parents[2] / "rulebooks"
    return beside_source if beside_source.is_dir() else Path.cwd() / "rulebooks"


def load_rulebook_dir(directory: Path) -> RulebookSet:
    """Load every `*.toml` of a directory."""
    if not directory.is_dir():
        raise RulebookError(
            "rulebook_missing", f"rulebook directory not found: {directory}", "rulebooks"
        )
    documents = [(path.name, _read_text(path)) for path in sorted(directory.glob("*.toml"))]
    return parse_rulebooks(documents)


def _read_text(path: Path) -> str:
    """A rulebook file's text; one that is no UTF-8 text, or no readable file (a directory
    named `x.toml`, a link to a file gone), is refused naming it, not a traceback."""
    try:
        return path.read_text("utf-8")
    except UnicodeDecodeError as exc:
        message = f"{path.name}: not UTF-8 text (byte {exc.start}): save it as UTF-8"
        raise RulebookError("rulebook_malformed", message, None) from None
    except OSError as exc:
        message = f"{path.name}: cannot be read ({exc.strerror or type(exc).__name__})"
        raise RulebookError("rulebook_unreadable", message, None) from None


@lru_cache(maxsize=8)
def _cached(directory: str) -> RulebookSet:
    return load_rulebook_dir(Path(directory))


def rulebooks(directory: Path | None = None) -> RulebookSet:
    """The loaded rulebooks (cached per directory)."""
    return _cached(str(directory or default_rulebook_dir()))


def rulebook_at(
    instant: datetime, directory: Path | None = None, *, field: str | None = None
) -> Rulebook:
    """The rulebook in force at `instant` (`field`: as `RulebookSet.at`)."""
    return rulebooks(directory).at(instant, field=field)


def render_value(value: object) -> str:
    """A rulebook value as written in the files."""
    if isinstance(value, list):
        return "[" + ", ".join(render_value(item) for item in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    return str(value)
