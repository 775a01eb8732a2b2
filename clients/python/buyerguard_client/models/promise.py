from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define

if TYPE_CHECKING:
    from ..models.promise_disruption import PromiseDisruption
    from ..models.promise_running_late import PromiseRunningLate


T = TypeVar("T", bound="Promise")


@_attrs_define
class Promise:
    """An arrival promise (预计达) and the evidence behind it.

    Attributes:
        product_id (str): the product asked about
        destination (str): GB/T 2260 district it goes to
        paid_at (None | str): the payment instant the promise assumes
        promised_date (None | str): Shanghai date it arrives by (YYYY-MM-DD)
        label (None | str): today, tomorrow or day_after, when shown
        probability (float | None): share of like parcels signed by then
        sample_size (int | None): parcels behind the estimate
        backoff_level (int | None): how far the route was generalised, 0..n
        backoff_level_name (None | str): that level, named
        confidence (float): the share a promise is built to hold
        promise_table_as_of (str): the history instant the table was built at
        rulebook_id (str): the rulebook in force, e.g. 2024-10-01
        counts_from (None | str): the Shanghai day the learned days count from (YYYY-MM-DD): the pay day, or the next
            day when paid at or after the merchant's cut-off
        merchant_cutoff_hour (int | None): the merchant's cut-off observed in its shipments (Shanghai hour, 0-23); null
            if none was seen
        holiday_days (int): public-holiday days the span steps over: promises count normal days
        holiday_calendar (str): chinese_calendar, or fixed_dates_fallback past the package's last year (only New Year's
            Day, Labour Day and National Day are known there)
        slowdown_days (int): days of declared logistics slowdowns the span steps over (no label then)
        slowdowns (list[str]): the names of those slowdowns (GET /v1/logistics/slowdowns)
        disruption (None | PromiseDisruption): the declared disruption that pushed the date (no label then); null if
            none
        running_late (None | PromiseRunningLate): the carrier the early signal found running late from the product's or
            to the buyer's province (any carrier when none is named; no label then); null if none
    """

    product_id: str
    destination: str
    paid_at: None | str
    promised_date: None | str
    label: None | str
    probability: float | None
    sample_size: int | None
    backoff_level: int | None
    backoff_level_name: None | str
    confidence: float
    promise_table_as_of: str
    rulebook_id: str
    counts_from: None | str
    merchant_cutoff_hour: int | None
    holiday_days: int
    holiday_calendar: str
    slowdown_days: int
    slowdowns: list[str]
    disruption: None | PromiseDisruption
    running_late: None | PromiseRunningLate

    def to_dict(self) -> dict[str, Any]:
        from ..models.promise_disruption import PromiseDisruption  # noqa: PLC0415
        from ..models.promise_running_late import PromiseRunningLate  # noqa: PLC0415

        product_id = self.product_id

        destination = self.destination

        paid_at: None | str
        paid_at = self.paid_at

        promised_date: None | str
        promised_date = self.promised_date

        label: None | str
        label = self.label

        probability: float | None
        probability = self.probability

        sample_size: int | None
        sample_size = self.sample_size

        backoff_level: int | None
        backoff_level = self.backoff_level

        backoff_level_name: None | str
        backoff_level_name = self.backoff_level_name

        confidence = self.confidence

        promise_table_as_of = self.promise_table_as_of

        rulebook_id = self.rulebook_id

        counts_from: None | str
        counts_from = self.counts_from

        merchant_cutoff_hour: int | None
        merchant_cutoff_hour = self.merchant_cutoff_hour

        holiday_days = self.holiday_days

        holiday_calendar = self.holiday_calendar

        slowdown_days = self.slowdown_days

        slowdowns = self.slowdowns

        disruption: dict[str, Any] | None
        if isinstance(self.disruption, PromiseDisruption):
            disruption = self.disruption.to_dict()
        else:
            disruption = self.disruption

        running_late: dict[str, Any] | None
        if isinstance(self.running_late, PromiseRunningLate):
            running_late = self.running_late.to_dict()
        else:
            running_late = self.running_late

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "product_id": product_id,
                "destination": destination,
                "paid_at": paid_at,
                "promised_date": promised_date,
                "label": label,
                "probability": probability,
                "sample_size": sample_size,
                "backoff_level": backoff_level,
                "backoff_level_name": backoff_level_name,
                "confidence": confidence,
                "promise_table_as_of": promise_table_as_of,
                "rulebook_id": rulebook_id,
                "counts_from": counts_from,
                "merchant_cutoff_hour": merchant_cutoff_hour,
                "holiday_days": holiday_days,
                "holiday_calendar": holiday_calendar,
                "slowdown_days": slowdown_days,
                "slowdowns": slowdowns,
                "disruption": disruption,
                "running_late": running_late,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.promise_disruption import PromiseDisruption  # noqa: PLC0415
        from ..models.promise_running_late import PromiseRunningLate  # noqa: PLC0415

        d = dict(src_dict)
        product_id = d.pop("product_id")

        destination = d.pop("destination")

        def _parse_paid_at(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        paid_at = _parse_paid_at(d.pop("paid_at"))

        def _parse_promised_date(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        promised_date = _parse_promised_date(d.pop("promised_date"))

        def _parse_label(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        label = _parse_label(d.pop("label"))

        def _parse_probability(data: object) -> float | None:
            if data is None:
                return data
            return cast(float | None, data)

        probability = _parse_probability(d.pop("probability"))

        def _parse_sample_size(data: object) -> int | None:
            if data is None:
                return data
            return cast(int | None, data)

        sample_size = _parse_sample_size(d.pop("sample_size"))

        def _parse_backoff_level(data: object) -> int | None:
            if data is None:
                return data
            return cast(int | None, data)

        backoff_level = _parse_backoff_level(d.pop("backoff_level"))

        def _parse_backoff_level_name(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        backoff_level_name = _parse_backoff_level_name(d.pop("backoff_level_name"))

        confidence = d.pop("confidence")

        promise_table_as_of = d.pop("promise_table_as_of")

        rulebook_id = d.pop("rulebook_id")

        def _parse_counts_from(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        counts_from = _parse_counts_from(d.pop("counts_from"))

        def _parse_merchant_cutoff_hour(data: object) -> int | None:
            if data is None:
                return data
            return cast(int | None, data)

        merchant_cutoff_hour = _parse_merchant_cutoff_hour(d.pop("merchant_cutoff_hour"))

        holiday_days = d.pop("holiday_days")

        holiday_calendar = d.pop("holiday_calendar")

        slowdown_days = d.pop("slowdown_days")

        slowdowns = cast(list[str], d.pop("slowdowns"))

        def _parse_disruption(data: object) -> None | PromiseDisruption:
            if data is None:
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                disruption_type_0 = PromiseDisruption.from_dict(data)

                return disruption_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | PromiseDisruption, data)

        disruption = _parse_disruption(d.pop("disruption"))

        def _parse_running_late(data: object) -> None | PromiseRunningLate:
            if data is None:
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                running_late_type_0 = PromiseRunningLate.from_dict(data)

                return running_late_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | PromiseRunningLate, data)

        running_late = _parse_running_late(d.pop("running_late"))

        promise = cls(
            product_id=product_id,
            destination=destination,
            paid_at=paid_at,
            promised_date=promised_date,
            label=label,
            probability=probability,
            sample_size=sample_size,
            backoff_level=backoff_level,
            backoff_level_name=backoff_level_name,
            confidence=confidence,
            promise_table_as_of=promise_table_as_of,
            rulebook_id=rulebook_id,
            counts_from=counts_from,
            merchant_cutoff_hour=merchant_cutoff_hour,
            holiday_days=holiday_days,
            holiday_calendar=holiday_calendar,
            slowdown_days=slowdown_days,
            slowdowns=slowdowns,
            disruption=disruption,
            running_late=running_late,
        )

        return promise
