"""Routes answer their views' dicts as JSON without FastAPI's object walk (api/access.py)."""

from __future__ import annotations

from datetime import date
from typing import Any

import fastapi.routing
import pytest
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse

from buyerguard.api.access import json_answer
from tests.conftest import Api
from tests.test_api import ORDER


@pytest.mark.parametrize(
    "content",
    [
        {"items": [{"amount": "5380.00", "count": 2, "ok": True, "none": None}], "has_more": False},
        {"results": [], "applied": 0, "nested": {"ids": ["O-1", "O-2"]}},
        {"日期": "二〇二四", "text": 'line\nbreak "quoted"'},
    ],
)
def test_a_plain_dict_is_encoded_as_fastapi_would(content: dict[str, Any]) -> None:
    answer = json_answer(content, 201)
    assert answer.status_code == 201
    assert answer.body == JSONResponse(jsonable_encoder(content)).body


def test_what_json_cannot_encode_falls_back_to_fastapis_encoder() -> None:
    content = {"day": date(2024, 10, 15), "tags": {"a"}}
    answer = json_answer(content, 200)
    assert answer.body == JSONResponse(jsonable_encoder(content)).body
    assert b'"2024-10-15"' in answer.body


def test_routes_that_return_dicts_skip_the_object_walk(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A feed page, a batch's results and an order read: none goes through FastAPI's encoder."""

    def walked(*_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError("FastAPI's jsonable_encoder walked a route's answer")

    monkeypatch.setattr(fastapi.routing, "jsonable_encoder", walked)
    facts = {"facts": [{"kind": "order", "body": ORDER, "idempotency_key": "k-1"}]}
    batch = api.post("marketplace", "/v1/facts", facts)
    assert batch.status_code == 200 and batch.json()["applied"] == 1
    page = api.get("marketplace", "/v1/events")
    assert page.status_code == 200 and page.json()["has_more"] is False
    order = api.get("marketplace", "/v1/orders/O-1")
    assert order.status_code == 200 and order.json()["id"] == "O-1"
