"""A new member accepts the fund's invitation on a page: types the code, chooses a
password, is logged in; the code works once. On SQLite and on PostgreSQL."""

import uuid

from fastapi import FastAPI
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from ssa.auth.service import create_user, invite
from ssa.households.models import Person
from ssa.settings import Settings
from tests.issuance.helpers import add_household, make_fund
from tests.web.helpers import alert_of, csrf_of, log_in, page_client, submit

NEW_PASSWORD = "my own long passphrase"


def invited_member(engine: Engine) -> tuple[str, str]:
    """A household whose person was registered with an email: (email, invitation code)."""
    fund = make_fund(engine)
    household = add_household(engine, fund)
    email = f"invited.{uuid.uuid4().hex[:8]}@example.org"
    with Session(engine) as session:
        user = create_user(db_session=session, email=email, display_name="Amina Testeur")
        code = invite(db_session=session, user=user, settings=Settings())
        person = session.exec(select(Person).where(col(Person.household_id) == household.id)).one()
        person.user_id = user.id
        session.add(person)
        session.commit()
    return email, code


def test_a_new_member_accepts_the_invitation_and_is_logged_in(app: FastAPI, engine: Engine) -> None:
    email, code = invited_member(engine)
    with page_client(app, "fr") as client:
        login = client.get("/login")
        assert 'href="/invitation"' in login.text  # the way in, from the login page
        page = client.get(f"/invitation?code={code}")
        assert page.status_code == 200
        assert f'value="{code}"' in page.text  # a link with the code fills it in
        done = submit(
            client,
            "/invitation",
            "/invitation",
            code=code,
            password=NEW_PASSWORD,
            password_again=NEW_PASSWORD,
        )
        assert done.status_code == 303, done.text
        assert done.headers["location"] == "/me"
        home = client.get("/me")
        assert home.status_code == 200
        assert "Votre mot de passe est enregistré" in home.text
    with page_client(app) as other:
        assert log_in(other, email, NEW_PASSWORD).headers["location"] == "/me"
        again = submit(
            other,
            "/invitation",
            "/invitation",
            code=code,
            password="someone else's password",
            password_again="someone else's password",
        )
        assert again.status_code == 400  # once only: the password stays the member's
        assert 'id="f-code-error"' in again.text
    with page_client(app) as third:
        assert log_in(third, email, NEW_PASSWORD).headers["location"] == "/me"


def test_invitation_mistakes_are_said_by_field_and_change_nothing(
    app: FastAPI, engine: Engine
) -> None:
    email, code = invited_member(engine)
    with page_client(app) as client:
        cases = [
            ({"code": "", "password": NEW_PASSWORD, "password_again": NEW_PASSWORD}, "code"),
            ({"code": code, "password": "short", "password_again": "short"}, "password"),
            (
                {"code": code, "password": NEW_PASSWORD, "password_again": NEW_PASSWORD + "!"},
                "password_again",
            ),
            (
                {"code": "not-a-code", "password": NEW_PASSWORD, "password_again": NEW_PASSWORD},
                "code",
            ),
        ]
        for fields, field in cases:
            refused = submit(client, "/invitation", "/invitation", **fields)
            assert refused.status_code in (400, 422), fields
            assert f'id="f-{field}-error"' in refused.text, fields
            assert alert_of(refused.text)
            assert client.get("/me", follow_redirects=False).status_code == 303  # not in
        # Still unused: the right code now works.
        page = client.get("/invitation")
        done = client.post(
            "/invitation",
            data={
                "csrf_token": csrf_of(page.text),
                "code": code,
                "password": NEW_PASSWORD,
                "password_again": NEW_PASSWORD,
            },
            follow_redirects=False,
        )
        assert done.status_code == 303
    with page_client(app) as other:
        assert log_in(other, email, NEW_PASSWORD).headers["location"] == "/me"
