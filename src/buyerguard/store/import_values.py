"""How each value of an import file is read, as DuckDB SQL over its raw columns: text
(whole floats as digits, the blanks around it dropped), flags, instants (with a zone, in
the accepted range), regions and what is derived from them. shipment_import.py checks
the results row by row."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from buyerguard.clock import EARLIEST_INSTANT, LATEST_INSTANT
from buyerguard.domain.regions import PROVINCE_PREFIXES
from buyerguard.errors import InvalidInput

# An ISO-8601 instant as `clock.parse_instant` takes one: a four-digit year, a time to the
# minute (seconds and a fraction optional) and an offset below 24 hours; a bare date is not
# an instant here (the API reads it as midnight in Shanghai, DuckDB's cast in UTC).
_ISO_INSTANT = (
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ]([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]+)?)?"
    r"(Z|z|[+-]([01][0-9]|2[0-3])(:?[0-5][0-9])?)"
)
_EARLIEST_SQL = f"TIMESTAMPTZ '{EARLIEST_INSTANT.isoformat()}'"
_LATEST_SQL = f"TIMESTAMPTZ '{LATEST_INSTANT.isoformat()}'"


def region_sql(column: str) -> str:
    """SQL truth of 'column is a GB/T 2260 or ISO 3166-2 code' (domain.regions' rule)."""
    prefixes = ", ".join(f"'{prefix}'" for prefix in sorted(PROVINCE_PREFIXES))
    return (
        f"(regexp_full_match({column}, '[0-9]{{6}}') AND left({column}, 2) IN ({prefixes}))"
        f" OR regexp_full_match({column}, '[A-Z]{{2}}-[A-Z0-9]{{1,3}}')"
    )


def city_sql(region: str, explicit: str) -> str:
    """An ISO 3166-2 origin's city as the file names it; a GB/T 2260 origin's from its code,
    as the engine's orders and every lookup derive it (a city given beside it is ignored, as
    the provinces are: stored, it keyed routes no lookup reaches)."""
    return f"CASE WHEN {region} LIKE '%-%' THEN {explicit} ELSE left({region}, 4) || '00' END"


def province_sql(region: str) -> str:
    return f"CASE WHEN {region} LIKE '%-%' THEN {region} ELSE left({region}, 2) || '0000' END"


def instant_sql(path: Path, column: str, kind: pa.DataType) -> str:
    """SQL for `column` as a UTC instant (NULL where a string is not one), or a refusal."""
    if pa.types.is_dictionary(kind):
        kind = kind.value_type
    if pa.types.is_timestamp(kind):
        if kind.tz is None:
            raise InvalidInput(
                "import_timestamp_without_zone",
                f"{path.name}: {column} is {kind} without a time zone: write the instants"
                " with one (UTC, say), or as ISO-8601 strings with an offset; nothing imported",
                "file",
            )
        if kind.unit == "ns":  # floor to the microsecond (a cast would round)
            ns = f"epoch_ns({column})"
            return f"make_timestamptz(({ns} - (({ns} % 1000) + 1000) % 1000) // 1000)"
        return f"CAST({column} AS TIMESTAMPTZ)"
    if pa.types.is_null(kind):
        return "NULL::TIMESTAMPTZ"
    if pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_string_view(kind):
        return (
            f"CASE WHEN regexp_full_match(trim({column}), '{_ISO_INSTANT}') "
            f"THEN TRY_CAST(trim({column}) AS TIMESTAMPTZ) END"
        )
    raise InvalidInput(
        "import_timestamp_type",
        f"{path.name}: {column} is {kind}, neither a timestamp with a time zone nor"
        " ISO-8601 strings with an offset; nothing imported",
        "file",
    )


def as_text_sql(column: str, kind: pa.DataType) -> str:
    """SQL for a column read as text: a float column's whole numbers as digits and NaN as
    blank (pandas types an integer column with a blank as float64: 2.0 is parcel 2, and an
    order id 1.0 is order `1`, not `1.0`, which no order of the engine is called); any other
    value as it reads, checked below."""
    text = f"CAST({column} AS VARCHAR)"
    if pa.types.is_dictionary(kind):
        kind = kind.value_type
    if not pa.types.is_floating(kind):
        return text
    whole = f"isfinite({column}) AND {column} = trunc({column}) AND abs({column}) < 1e18"
    return (
        f"CASE WHEN isnan({column}) THEN NULL"
        f" WHEN {whole} THEN CAST(CAST({column} AS BIGINT) AS VARCHAR) ELSE {text} END"
    )


def bounded(name: str) -> str:
    """`name` (from `{name}_any`) where it lies in the instants buyerguard accepts, else NULL
    (refused as out of range below: year 1, 10000, an epoch in the wrong unit)."""
    value = f"{name}_any"
    return (
        f"CASE WHEN {value} >= {_EARLIEST_SQL} AND {value} < {_LATEST_SQL} THEN {value} END"
        f" AS {name}"
    )


def trimmed(text: str) -> str:
    """Text without the blanks around it (an export's padding: no key the API takes holds a
    blank, and `" M-yiwu "` kept apart from `M-yiwu` lost its parcels)."""
    return rf"regexp_replace({text}, '^\s+|\s+$', '', 'g')"


def flag_sql(column: str) -> str:
    """true/false (t/f, 1/0, yes/no); blank is false; anything else NULL, refused below
    (a typo such as "ture" must not read as false)."""
    text = f"NULLIF(trim(CAST({column} AS VARCHAR)), '')"
    return f"CASE WHEN {text} IS NULL THEN false ELSE TRY_CAST({text} AS BOOLEAN) END"
