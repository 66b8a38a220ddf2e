"""A malformed id in a page's address is a page not found (the translated HTML page, as
for a well-formed unknown id), never the API's 422 JSON; the API keeps its problem+json.
On SQLite and on PostgreSQL."""

import uuid

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import Engine

from ssa.auth.roles import Role
from tests.conftest import People
from tests.web.helpers import csrf_of, log_in, make_world, page_client
from tests.web.test_staff_pages import staff_user

NOT_FOUND = {
    "en": ("<h1>Not found</h1>", "This page does not exist, or it is not yours to see."),
    "fr": ("<h1>Page introuvable</h1>", "Cette page n’existe pas, ou elle ne vous est pas"),
}


def assert_not_found_page(response: Response, language: str) -> None:
    assert response.status_code == 404, response.text[:300]
    assert response.headers["content-type"].startswith("text/html")
    assert f'<html lang="{language}">' in response.text
    for words in NOT_FOUND[language]:
        assert words in response.text


def post_from(client: TestClient, page: str, action: str) -> Response:
    """Post to `action` with the session's token, taken from `page`."""
    token = csrf_of(client.get(page).text)
    return client.post(action, data={"csrf_token": token}, follow_redirects=False)


@pytest.mark.parametrize("language", ["en", "fr"])
def test_malformed_ids_on_staff_pages_are_not_found(
    app: FastAPI, engine: Engine, language: str
) -> None:
    world = make_world(engine)
    base = f"/staff/{world.fund.slug}"
    with page_client(app, language) as client:
        log_in(client, staff_user(engine, world.fund, Role.coordinator))
        for path in (
            f"{base}/households/not-a-uuid",
            f"{base}/households/not-a-uuid/edit",
            f"{base}/payouts/not-a-uuid",
            f"{base}/payouts/not-a-uuid/sepa.xml",
            f"{base}/outlets/not-a-uuid",
            f"{base}/households/{uuid.uuid4()}",  # well-formed and unknown: as before
            f"{base}/dashboard?span=abc",  # a malformed query parameter
        ):
            assert_not_found_page(client.get(path), language)
        page = f"{base}/households"
        assert_not_found_page(post_from(client, page, f"{base}/households/zz/status"), language)
        assert_not_found_page(post_from(client, page, f"{base}/outlets/zz/status"), language)


@pytest.mark.parametrize("language", ["en", "fr"])
def test_malformed_ids_on_the_till_and_the_members_pages_are_not_found(
    app: FastAPI, engine: Engine, language: str
) -> None:
    world = make_world(engine)
    with page_client(app, language) as cashier:
        log_in(cashier, world.cashier_email)
        assert_not_found_page(cashier.get("/till/not-a-uuid"), language)
        assert_not_found_page(cashier.get("/till/not-a-uuid/today"), language)
        assert_not_found_page(post_from(cashier, "/till", "/till/not-a-uuid/pay"), language)
        path = f"/till/{world.outlet_id}/payments/not-a-uuid/refund"
        assert_not_found_page(cashier.get(path), language)
    with page_client(app, language) as member:
        log_in(member, world.member_email)
        assert_not_found_page(post_from(member, "/me/pay", "/me/pay/notauuid"), language)
        assert_not_found_page(member.get("/assembly/proposals/not-a-uuid"), language)
        assert_not_found_page(member.get("/assembly/committees/not-a-uuid"), language)


def test_the_api_still_answers_problem_json_for_a_malformed_id(
    client: TestClient, people: People, engine: Engine
) -> None:
    world = make_world(engine)
    headers = people.as_(("coordinator", world.fund.id))
    for path in ("/api/v1/households/not-a-uuid", "/api/v1/outlets/not-a-uuid"):
        answer = client.get(path, headers=headers)
        assert answer.status_code in (404, 422), answer.text
        assert answer.headers["content-type"] == "application/problem+json"
