from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define

if TYPE_CHECKING:
    from ..models.badge_spell import BadgeSpell


T = TypeVar("T", bound="Badge")


@_attrs_define
class Badge:
    """The arrival badge (亮标): held or not, what it does to ranking, its history.

    Attributes:
        merchant_id (str): the merchant
        badged (bool): holds the badge now
        search_filter (bool): listed under the fast-arrival search filter
        exposure_multiplier (str): ranking exposure multiplier, as a decimal
        rulebook_id (str): the rulebook in force, e.g. 2024-10-01
        history (list[BadgeSpell]): spells held, oldest first
    """

    merchant_id: str
    badged: bool
    search_filter: bool
    exposure_multiplier: str
    rulebook_id: str
    history: list[BadgeSpell]

    def to_dict(self) -> dict[str, Any]:
        merchant_id = self.merchant_id

        badged = self.badged

        search_filter = self.search_filter

        exposure_multiplier = self.exposure_multiplier

        rulebook_id = self.rulebook_id

        history = []
        for history_item_data in self.history:
            history_item = history_item_data.to_dict()
            history.append(history_item)

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "merchant_id": merchant_id,
                "badged": badged,
                "search_filter": search_filter,
                "exposure_multiplier": exposure_multiplier,
                "rulebook_id": rulebook_id,
                "history": history,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.badge_spell import BadgeSpell  # noqa: PLC0415

        d = dict(src_dict)
        merchant_id = d.pop("merchant_id")

        badged = d.pop("badged")

        search_filter = d.pop("search_filter")

        exposure_multiplier = d.pop("exposure_multiplier")

        rulebook_id = d.pop("rulebook_id")

        history = []
        _history = d.pop("history")
        for history_item_data in _history:
            history_item = BadgeSpell.from_dict(history_item_data)

            history.append(history_item)

        badge = cls(
            merchant_id=merchant_id,
            badged=badged,
            search_filter=search_filter,
            exposure_multiplier=exposure_multiplier,
            rulebook_id=rulebook_id,
            history=history,
        )

        return badge
