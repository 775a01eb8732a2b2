"""Integer key codes for the shipment history's string keys, and the codebook behind them.

The batch jobs group hundreds of millions of parcels by product, merchant,
region and carrier. Grouping and joining on strings costs about a third more
than on integers at 1688 scale (docs/benchmarks.md, fifth round), so every
stored shipment row carries, beside each key string, a 32-bit code for it,
assigned once when the row enters the history. The jobs group by the codes
and decode only their small results through the codebook.

The codebook maps, per dimension, value → code, codes dense from 0 in the
order values were first recorded (a new batch's new values in string order).
It only grows: a value keeps its code for ever, so files written at
different times share one code space. The five region columns share the
"region" dimension, so an origin city and a destination province are codes
of one kind. Null values have a null code.

As a relation (`to_table`, a Parquet file, a DuckDB table) the codebook is
(dimension, code, value); the SQL jobs join to it by (dimension, code).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from buyerguard.errors import InvalidInput

# key column → (code column, dimension)
KEY_CODE_COLUMNS: Mapping[str, tuple[str, str]] = MappingProxyType(
    {
        "product_id": ("product_code", "product"),
        "merchant_id": ("merchant_code", "merchant"),
        "industry": ("industry_code", "industry"),
        "carrier": ("carrier_code", "carrier"),
        "origin_region": ("origin_region_code", "region"),
        "destination_region": ("destination_region_code", "region"),
        "origin_city": ("origin_city_code", "region"),
        "origin_province": ("origin_province_code", "region"),
        "destination_province": ("destination_province_code", "region"),
    }
)
DIMENSIONS: tuple[str, ...] = tuple(dict.fromkeys(dim for _, dim in KEY_CODE_COLUMNS.values()))
CODE_TYPE = pa.int32()
MAX_CODES = 2**31 - 1

CODEBOOK_SCHEMA: pa.Schema = pa.schema(
    [
        pa.field("dimension", pa.string(), nullable=False),
        pa.field("code", CODE_TYPE, nullable=False),
        pa.field("value", pa.string(), nullable=False),
    ]
)


@dataclass(frozen=True, eq=False)
class KeyCodebook:
    """value → code per dimension: `values[dimension][code]` is the value.

    Immutable: `extended` and `encode` return a new codebook when they add
    values, and this very one when they add none.
    """

    values: Mapping[str, pa.StringArray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        unknown = set(self.values) - set(DIMENSIONS)
        if unknown:
            raise InvalidInput(
                "codebook_dimension_unknown", f"unknown dimensions {sorted(unknown)}", "dimension"
            )

    def dictionary(self, dimension: str) -> pa.StringArray:
        """The dimension's values, in code order."""
        found = self.values.get(dimension)
        return found if found is not None else pa.array([], pa.string())

    def size(self, dimension: str) -> int:
        return len(self.dictionary(dimension))

    def extended(self, table: pa.Table) -> KeyCodebook:
        """This codebook plus every key value of `table` it does not know yet (or itself)."""
        if table.num_rows == 0:  # hashing a million known values to learn nothing is dear
            return self
        grown: dict[str, pa.StringArray] = dict(self.values)
        changed = False
        for dimension in DIMENSIONS:
            seen = [
                pc.unique(table.column(name).combine_chunks().cast(pa.string()))
                for name, (_, dim) in KEY_CODE_COLUMNS.items()
                if dim == dimension and name in table.column_names
            ]
            if not seen:
                continue
            known = self.dictionary(dimension)
            candidates = pc.unique(pa.concat_arrays(seen)).drop_null()
            new = candidates.filter(pc.invert(pc.is_in(candidates, value_set=known)))
            if len(new) == 0:
                continue
            new = new.take(pc.sort_indices(new))
            if len(known) + len(new) > MAX_CODES:
                raise InvalidInput(
                    "codebook_full", f"more than {MAX_CODES} {dimension} values", dimension
                )
            grown[dimension] = pa.concat_arrays([known, new])
            changed = True
        return KeyCodebook(grown) if changed else self

    def encode(self, table: pa.Table) -> tuple[pa.Table, KeyCodebook]:
        """`table` with a code column for each key column, and the codebook that covers it.

        Existing code columns are replaced, so a row is always coded by the
        codebook returned. Key columns absent from `table` are left out.
        """
        book = self.extended(table)
        for name, (code_name, dimension) in KEY_CODE_COLUMNS.items():
            if name not in table.column_names:
                continue
            codes = (
                pc.index_in(
                    table.column(name).cast(pa.string()), value_set=book.dictionary(dimension)
                ).cast(CODE_TYPE)
                if table.num_rows
                else pa.chunked_array([], CODE_TYPE)
            )
            if code_name in table.column_names:
                table = table.set_column(table.schema.get_field_index(code_name), code_name, codes)
            else:
                table = table.append_column(pa.field(code_name, CODE_TYPE), codes)
        return table, book

    def to_table(self) -> pa.Table:
        """The codebook as a (dimension, code, value) relation, in dimension and code order."""
        dimensions, codes, values = [], [], []
        for dimension in DIMENSIONS:
            dictionary = self.dictionary(dimension)
            dimensions.append(pa.repeat(pa.scalar(dimension), len(dictionary)))
            codes.append(pa.array(range(len(dictionary)), CODE_TYPE))
            values.append(dictionary)
        return pa.table(
            [
                pa.concat_arrays(dimensions).cast(pa.string()),
                pa.concat_arrays(codes),
                pa.concat_arrays(values),
            ],
            schema=CODEBOOK_SCHEMA,
        )

    @classmethod
    def from_table(cls, table: pa.Table) -> KeyCodebook:
        """Read a (dimension, code, value) relation back; codes must run 0..n−1 per dimension."""
        missing = [name for name in CODEBOOK_SCHEMA.names if name not in table.column_names]
        if missing:
            raise InvalidInput("codebook_columns", f"codebook lacks columns {missing}", "codebook")
        table = table.select(CODEBOOK_SCHEMA.names).cast(CODEBOOK_SCHEMA)
        values: dict[str, pa.StringArray] = {}
        for dimension in pc.unique(table.column("dimension")).to_pylist():
            rows = table.filter(pc.equal(table.column("dimension"), dimension))
            rows = rows.take(pc.sort_indices(rows.column("code")))
            codes = rows.column("code").combine_chunks()
            dictionary = rows.column("value").combine_chunks()
            if not np.array_equal(codes.to_numpy(), np.arange(len(codes))):
                raise InvalidInput(
                    "codebook_codes", f"{dimension} codes are not 0..{len(codes) - 1}", "code"
                )
            if len(pc.unique(dictionary)) != len(dictionary):
                raise InvalidInput("codebook_values", f"a {dimension} value has two codes", "value")
            values[str(dimension)] = dictionary
        return cls(values)
