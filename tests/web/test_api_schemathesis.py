"""Property-based: schemathesis generates requests from the OpenAPI document the app serves at
``/api/v1/openapi.json`` and sends them to the app in process (ASGI), with a live token holding
every scope, on the test database. No answer may be a 5xx, and every answer must be one the
document describes: its status, content type, headers and body schema."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.schemas import APIOperation
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.specs.openapi.schemas import OpenApiSchema
from sqlalchemy import Engine
from sqlmodel import Session

from newsletter.agencies import read_agencies, sync_agencies
from newsletter.apitokens import create_token
from newsletter.clock import FakeClock
from newsletter.config import Settings
from newsletter.models import Scope
from newsletter.web.app import create_app
from tests.conftest import REPO
from tests.factories import make_subscriber

# Bounded, so the run stays well under a minute per database on the shared machine.
EXAMPLES = 25

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@pytest.fixture
def bearer(engine: Engine, clock: FakeClock) -> dict[str, str]:
    """A live token holding every scope, and somebody for it to find."""
    with Session(engine) as session:
        sync_agencies(session, read_agencies(REPO / "subscribers" / "agencies.yaml"))
        # The address the document's examples use, so they reach somebody.
        make_subscriber(session, email="jo.bloggs@police.example.org", agency="police")
        new = create_token(
            session, "schemathesis", [s.value for s in Scope], by="test", now=clock.now()
        )
        session.commit()
    return {"Authorization": f"Bearer {new.secret}"}


@pytest.fixture
def api_schema(
    settings: Settings, engine: Engine, clock: FakeClock, bearer: dict[str, str]
) -> OpenApiSchema:
    """The document the app serves to a token holder, bound to the app for in-process calls."""
    app = create_app(settings, engine=engine, clock=clock)
    return schemathesis.openapi.from_asgi("/api/v1/openapi.json", app, headers=bearer)


def operations(schema: OpenApiSchema) -> list[APIOperation[Any, Any, Any, Any]]:
    found = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result  # an operation schemathesis cannot read fails here
        found.append(result.ok())
    return found


def test_the_document_names_every_operation_of_the_api(api_schema: OpenApiSchema) -> None:
    assert sorted(op.label for op in operations(api_schema)) == [
        "DELETE /subscribers/{email}",
        "GET /reports/training",
        "GET /subscribers/{email}",
        "POST /subscribers",
        "POST /subscribers/{email}/unsubscribe",
    ]


# schemathesis's own pytest plugin (``schema.parametrize``) fails under the pytest installed
# here (9.2: it reads ``Node._nodeid``, which pytest no longer has), so each operation's
# strategy is drawn from here with hypothesis directly: the same generated cases, same checks.
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=str)
def test_every_generated_request_is_answered_as_the_openapi_document_says_never_with_a_5xx(
    api_schema: OpenApiSchema, bearer: dict[str, str], clock: FakeClock, mode: GenerationMode
) -> None:
    for operation in operations(api_schema):

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=EXAMPLES,
            derandomize=True,  # the same cases on every run: no surprises in CI
            # Generated requests can be large, slow or filtered; the run is bounded by count.
            suppress_health_check=list(HealthCheck),
        )
        def answered_as_documented(case: schemathesis.Case[Any]) -> None:
            clock.advance(timedelta(minutes=1))  # each case in a rate-limit window of its own
            case.call_and_validate(headers=bearer, checks=CHECKS)

        answered_as_documented()


def test_the_documents_own_examples_are_answered_as_it_says(
    api_schema: OpenApiSchema, bearer: dict[str, str], clock: FakeClock
) -> None:
    # Generated cases rarely name a subscriber who exists; the examples do (the look-up, the
    # confirmed add, the unsubscribe and, last, the erasure of the person the fixture holds).
    answered: set[tuple[str, int]] = set()
    for operation in sorted(operations(api_schema), key=lambda op: op.method == "delete"):
        strategies = api_schema.get_strategies_from_examples(operation)
        assert strategies, operation.label

        @given(case=st.one_of(strategies))
        @settings(max_examples=EXAMPLES, derandomize=True, suppress_health_check=list(HealthCheck))
        def answered_as_documented(case: schemathesis.Case[Any]) -> None:
            clock.advance(timedelta(minutes=1))
            response = case.call_and_validate(headers=bearer, checks=CHECKS)
            answered.add((case.operation.label, response.status_code))

        answered_as_documented()

    # The examples reached the person: found, added or asked to confirm, unsubscribed, erased.
    for reached in [
        ("GET /subscribers/{email}", 200),
        ("POST /subscribers/{email}/unsubscribe", 200),
        ("DELETE /subscribers/{email}", 200),
        ("GET /reports/training", 200),
    ]:
        assert reached in answered, answered
    assert {("POST /subscribers", 201), ("POST /subscribers", 202)} & answered, answered
