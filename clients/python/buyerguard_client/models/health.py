from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define

from ..models.health_status import HealthStatus

T = TypeVar("T", bound="Health")


@_attrs_define
class Health:
    """The process answers (liveness) or the database is ready (readiness).

    Attributes:
        status (HealthStatus): ok (alive) or ready (database usable)
        version (str): the buyerguard release serving
    """

    status: HealthStatus
    version: str

    def to_dict(self) -> dict[str, Any]:
        status = self.status.value

        version = self.version

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "status": status,
                "version": version,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        status = HealthStatus(d.pop("status"))

        version = d.pop("version")

        health = cls(
            status=status,
            version=version,
        )

        return health
