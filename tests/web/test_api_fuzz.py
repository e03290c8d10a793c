"""Property-based fuzzing of the JSON API from its own OpenAPI document (schemathesis).

Every operation gets generated requests twice: as an administrator, where nothing may
answer 500, and without a login, where every manager endpoint must answer 401.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from paidui.broker import free_port
from scheduler.bridge import SchedulerService
from scheduler.web.context import WebSettings
from scheduler.web.server import WebServer
from tests.web.conftest import PASSWORD

PUBLIC = ("/api/v1/session", "/api/v1/tickets/", "/api/v1/booking")


@pytest.fixture
def served_api(
    scheduler: SchedulerService, people: None, web_settings: WebSettings
) -> Iterator[WebServer]:
    """The dashboard on a real socket."""
    server = WebServer(web_settings, "127.0.0.1", free_port())
    server.start()
    yield server
    server.stop()


def _admin_token(server: WebServer) -> str:
    answer = requests.post(
        f"{server.url}/api/v1/session",
        json={"username": "admin", "password": PASSWORD},
        timeout=10,
    )
    return str(answer.json()["token"])


def test_no_server_errors_and_no_anonymous_access(served_api: WebServer) -> None:
    # schemathesis's pytest plugin cannot load a schema from a fixture under this pytest,
    # so each operation's strategy runs under hypothesis here, one operation at a time.
    schema = schemathesis.openapi.from_url(f"{served_api.url}/api/v1/openapi.json")
    admin = {"Authorization": f"Bearer {_admin_token(served_api)}"}
    tried = []
    for found in schema.get_all_operations():
        operation = found.ok()
        tried.append(operation.label)

        @given(case=operation.as_strategy())
        @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
        def check(case: schemathesis.Case) -> None:
            anonymous = case.call(base_url=served_api.url)
            if not case.path.startswith(PUBLIC):
                assert anonymous.status_code == 401, (case.method, case.path, anonymous.text)
            case.call_and_validate(
                base_url=served_api.url, headers=admin, checks=[not_a_server_error]
            )

        check()
    assert len(tried) == 30  # every operation of the document was fuzzed
