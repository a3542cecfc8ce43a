"""Schemathesis over the app's own OpenAPI schema: every operation, with a member API key
(Authorization: Bearer) and a logged-in session cookie, must never answer 5xx and must
answer only what the schema declares (status codes, content types, bodies).

Bounded: MAX_EXAMPLES per operation keeps the run to seconds."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import checks

from app import jobs
from tests.members.factories import log_in
from tests.security.conftest import FIGURES
from tests.security.test_authorization_matrix import APP
from tests.security.world import build_world

MAX_EXAMPLES = 50

schema = schemathesis.openapi.from_asgi("/openapi.json", APP)
# A body over the operation's size limit is refused with 413 (documented in the schema)
# before it is read as JSON: a correct refusal of invalid data, like 400 and 422.
_rejection = schema.config.checks.negative_data_rejection
_rejection.expected_statuses = [*_rejection.expected_statuses, "413"]


@pytest.fixture
def credentials():
    from fastapi.testclient import TestClient

    world = build_world()
    jobs.record_sweep()  # a worker is alive, as in a running deployment (/readyz)
    browser = TestClient(APP)
    log_in(browser, world.accounts["a_owner"])
    return {
        "Authorization": f"Bearer {world.keys['a_owner']}",
        "Cookie": f"coopclub_session={browser.cookies['coopclub_session']}",
    }


def test_the_schema_lists_every_json_operation():
    paths = {op.path for op in (r.ok() for r in schema.get_all_operations())}
    assert {"/api/v1/subscribe", "/api/v1/keys", "/api/v1/member", "/healthz"} <= paths


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_every_operation_conforms_and_never_fails(case, credentials):
    FIGURES["schemathesis cases run"] += 1
    case.call_and_validate(
        headers={**credentials, **(case.headers or {})},
        # A schema-valid body can still be refused by a business rule (an unknown topic
        # slug, a key id that is not yours): 4xx there is correct, not a failure.
        excluded_checks=[checks.positive_data_acceptance],
    )
