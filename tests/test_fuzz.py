"""Schemathesis generates requests from /openapi.json: no endpoint may answer 5xx.

Every endpoint added to the app joins this run automatically. The operations are
driven from a plain test (schemathesis' pytest plugin lags behind pytest 9).
"""

import pytest
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from schemathesis import Case
from schemathesis.openapi import from_asgi

from ssa.app import create_app
from ssa.settings import Settings

EXAMPLES_PER_OPERATION = 30


def server_errors(app: FastAPI, only: str | None = None) -> list[str]:
    """Fuzz every operation of the app's OpenAPI document (or those of the path `only`);
    list the 5xx answers."""
    schema = from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    if only is not None:
        operations = [operation for operation in operations if operation.path == only]
    assert operations, "the OpenAPI document lists no operation"
    failures: list[str] = []
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def call(case: Case) -> None:
            try:
                response = case.call()
            except Exception as exc:  # the in-process transport re-raises what made a 500
                failures.append(f"{case.method} {case.formatted_path} -> 500: {exc!r}")
                return
            if response.status_code >= 500:
                failures.append(
                    f"{case.method} {case.formatted_path} -> {response.status_code}: "
                    f"{response.text[:300]}"
                )

        call()
    return failures


@pytest.mark.slow
def test_no_generated_request_gets_a_server_error(database_url: str) -> None:
    app = create_app(Settings(database_url=database_url))
    try:
        assert server_errors(app) == []
    finally:
        app.state.engine.dispose()


def test_the_fuzzer_finds_a_server_error(database_url: str) -> None:
    app = create_app(Settings(database_url=database_url))

    @app.get("/test/fragile/{n}")
    def fragile(n: int) -> dict[str, float]:
        return {"inverse": 1 / (n % 3)}  # ZeroDivisionError for a third of the numbers

    try:
        # The same harness as above, on the fragile path alone (all of them took 30 s more).
        failures = server_errors(app, only="/test/fragile/{n}")
    finally:
        app.state.engine.dispose()
    assert any("/test/fragile/" in failure and "-> 500" in failure for failure in failures)
