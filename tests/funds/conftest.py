"""Fixtures of the funds tests: the app on the session's database, and a test client."""

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from ssa.app import create_app
from ssa.auth.roles import Role
from ssa.settings import Settings
from tests.funds.helpers import headers_for


@pytest.fixture
def app(database_url: str) -> Iterator[FastAPI]:
    app = create_app(Settings(database_url=database_url))
    yield app
    app.state.engine.dispose()


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url="http://localhost") as client:
        yield client


@pytest.fixture
def admin(app: FastAPI) -> dict[str, str]:
    return headers_for(app, Role.admin)
