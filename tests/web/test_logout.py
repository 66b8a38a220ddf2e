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
