from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define

if TYPE_CHECKING:
    from ..models.statement_lines import StatementLines


T = TypeVar("T", bound="Statement")


@_attrs_define
class Statement:
    """A merchant's month (Shanghai): opening balance, what moved, closing balance.

    Attributes:
        merchant_id (str): the merchant
        month (str): YYYY-MM
        from_ (str): the month's first instant
        until (str): the month's end (exclusive)
        complete (bool): false while the month is still running
        opening_balance (str): an amount in yuan, two decimals, as a string (never a JSON number)
        lines (StatementLines): line → yuan amount moved in the month
        closing_balance (str): an amount in yuan, two decimals, as a string (never a JSON number)
        in_flight_at_close (str): an amount in yuan, two decimals, as a string (never a JSON number)
        debt_at_close (str): an amount in yuan, two decimals, as a string (never a JSON number)
    """

    merchant_id: str
    month: str
    from_: str
    until: str
    complete: bool
    opening_balance: str
    lines: StatementLines
    closing_balance: str
    in_flight_at_close: str
    debt_at_close: str

    def to_dict(self) -> dict[str, Any]:
        merchant_id = self.merchant_id

        month = self.month

        from_ = self.from_

        until = self.until

        complete = self.complete

        opening_balance = self.opening_balance

        lines = self.lines.to_dict()

        closing_balance = self.closing_balance

        in_flight_at_close = self.in_flight_at_close

        debt_at_close = self.debt_at_close

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "merchant_id": merchant_id,
                "month": month,
                "from": from_,
                "until": until,
                "complete": complete,
                "opening_balance": opening_balance,
                "lines": lines,
                "closing_balance": closing_balance,
                "in_flight_at_close": in_flight_at_close,
                "debt_at_close": debt_at_close,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.statement_lines import StatementLines  # noqa: PLC0415

        d = dict(src_dict)
        merchant_id = d.pop("merchant_id")

        month = d.pop("month")

        from_ = d.pop("from")

        until = d.pop("until")

        complete = d.pop("complete")

        opening_balance = d.pop("opening_balance")

        lines = StatementLines.from_dict(d.pop("lines"))

        closing_balance = d.pop("closing_balance")

        in_flight_at_close = d.pop("in_flight_at_close")

        debt_at_close = d.pop("debt_at_close")

        statement = cls(
            merchant_id=merchant_id,
            month=month,
            from_=from_,
            until=until,
            complete=complete,
            opening_balance=opening_balance,
            lines=lines,
            closing_balance=closing_balance,
            in_flight_at_close=in_flight_at_close,
            debt_at_close=debt_at_close,
        )

        return statement
