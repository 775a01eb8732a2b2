from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define

if TYPE_CHECKING:
    from ..models.payout_result import PayoutResult


T = TypeVar("T", bound="PayoutRun")


@_attrs_define
class PayoutRun:
    """A payout run: per merchant, debt netted, reserve set, the rest instructed.

    Attributes:
        id (str): the run's id
        trigger (str): schedule or operator
        as_of (str): an instant, ISO-8601 in UTC with a Z
        actor (str): who ran it
        started_at (str): an instant, ISO-8601 in UTC with a Z
        finished_at (None | str): when it finished
        merchants_considered (int): merchants looked at
        payouts (int): payout instructions made
        total (str): an amount in yuan, two decimals, as a string (never a JSON number)
        results (list[PayoutResult]): per merchant
    """

    id: str
    trigger: str
    as_of: str
    actor: str
    started_at: str
    finished_at: None | str
    merchants_considered: int
    payouts: int
    total: str
    results: list[PayoutResult]

    def to_dict(self) -> dict[str, Any]:
        id = self.id

        trigger = self.trigger

        as_of = self.as_of

        actor = self.actor

        started_at = self.started_at

        finished_at: None | str
        finished_at = self.finished_at

        merchants_considered = self.merchants_considered

        payouts = self.payouts

        total = self.total

        results = []
        for results_item_data in self.results:
            results_item = results_item_data.to_dict()
            results.append(results_item)

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "id": id,
                "trigger": trigger,
                "as_of": as_of,
                "actor": actor,
                "started_at": started_at,
                "finished_at": finished_at,
                "merchants_considered": merchants_considered,
                "payouts": payouts,
                "total": total,
                "results": results,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.payout_result import PayoutResult  # noqa: PLC0415

        d = dict(src_dict)
        id = d.pop("id")

        trigger = d.pop("trigger")

        as_of = d.pop("as_of")

        actor = d.pop("actor")

        started_at = d.pop("started_at")

        def _parse_finished_at(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        finished_at = _parse_finished_at(d.pop("finished_at"))

        merchants_considered = d.pop("merchants_considered")

        payouts = d.pop("payouts")

        total = d.pop("total")

        results = []
        _results = d.pop("results")
        for results_item_data in _results:
            results_item = PayoutResult.from_dict(results_item_data)

            results.append(results_item)

        payout_run = cls(
            id=id,
            trigger=trigger,
            as_of=as_of,
            actor=actor,
            started_at=started_at,
            finished_at=finished_at,
            merchants_considered=merchants_considered,
            payouts=payouts,
            total=total,
            results=results,
        )

        return payout_run
