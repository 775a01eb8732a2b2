from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define

T = TypeVar("T", bound="Balance")


@_attrs_define
class Balance:
    """An account's balance (credit minus debit, posted) and its posted and pending sums.

    Attributes:
        account_id (str): e.g. merchant:M1:payable, platform:fee_revenue
        balance (str): an amount in yuan, two decimals, as a string (never a JSON number)
        debits_posted (str): an amount in yuan, two decimals, as a string (never a JSON number)
        credits_posted (str): an amount in yuan, two decimals, as a string (never a JSON number)
        debits_pending (str): an amount in yuan, two decimals, as a string (never a JSON number)
        credits_pending (str): an amount in yuan, two decimals, as a string (never a JSON number)
    """

    account_id: str
    balance: str
    debits_posted: str
    credits_posted: str
    debits_pending: str
    credits_pending: str

    def to_dict(self) -> dict[str, Any]:
        account_id = self.account_id

        balance = self.balance

        debits_posted = self.debits_posted

        credits_posted = self.credits_posted

        debits_pending = self.debits_pending

        credits_pending = self.credits_pending

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

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        account_id = d.pop("account_id")

        balance = d.pop("balance")

        debits_posted = d.pop("debits_posted")

        credits_posted = d.pop("credits_posted")

        debits_pending = d.pop("debits_pending")

        credits_pending = d.pop("credits_pending")

        balance = cls(
            account_id=account_id,
            balance=balance,
            debits_posted=debits_posted,
            credits_posted=credits_posted,
            debits_pending=debits_pending,
            credits_pending=credits_pending,
        )

        return balance
