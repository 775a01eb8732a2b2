"""Every answer a test receives is checked against /openapi.json: the schema tells the truth.

`checked_client(app)` is a TestClient whose response hook finds the operation the
request reached and validates the status (declared?) and the JSON body (against the
declared schema, `additionalProperties: false` included). A mismatch fails the test
that met it, naming the route, status and the first violations. Paths no operation
serves (a 404 from routing, /docs, /metrics) are not the schema's business.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import jsonschema_rs
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from starlette.routing import Match

DIALECT = "https://json-schema.org/draft/2020-12/schema"


class SchemaViolation(AssertionError):
    """An answer the schema does not describe."""


class Conformance:
    """Validators per (path template, method, status), built on first use."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.document: dict[str, Any] = app.openapi()
        self.validators: dict[tuple[str, str, str], Any] = {}

    def template_of(self, method: str, path: str) -> str | None:
        scope = {"type": "http", "method": method, "path": path}
        # The routes of included routers too, with their full paths: the app holds each
        # included router as one route that matches nothing itself.
        for route in iter_route_contexts(self.app.router.routes):
            match, _ = route.matches(scope)
            if match is Match.FULL:
                template = route.path
                if template in self.document["paths"]:
                    return str(template)
                return None
        return None

    def check(self, response: httpx.Response) -> None:
        method = response.request.method.lower()
        template = self.template_of(method.upper(), response.request.url.path)
        if template is None:
            return
        operation = self.document["paths"][template].get(method)
        if operation is None:
            return
        status = str(response.status_code)
        where = f"{method.upper()} {template} → {status}"
        declared = operation["responses"].get(status)
        if declared is None:
            raise SchemaViolation(
                f"{where}: status not declared (declared: {sorted(operation['responses'])}); "
                f"body {response.text[:300]}"
            )
        schema = declared.get("content", {}).get("application/json", {}).get("schema")
        if schema is None:
            return
        key = (template, method, status)
        if key not in self.validators:
            root = {"$schema": DIALECT, **schema, "components": self.document["components"]}
            self.validators[key] = jsonschema_rs.validator_for(root)
        try:
            body = json.loads(response.content)
        except ValueError as error:
            raise SchemaViolation(f"{where}: body is not JSON: {response.text[:200]}") from error
        problems = [
            f"{'/'.join(str(part) for part in error.instance_path) or '(root)'}: {error.message}"
            for error in self.validators[key].iter_errors(body)
        ]
        if problems:
            raise SchemaViolation(f"{where}: {problems[:5]}; body {response.text[:400]}")


def checked_client(app: FastAPI) -> TestClient:
    """A TestClient that fails on any answer the schema does not describe."""
    conformance = Conformance(app)

    def on_response(response: httpx.Response) -> None:
        response.read()
        conformance.check(response)

    client = TestClient(app)
    client.event_hooks["response"].append(on_response)
    return client
