"""The header's "Log out" form reaches the web logout (not the API's `POST /auth/logout`).
On SQLite and on PostgreSQL."""

import re

from fastapi import FastAPI
from sqlalchemy import Engine

from tests.web.helpers import csrf_of, log_in, make_world, page_client

_LOGOUT_FORM = re.compile(
    r'<li class="logout">\s*<form method="post" action="([^"]+)">', re.MULTILINE
)


def test_the_headers_log_out_form_ends_the_web_session(app: FastAPI, engine: Engine) -> None:
    world = make_world(engine)
    with page_client(app, "fr") as client:
        assert log_in(client, world.member_email).headers["location"] == "/me"
        page = client.get("/me")
        assert page.status_code == 200
        found = _LOGOUT_FORM.search(page.text)
        assert found, "no logout form in the header"
        out = client.post(
            found.group(1), data={"csrf_token": csrf_of(page.text)}, follow_redirects=False
        )
        assert out.status_code == 303
        assert out.headers["location"] == "/"
        after = client.get("/me", follow_redirects=False)
        assert after.status_code == 303
        assert after.headers["location"] == "/login?next=/me"


def test_a_password_change_ends_the_sessions_opened_before_it(app: FastAPI, engine: Engine) -> None:
    """A session cookie copied before the password changed no longer opens pages nor gets
    API tokens (a change of password already revoked the refresh tokens)."""
    from sqlmodel import Session, col, select

    from ssa.auth.models import User
    from ssa.auth.service import set_password

    world = make_world(engine)
    with page_client(app) as client:
        log_in(client, world.member_email)
        assert client.get("/me").status_code == 200
        assert client.get("/api/v1/auth/session/token").status_code == 200
        with Session(engine) as session:
            user = session.exec(select(User).where(col(User.email) == world.member_email)).one()
            set_password(db_session=session, user=user, password="a brand new password 7")
            session.commit()
        assert client.get("/api/v1/auth/session/token").status_code == 401
        after = client.get("/me", follow_redirects=False)
        assert after.status_code == 303
        assert after.headers["location"].startswith("/login")
        # A new login with the new password opens a session again.
        log_in(client, world.member_email, "a brand new password 7")
        assert client.get("/me").status_code == 200


def test_logging_out_ends_the_sessions_a_copied_cookie_included(
    app: FastAPI, engine: Engine
) -> None:
    """The session is a signed cookie: clearing the browser's copy left any other copy
    valid for 12 hours. A logout now ends the user's sessions begun before it (on every
    device); a new login opens one again."""
    world = make_world(engine)
    with page_client(app) as laptop, page_client(app) as phone, page_client(app) as thief:
        for device in (laptop, phone):
            log_in(device, world.member_email)
            assert device.get("/me").status_code == 200
        thief.cookies.update(laptop.cookies)  # a copy of the laptop's cookie
        assert thief.get("/me").status_code == 200
        page = laptop.get("/me")
        found = _LOGOUT_FORM.search(page.text)
        assert found
        laptop.post(found.group(1), data={"csrf_token": csrf_of(page.text)})
        for device in (thief, phone):
            assert device.get("/me", follow_redirects=False).status_code == 303
            assert device.get("/api/v1/auth/session/token").status_code == 401
        log_in(phone, world.member_email)
        assert phone.get("/me").status_code == 200
