"""schemathesis walks the whole schema, on SQLite and on PostgreSQL, as every role.

For each operation Hypothesis draws requests from its schema (valid ones, and
invalid ones that must be refused) and a caller (each demo role, or none). Every
answer must be a declared status with a body that matches its declared schema, never a
5xx; an invalid request must be refused with a 4xx; and a refused request must
write nothing (row counts of every table and every account's balances are unchanged).

`positive_data_acceptance` is left out on purpose: a schema-valid request can still
be refused by the domain (an order id nobody placed is a 404, a payment of the wrong
amount a 409), and that refusal is the engine doing its job.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.result import Ok
from sqlalchemy import Engine, func, select

from buyerguard.api.app import create_app
from buyerguard.bootstrap import build_runtime
from buyerguard.store.tables import ledger_accounts, metadata
from tests.conftest import Api

DOCUMENT = create_app(build_runtime("sqlite://")).openapi()


def without_security(document: dict[str, Any]) -> dict[str, Any]:
    """The schema as schemathesis should draw from it: the test sets each caller's token
    itself, so the generator must not draw (or break) the Authorization header."""
    bare = copy.deepcopy(document)
    bare["components"].pop("securitySchemes", None)
    for methods in bare["paths"].values():
        for operation in methods.values():
            operation.pop("security", None)
    return bare


SCHEMA = schemathesis.openapi.from_dict(without_security(DOCUMENT))
RESULTS = list(SCHEMA.get_all_operations())
OPERATIONS = [result.ok() for result in RESULTS if isinstance(result, Ok)]
assert len(OPERATIONS) == len(RESULTS), "schemathesis could not read every operation"
CALLERS = (None, "operator", "marketplace", "merchant", "buyer", "other_merchant")
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]
EXAMPLES_PER_MODE = 12


def what_is_stored(engine: Engine) -> dict[str, Any]:
    """Row counts of every table and the balances of every account: what a write changes."""
    counts = [
        select(func.count()).select_from(table).scalar_subquery()
        for table in metadata.sorted_tables
    ]
    balances = select(
        ledger_accounts.c.id,
        ledger_accounts.c.debits_posted_fen,
        ledger_accounts.c.credits_posted_fen,
        ledger_accounts.c.debits_pending_fen,
        ledger_accounts.c.credits_pending_fen,
    ).order_by(ledger_accounts.c.id)
    with engine.connect() as connection:
        row = connection.execute(select(*counts)).one()
        stored = {
            table.name: count for table, count in zip(metadata.sorted_tables, row, strict=True)
        }
        stored["balances"] = [tuple(account) for account in connection.execute(balances)]
    return stored


def takes_input(operation: Any) -> bool:
    """Whether a request to it can be wrong at all (a parameter or a body to break)."""
    definition = DOCUMENT["paths"][operation.path][operation.method.lower()]
    return bool(definition.get("parameters")) or "requestBody" in definition


DRAWS = [
    pytest.param(mode, operation, id=f"{mode.value}-{operation.label}")
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    for operation in OPERATIONS
    if mode is GenerationMode.POSITIVE or takes_input(operation)
]


@pytest.mark.parametrize(("mode", "operation"), DRAWS)
def test_every_operation_as_every_caller(
    api: Api, engine: Engine, mode: GenerationMode, operation: Any
) -> None:
    strategy = operation.as_strategy(generation_mode=mode)

    @given(case=strategy, caller=st.sampled_from(CALLERS))
    @settings(
        max_examples=EXAMPLES_PER_MODE,
        deadline=None,
        database=None,
        derandomize=True,  # the same draws on every run: a failure here is not luck
        suppress_health_check=list(HealthCheck),
    )
    def exchange(case: Any, caller: str | None) -> None:
        headers = dict(case.headers or {})
        headers.pop("Authorization", None)
        if caller is not None:
            headers["Authorization"] = f"Bearer {api.tokens[caller]}"
        case.headers = headers
        before = what_is_stored(engine)
        kwargs = case.as_transport_kwargs(base_url="http://testserver")
        if isinstance(kwargs.get("data"), (bytes, str)):  # raw bytes drawn as the body
            kwargs["content"] = kwargs.pop("data")
        if kwargs.pop("cookies", None):  # the schema declares no cookie: none is drawn
            raise AssertionError(f"{operation.label}: a cookie was drawn")
        response = api.client.request(**kwargs)
        case.validate_response(response, checks=CHECKS)
        if 400 <= response.status_code < 500:
            assert what_is_stored(engine) == before, (
                f"{operation.label} refused with {response.status_code} but wrote: "
                f"{response.text[:300]}"
            )

    exchange()
