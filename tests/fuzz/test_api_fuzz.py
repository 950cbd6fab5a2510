"""Property-based fuzzing of the whole REST API with schemathesis: every operation in
/api/schema/, as every demo role (and anonymous), must never answer 500 and must answer only
what the schema documents (status codes, content types, bodies, headers).

One test per role runs every operation in-process against the WSGI app, on one data set (the
demo tree and cases of each process), with a few valid and a few invalid examples each;
failures are collected and reported together. Fuzzed writes that succeed stay in the database
for the next operations, and the trail check of tests/conftest.py runs after each role.
(schemathesis' own `from_fixture(...).parametrize()` does not run under pytest 9.2, and one
pytest item per operation and role would rebuild the data set 600 times.)
Deeper run: API_FUZZ_EXAMPLES=20 pytest tests/fuzz."""

import functools
import os

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.fuzz import ROLES

# Examples per operation, role and mode (valid data, then invalid data): a few keep CI fast;
# raise it locally for a deeper run.
EXAMPLES = int(os.environ.get("API_FUZZ_EXAMPLES", "2"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]


class InProcessApp(WSGIHandler):
    """The project's WSGI app, minus the per-request connection cleanup (as Django's test
    client does): closing the connection would end the test's transaction."""

    def __call__(self, environ, start_response):
        request_started.disconnect(close_old_connections)
        request_finished.disconnect(close_old_connections)
        try:
            response = super().__call__(environ, start_response)
            try:
                return list(response)  # streamed files too, while the signals are off
            finally:
                response.close()  # request_finished, closing file responses
        finally:
            request_started.connect(close_old_connections)
            request_finished.connect(close_old_connections)


@functools.cache
def _schema():
    """The schema as served (loaded once: it depends on code, not on data)."""
    # Authentication is the role's, not generated: an anonymous caller sends no credentials.
    config = schemathesis.Config.from_dict({"generation": {"with-security-parameters": False}})
    return schemathesis.openapi.from_wsgi("/api/schema/", InProcessApp(), config=config)


@functools.cache
def _operations():
    return [result.ok() for result in _schema().get_all_operations()]


@functools.cache
def _strategy(label, mode):
    """Building and validating a case strategy is costly; every role reuses it."""
    operation = next(op for op in _operations() if op.label == label)
    return operation.as_strategy(generation_mode=mode)


def _negatable(operation):
    """Negative data needs something to negate: a parameter or a body."""
    own = [
        p
        for p in operation.iter_parameters()
        if p.location.value in ("path", "query") or p.name == "Idempotency-Key"
    ]
    return bool(own or operation.body)


def _fuzz(operation, mode, headers, ids):
    """Run a few examples of one operation in one generation mode; raise on the first failure."""
    # An existing object first (the simplest example), then the generated id (mostly a 404).
    id_choice = st.sampled_from([*ids, None]) if ids else st.none()

    @given(case=_strategy(operation.label, mode), pk=id_choice)
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case, pk):
        if pk is not None and "id" in (case.path_parameters or {}):
            case.path_parameters["id"] = pk
        case.call_and_validate(headers=headers, checks=CHECKS)

    run()


@pytest.mark.parametrize("role", ROLES, ids=lambda r: r or "anonymous")
def test_every_operation_conforms_to_the_schema(role, fuzz_data):
    from rest_framework.authtoken.models import Token

    from organizations.models import User

    headers = {}
    if role:
        token, _ = Token.objects.get_or_create(user=User.objects.get(username=role))
        headers["Authorization"] = f"Token {token.key}"
    failures = []
    operations = _operations()
    assert len(operations) > 50
    for operation in operations:
        ids = next((v for k, v in fuzz_data.items() if operation.path.startswith(k)), [])
        modes = [GenerationMode.POSITIVE]
        if _negatable(operation):
            modes.append(GenerationMode.NEGATIVE)
        for mode in modes:
            try:
                _fuzz(operation, mode, headers, ids)
            except (Exception, BaseExceptionGroup) as exc:  # collect all, report together
                failures.append(f"{operation.label} [{mode.value}]: {exc}")
    assert not failures, "\n\n".join(failures)
