from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define

from ..models.fact_outcome_outcome import FactOutcomeOutcome
from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.fact_outcome_error_type_0 import FactOutcomeErrorType0
    from ..models.fact_outcome_response_type_0 import FactOutcomeResponseType0


T = TypeVar("T", bound="FactOutcome")


@_attrs_define
class FactOutcome:
    """What became of one fact of a batch.

    Attributes:
        index (int): its place in the batch, from 0
        outcome (FactOutcomeOutcome): skipped: an earlier fact of its order (or instruction) was refused
        status (int): the HTTP status it would have had alone
        response (FactOutcomeResponseType0 | None): its answer, as on its own route
        error (FactOutcomeErrorType0 | None): its refusal {code, message, field}
        order_id (None | str | Unset): the order it is about (a case action's: its case's order), when known; a refusal
            skips that order's later facts
    """

    index: int
    outcome: FactOutcomeOutcome
    status: int
    response: FactOutcomeResponseType0 | None
    error: FactOutcomeErrorType0 | None
    order_id: None | str | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        from ..models.fact_outcome_error_type_0 import FactOutcomeErrorType0  # noqa: PLC0415
        from ..models.fact_outcome_response_type_0 import FactOutcomeResponseType0  # noqa: PLC0415

        index = self.index

        outcome = self.outcome.value

        status = self.status

        response: dict[str, Any] | None
        if isinstance(self.response, FactOutcomeResponseType0):
            response = self.response.to_dict()
        else:
            response = self.response

        error: dict[str, Any] | None
        if isinstance(self.error, FactOutcomeErrorType0):
            error = self.error.to_dict()
        else:
            error = self.error

        order_id: None | str | Unset
        if isinstance(self.order_id, Unset):
            order_id = UNSET
        else:
            order_id = self.order_id

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "index": index,
                "outcome": outcome,
                "status": status,
                "response": response,
                "error": error,
            }
        )
        if order_id is not UNSET:
            field_dict["order_id"] = order_id

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.fact_outcome_error_type_0 import FactOutcomeErrorType0  # noqa: PLC0415
        from ..models.fact_outcome_response_type_0 import FactOutcomeResponseType0  # noqa: PLC0415

        d = dict(src_dict)
        index = d.pop("index")

        outcome = FactOutcomeOutcome(d.pop("outcome"))

        status = d.pop("status")

        def _parse_response(data: object) -> FactOutcomeResponseType0 | None:
            if data is None:
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                response_type_0 = FactOutcomeResponseType0.from_dict(data)

                return response_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(FactOutcomeResponseType0 | None, data)

        response = _parse_response(d.pop("response"))

        def _parse_error(data: object) -> FactOutcomeErrorType0 | None:
            if data is None:
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                error_type_0 = FactOutcomeErrorType0.from_dict(data)

                return error_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(FactOutcomeErrorType0 | None, data)

        error = _parse_error(d.pop("error"))

        def _parse_order_id(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        order_id = _parse_order_id(d.pop("order_id", UNSET))

        fact_outcome = cls(
            index=index,
            outcome=outcome,
            status=status,
            response=response,
            error=error,
            order_id=order_id,
        )

        return fact_outcome
