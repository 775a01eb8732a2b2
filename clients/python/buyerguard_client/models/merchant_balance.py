from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define

T = TypeVar("T", bound="MerchantBalance")


@_attrs_define
class MerchantBalance:
    """A merchant's money, from the ledger.

    Attributes:
        merchant_id (str): the merchant
        in_escrow (str): an amount in yuan, two decimals, as a string (never a JSON number)
        payable (str): an amount in yuan, two decimals, as a string (never a JSON number)
        reserved (str): an amount in yuan, two decimals, as a string (never a JSON number)
        in_flight (str): an amount in yuan, two decimals, as a string (never a JSON number)
        paid_out (str): an amount in yuan, two decimals, as a string (never a JSON number)
        debt (str): an amount in yuan, two decimals, as a string (never a JSON number)
        net_owed (str): an amount in yuan, two decimals, as a string (never a JSON number)
    """

    merchant_id: str
    in_escrow: str
    payable: str
    reserved: str
    in_flight: str
    paid_out: str
    debt: str
    net_owed: str

    def to_dict(self) -> dict[str, Any]:
        merchant_id = self.merchant_id

        in_escrow = self.in_escrow

        payable = self.payable

        reserved = self.reserved

        in_flight = self.in_flight

        paid_out = self.paid_out

        debt = self.debt

        net_owed = self.net_owed

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "merchant_id": merchant_id,
                "in_escrow": in_escrow,
                "payable": payable,
                "reserved": reserved,
                "in_flight": in_flight,
                "paid_out": paid_out,
                "debt": debt,
                "net_owed": net_owed,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        merchant_id = d.pop("merchant_id")

        in_escrow = d.pop("in_escrow")

        payable = d.pop("payable")

        reserved = d.pop("reserved")

        in_flight = d.pop("in_flight")

        paid_out = d.pop("paid_out")

        debt = d.pop("debt")

        net_owed = d.pop("net_owed")

        merchant_balance = cls(
            merchant_id=merchant_id,
            in_escrow=in_escrow,
            payable=payable,
            reserved=reserved,
            in_flight=in_flight,
            paid_out=paid_out,
            debt=debt,
            net_owed=net_owed,
        )

        return merchant_balance
