"""A fund with its staff (tests.web.test_staff_pages.make_staffed), and each staff role
logged in to the pages, for the staff pages' tests."""

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from ssa.auth.roles import Role
from tests.web.helpers import log_in, page_client
from tests.web.test_staff_pages import Staffed, make_staffed


@pytest.fixture
def staffed(engine: Engine) -> Staffed:
    return make_staffed(engine)


def _logged_in(app: FastAPI, staffed: Staffed, role: Role) -> Iterator[TestClient]:
    with page_client(app) as client:
        assert log_in(client, staffed.staff[role]).headers["location"] == "/staff"
        yield client


@pytest.fixture
def coordinator(app: FastAPI, staffed: Staffed) -> Iterator[TestClient]:
    yield from _logged_in(app, staffed, Role.coordinator)


@pytest.fixture
def treasurer(app: FastAPI, staffed: Staffed) -> Iterator[TestClient]:
    yield from _logged_in(app, staffed, Role.treasurer)


@pytest.fixture
def auditor(app: FastAPI, staffed: Staffed) -> Iterator[TestClient]:
    yield from _logged_in(app, staffed, Role.auditor)
