"""A schema fuzz of the API (schemathesis against its OpenAPI document): no request, however
odd, gets a server error. Training and updates are left out: each queues a heavy job."""

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from tests.serve.conftest import copy_workspace


@pytest.fixture(scope="module")
def api_schema(served_workspace, tmp_path_factory):
    from trendcast.serve import create_app

    app = create_app(copy_workspace(served_workspace, tmp_path_factory.mktemp("fuzz")))
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    return schema.exclude(path_regex="/train|/update")


def test_no_request_gets_a_server_error(api_schema, served_workspace):
    key = {"X-API-Key": served_workspace["keys"]["write"]}
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 10
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=15, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))  # fmt: skip
        def fuzz(case):
            case.call_and_validate(headers=key, checks=[not_a_server_error])

        fuzz()
