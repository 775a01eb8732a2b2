"""The OpenAPI document tells the truth: bearer tokens, Idempotency-Key on every POST, the
one error shape for every refusal; and a refusal lists every problem with its JSON path."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi import APIRouter
from fastapi.responses import JSONResponse

from buyerguard.api.answers import Health, answers
from buyerguard.api.app import create_app
from buyerguard.bootstrap import Runtime
from tests.conftest import Api
from tests.schema_conformance import SchemaViolation, checked_client
from tests.test_api import assert_refused


def operations(api: Api) -> list[tuple[str, str, dict[str, Any]]]:
    document = api.client.get("/openapi.json").json()
    return [
        (path, method, operation)
        for path, methods in document["paths"].items()
        for method, operation in methods.items()
    ]


def test_every_guarded_operation_declares_the_bearer_scheme(api: Api) -> None:
    document = api.client.get("/openapi.json").json()
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    for path, method, operation in operations(api):
        guarded = "x-roles" in operation
        assert (operation.get("security") == [{"bearer": []}]) == guarded, (method, path)
        if guarded:
            assert {"401", "403", "503"} <= set(operation["responses"]), (method, path)


def test_every_post_takes_an_idempotency_key_and_every_refusal_has_the_error_shape(
    api: Api,
) -> None:
    document = api.client.get("/openapi.json").json()
    assert "HTTPValidationError" not in json.dumps(document)
    for path, method, operation in operations(api):
        headers = [p["name"] for p in operation.get("parameters", []) if p["in"] == "header"]
        # The batch keys each fact in its body; the header would be ignored, so it is not offered.
        takes_key = method == "post" and path != "/v1/facts"
        assert takes_key == ("Idempotency-Key" in headers), (method, path)
        for status, response in operation["responses"].items():
            if int(status) >= 400:
                content = response["content"]["application/json"]
                assert content["schema"] == {"$ref": "#/components/schemas/Error"}, (path, status)
                assert set(content["example"]) == {
                    "code",
                    "message",
                    "field",
                    "request_id",
                    "errors",
                }
        if "{" in path:
            assert "404" in operation["responses"], (method, path)


def test_a_refusal_lists_every_problem_with_its_json_path(api: Api) -> None:
    body = {
        "id": "O-bad",
        "buyer_id": "B-shop",
        "lines": [{"product_id": "P-cups", "quantity": 0}, {"product_id": "", "quantity": 1}],
        "tip": "1.00",
    }
    answer = api.post("marketplace", "/v1/orders", body)
    assert_refused(answer, 422, "out_of_range", "lines[0].quantity")
    problems = {(problem["code"], problem["field"]) for problem in answer.json()["errors"]}
    assert problems == {
        ("out_of_range", "lines[0].quantity"),
        ("length_out_of_range", "lines[1].product_id"),
        ("field_unknown", "tip"),
    }
    json_headers = {**api.headers("marketplace"), "content-type": "application/json"}
    not_json = api.client.post("/v1/orders", content=b"{not json", headers=json_headers)
    assert_refused(not_json, 422, "json_malformed", "body")


def test_the_conformance_check_fails_an_answer_the_schema_does_not_describe(rt: Runtime) -> None:
    """The hook that checks every test's answers (tests/schema_conformance.py) can fail:
    an undocumented field, a wrong type and an undeclared status are each caught, on the
    app's own routes and on the routes of the routers it includes."""
    app = create_app(rt)

    @app.get("/probe/extra", **answers(Health))
    def extra() -> dict[str, object]:
        return {"status": "ok", "version": "1", "surprise": True}

    @app.get("/probe/type", **answers(Health))
    def wrong_type() -> dict[str, object]:
        return {"status": "ok", "version": 1}

    @app.get("/probe/status", status_code=202, **answers(Health, 202))
    def undeclared() -> JSONResponse:
        return JSONResponse({"status": "ok", "version": "1"}, status_code=200)

    # A route of an included router, as every /v1 route is (routes.ROUTERS): the app holds
    # the router as one route, which the hook walked past, so no /v1 answer was checked.
    nested = APIRouter(prefix="/probe")

    @nested.get("/nested", **answers(Health))
    def nested_wrong_type() -> dict[str, object]:
        return {"status": "ok", "version": 1}

    app.include_router(nested)

    with checked_client(app) as client:
        assert client.get("/healthz").status_code == 200
        for path, why in (
            ("/probe/extra", "surprise"),
            ("/probe/type", "is not of type"),
            ("/probe/status", "status not declared"),
            ("/probe/nested", "is not of type"),
        ):
            with pytest.raises(SchemaViolation, match=why):
                client.get(path)


def test_a_body_that_is_not_utf8_is_refused_like_any_body_that_is_not_json(api: Api) -> None:
    """Found by schemathesis: bytes that do not decode answered FastAPI's 400 `bad_request`,
    a status the schema did not declare; now the one refusal of a body that is not JSON."""
    headers = {**api.headers("marketplace"), "Content-Type": "application/json"}
    for body in (b"\xff\xfe{", b'{"buyer_id": "B-shop", "lines": [\x80]}', b"{not json"):
        response = api.client.post("/v1/orders", content=body, headers=headers)
        assert_refused(response, 422, "json_malformed")
    assert api.get("marketplace", "/v1/orders").json()["items"] == []


def test_a_payout_run_replays_its_first_answer_for_the_same_key(api: Api) -> None:
    """Found by schemathesis: POST /v1/payouts/runs took no notice of Idempotency-Key (an
    empty key was accepted, a retry ran again). Now a key replays the first run's answer,
    another body with it is a 409, and a malformed key is refused before anything runs."""
    order = {
        "id": "O-run",
        "buyer_id": "B-shop",
        "lines": [{"product_id": "P-cups", "quantity": 10}],
    }
    assert api.post("marketplace", "/v1/orders", order).status_code == 201
    for step, body in (
        ("payment", {"amount": "360.00"}),
        ("shipment", {"carrier": "SF", "tracking_number": "SF1"}),
    ):
        assert api.post("marketplace", f"/v1/orders/O-run/{step}", body).status_code == 200
    for step in ("signing", "confirmation"):
        assert api.post("marketplace", f"/v1/orders/O-run/{step}").status_code == 200
    first = api.post("operator", "/v1/payouts/runs", {"merchant_ids": ["M-yiwu"]}, key="run-1")
    assert first.status_code == 201 and first.json()["payouts"] == 1
    again = api.post("operator", "/v1/payouts/runs", {"merchant_ids": ["M-yiwu"]}, key="run-1")
    assert again.status_code == 201 and again.json() == first.json()
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert_refused(
        api.post("operator", "/v1/payouts/runs", {"merchant_ids": ["M-shenzhen"]}, key="run-1"),
        409,
        "idempotency_key_reused",
    )
    runs_before = api.get("operator", "/v1/payouts?merchant_id=M-yiwu").json()["items"]
    for bad in ("", "k" * 201):
        assert_refused(
            api.post("operator", "/v1/payouts/runs", None, key=bad),
            422,
            "idempotency_key_malformed",
        )
    assert api.get("operator", "/v1/payouts?merchant_id=M-yiwu").json()["items"] == runs_before
