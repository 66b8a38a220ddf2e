"""A malformed month in a staff page's address is refused with a translated page (400),
never answered silently for another month. On SQLite and on PostgreSQL."""

import uuid
from datetime import timedelta

import pytest
from fastapi import FastAPI
from sqlalchemy import Engine
from sqlmodel import Session, col, func, select

from ssa.auth.roles import Role
from ssa.funds.service import fund_today
from ssa.households.models import Contribution, DirectDebitRun
from tests.web.helpers import log_in, make_world, page_client, submit
from tests.web.test_staff_pages import staff_user

REFUSED = {
    "en": "The month “2026-13” is not a month this page can show.",
    "fr": "Le mois «\u00a02026-13\u00a0» n’est pas un mois que cette page peut montrer.",
}


@pytest.mark.parametrize("language", ["en", "fr"])
def test_a_malformed_month_is_refused(app: FastAPI, engine: Engine, language: str) -> None:
    world = make_world(engine)
    base = f"/staff/{world.fund.slug}"
    with page_client(app, language) as client:
        log_in(client, staff_user(engine, world.fund, Role.treasurer))
        for path in (
            f"{base}/report.csv?period=2026-13",
            f"{base}/dashboard?period=2026-13",
            f"{base}/contributions?period=2026-13",
        ):
            refused = client.get(path)
            assert refused.status_code == 400, path
            assert refused.headers["content-type"].startswith("text/html"), path
            assert f'<html lang="{language}">' in refused.text
            assert REFUSED[language] in refused.text.replace("&#34;", '"'), path
        # A month that is not offered is not answered for another one either: no report,
        # no direct-debit file (nor its run recorded), no form for another month.
        assert client.get(f"{base}/report.csv?period=2001-01").status_code == 404
        soon = (fund_today() + timedelta(days=3)).isoformat()
        for path in (
            f"{base}/contributions/direct-debit.xml?period=2030-01&collection_date={soon}",
            f"{base}/contributions/record?household={world.household_id}&period=2030-01",
        ):
            assert client.get(path).status_code == 404, path
        with Session(engine) as session:
            runs = select(func.count()).where(col(DirectDebitRun.fund_id) == world.fund.id)
            assert session.exec(runs).one() == 0
        # Without a month, or with one offered, the report is this month's, as before.
        assert client.get(f"{base}/report.csv").status_code == 200
        assert client.get(f"{base}/dashboard").status_code == 200


def test_a_contribution_for_a_malformed_month_is_not_recorded_for_this_one(
    app: FastAPI, engine: Engine
) -> None:
    world = make_world(engine)
    base = f"/staff/{world.fund.slug}"
    page = f"{base}/contributions/record?household={world.household_id}"
    with page_client(app, "fr") as client:
        log_in(client, staff_user(engine, world.fund, Role.treasurer))
        with Session(engine) as session:
            before = count_of(session, world.household_id)
        refused = submit(
            client,
            page,
            f"{base}/contributions/record",
            household=str(world.household_id),
            period="2026-13",
            amount="15",
            method="cash",
            received_on="2026-01-05",
        )
        assert refused.status_code == 400
        assert REFUSED["fr"] in refused.text
        with Session(engine) as session:
            assert count_of(session, world.household_id) == before


def count_of(session: Session, household_id: uuid.UUID) -> int:
    query = select(func.count()).where(col(Contribution.household_id) == household_id)
    return int(session.exec(query).one())
