from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.balance import Balance


T = TypeVar("T", bound="AccountAnswer")


@_attrs_define
class AccountAnswer:
    """One account; a split account named without its part adds up its parts.

    Attributes:
        account_id (str): e.g. merchant:M1:payable, platform:fee_revenue
        balance (str): an amount in yuan, two decimals, as a string (never a JSON number)
        debits_posted (str): an amount in yuan, two decimals, as a string (never a JSON number)
        credits_posted (str): an amount in yuan, two decimals, as a string (never a JSON number)
        debits_pending (str): an amount in yuan, two decimals, as a string (never a JSON number)
        credits_pending (str): an amount in yuan, two decimals, as a string (never a JSON number)
        parts (list[Balance] | None | Unset): the parts of a split account, when it is one
    """

    account_id: str
    balance: str
    debits_posted: str
    credits_posted: str
    debits_pending: str
    credits_pending: str
    parts: list[Balance] | None | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        account_id = self.account_id

        balance = self.balance

        debits_posted = self.debits_posted

        credits_posted = self.credits_posted

        debits_pending = self.debits_pending

        credits_pending = self.credits_pending

        parts: list[dict[str, Any]] | None | Unset
        if isinstance(self.parts, Unset):
            parts = UNSET
        elif isinstance(self.parts, list):
            parts = []
            for parts_type_0_item_data in self.parts:
                parts_type_0_item = parts_type_0_item_data.to_dict()
                parts.append(parts_type_0_item)

        else:
            parts = self.parts

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "account_id": account_id,
                "balance": balance,
                "debits_posted": debits_posted,
                "credits_posted": credits_posted,
                "debits_pending": debits_pending,
                "credits_pending": credits_pending,
            }
        )
        if parts is not UNSET:
            field_dict["parts"] = parts

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.balance import Balance  # noqa: PLC0415

        d = dict(src_dict)
        account_id = d.pop("account_id")

        balance = d.pop("balance")

        debits_posted = d.pop("debits_posted")

        credits_posted = d.pop("credits_posted")

        debits_pending = d.pop("debits_pending")

        credits_pending = d.pop("credits_pending")

        def _parse_parts(data: object) -> list[Balance] | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                parts_type_0 = []
                _parts_type_0 = data
                for parts_type_0_item_data in _parts_type_0:
                    parts_type_0_item = Balance.from_dict(parts_type_0_item_data)

                    parts_type_0.append(parts_type_0_item)

                return parts_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[Balance] | None | Unset, data)

        parts = _parse_parts(d.pop("parts", UNSET))

        account_answer = cls(
            account_id=account_id,
            balance=balance,
            debits_posted=debits_posted,
            credits_posted=credits_posted,
            debits_pending=debits_pending,
            credits_pending=credits_pending,
            parts=parts,
        )

        return account_answer
