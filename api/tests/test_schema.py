"""Property-based run against our own OpenAPI schema (schemathesis, in-process over WSGI), with a
superadmin key and a reseller key: no 500, and every response matches the schema (status code
documented, content type, body shape, headers)."""

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from mailadmin.wsgi import application

pytestmark = pytest.mark.postgres

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
EXAMPLES = settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)


@pytest.fixture(autouse=True)
def _keep_the_test_connection(db):
    """Like Django's test client: keep the test's connection (and its transaction) across
    WSGI requests instead of letting each request close it."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


# Loaded at collection through the app itself (the schema view touches no database).
# (schemathesis.pytest.from_fixture trips over pytest 9's node ids, so the schema is eager.)
schema = schemathesis.openapi.from_wsgi("/api/v1/schema/?format=json", application)


@schema.parametrize()
@EXAMPLES
def test_schema_as_superadmin(case, world):
    case.call_and_validate(headers={"Authorization": f"Bearer {world.super_key}"}, checks=CHECKS)


@schema.parametrize()
@EXAMPLES
def test_schema_as_reseller(case, world):
    case.call_and_validate(headers={"Authorization": f"Bearer {world.a.key}"}, checks=CHECKS)
