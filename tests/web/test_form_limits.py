"""The staff's forms never cut what was typed: a text longer than the API accepts is
refused on the form, in words, and nothing is written (the API answers 422
string_too_long); an unknown action or an unknown person's row is refused too.
On SQLite and on PostgreSQL."""

import re
from datetime import timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, col

from ssa.auth.roles import Role
from ssa.funds.service import fund_today
from ssa.households.models import Contribution, Household
from ssa.households.service import current_persons
from ssa.outlets.models import Outlet, OutletStatusChange
from tests.issuance.helpers import THIS
from tests.web.helpers import alert_of, csrf_of, form_key_of, log_in, page_client, submit
from tests.web.test_staff_pages import (
    GRANT_FORM,
    Staffed,
    count,
    grants_of,
    outlet_form,
    registration,
    send,
)

LONG = "x" * 5000


def logged_in(app: FastAPI, email: str, language: str = "en") -> TestClient:
    client = page_client(app, language)
    assert log_in(client, email).headers["location"] == "/staff"
    return client


def households(engine: Engine, staffed: Staffed) -> int:
    return count(engine, Household, col(Household.fund_id) == staffed.fund.id)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("line1", LONG),
        ("line1", "y" * 201),
        ("city", LONG),
        ("postcode", LONG),
        ("p0-given_name", LONG),
        ("p1-family_name", LONG),
        ("p0-email", "a" * 300 + "@example.org"),
        ("income", "1450" + " " * 30 + "junk"),
    ],
)
def test_a_registration_with_a_text_too_long_is_refused_and_writes_nothing(
    coordinator: TestClient, staffed: Staffed, engine: Engine, field: str, value: str
) -> None:
    new = f"{staffed.base}/households/new"
    before = households(engine, staffed)
    refused = send(
        coordinator, new, action="register", **registration(chosen="20", **{field: value})
    )
    assert refused.status_code == 422
    assert alert_of(refused.text) == "Some fields need a look: see below."
    assert f'id="f-{field}-error"' in refused.text
    assert households(engine, staffed) == before


def test_a_registration_with_an_unknown_action_is_refused_in_french(
    app: FastAPI, staffed: Staffed, engine: Engine
) -> None:
    new = f"{staffed.base}/households/new"
    before = households(engine, staffed)
    with logged_in(app, staffed.staff[Role.coordinator], "fr") as client:
        refused = send(client, new, action="zzz", **registration(chosen="20"))
        assert refused.status_code == 422
        assert '<html lang="fr">' in refused.text
        assert "rien n’a été enregistré" in alert_of(refused.text)
        assert 'value="Aïcha"' in refused.text  # the form as typed
    assert households(engine, staffed) == before


@pytest.mark.parametrize(
    "row", [{"p99999-given_name": "Nadia"}, {"p1-nickname": "Sam"}, {"p5-family_name": "Benali"}]
)
def test_a_registration_with_an_unknown_persons_row_is_refused(
    coordinator: TestClient, staffed: Staffed, engine: Engine, row: dict[str, str]
) -> None:
    new = f"{staffed.base}/households/new"
    before = households(engine, staffed)
    refused = send(coordinator, new, action="register", **registration(chosen="20"), **row)
    assert refused.status_code == 422
    assert "nothing was saved" in alert_of(refused.text)
    assert households(engine, staffed) == before


def test_a_grant_with_a_text_too_long_or_a_date_with_more_is_refused(
    treasurer: TestClient, staffed: Staffed, engine: Engine
) -> None:
    url = f"{staffed.base}/grants"
    before = grants_of(engine, staffed.fund.id)
    for change in (
        {"funder": "F" * 201},
        {"reference": LONG},
        {"received_on": "2026-01-12 and more"},
        {"amount": "2500" + " " * 30 + "junk"},
        {"received_on": (fund_today() + timedelta(days=1)).isoformat()},  # a day to come
    ):
        page = treasurer.get(url).text
        data = {**GRANT_FORM, "csrf_token": csrf_of(page), "form_key": form_key_of(page)}
        refused = treasurer.post(url, data={**data, **change}, follow_redirects=False)
        assert refused.status_code == 422, change
        (field,) = change
        assert f'id="f-{field}-error"' in refused.text, change
    assert grants_of(engine, staffed.fund.id) == before


def test_a_contribution_with_a_date_or_amount_with_more_is_refused(
    treasurer: TestClient, staffed: Staffed, engine: Engine
) -> None:
    page = f"{staffed.base}/contributions/record?household={staffed.late.id}&period={THIS}"
    url = f"{staffed.base}/contributions/record"
    before = count(engine, Contribution, col(Contribution.household_id) == staffed.late.id)
    tomorrow = (fund_today() + timedelta(days=1)).isoformat()
    for change in (
        {"received_on": "2026-01-05 and more"},
        {"amount": "15" + " " * 30 + "junk"},
        {"received_on": tomorrow},
    ):
        fields = {
            "household": str(staffed.late.id),
            "period": THIS,
            "amount": "15",
            "method": "cash",
            "received_on": "2026-01-05",
            **change,
        }
        refused = submit(treasurer, page, url, **fields)
        assert refused.status_code == 422, change
        if change.get("received_on") == tomorrow:
            assert "cannot have been received on a day to come" in refused.text
    after = count(engine, Contribution, col(Contribution.household_id) == staffed.late.id)
    assert after == before


def test_an_outlet_with_a_name_too_long_is_refused_and_not_registered(
    coordinator: TestClient, staffed: Staffed, engine: Engine
) -> None:
    url = f"{staffed.base}/outlets/new"
    for field in ("name", "line1"):
        token = csrf_of(coordinator.get(url).text)
        sent = {**outlet_form(7301), field: LONG, "csrf_token": token}
        refused = coordinator.post(url, data=sent, follow_redirects=False)
        assert refused.status_code == 422
        assert f'id="f-{field}-error"' in refused.text
        assert "Too long." in refused.text
    assert count(engine, Outlet, col(Outlet.siret) == outlet_form(7301)["siret"]) == 0


def test_an_outlet_decision_with_a_reference_too_long_is_refused(
    coordinator: TestClient, staffed: Staffed, engine: Engine
) -> None:
    outlet = staffed.outlets[0]
    page = f"{staffed.base}/outlets/{outlet}"
    where = col(OutletStatusChange.outlet_id) == outlet
    before = count(engine, OutletStatusChange, where)
    refused = submit(coordinator, page, f"{page}/status", status="suspended", reference=LONG)
    assert refused.status_code == 422
    assert 'id="f-reference-error"' in refused.text
    assert count(engine, OutletStatusChange, where) == before


def test_a_composition_with_an_unknown_action_or_row_changes_nothing(
    coordinator: TestClient, staffed: Staffed, engine: Engine
) -> None:
    page = f"{staffed.base}/households/{staffed.household.id}/persons"
    form = coordinator.get(page).text
    found = re.findall(r'name="(p\d+-[a-z_]+|shown|form_key)"[^>]*value="([^"]*)"', form)
    fields = {name: value for name, value in found if not name.endswith("-left")}  # unchecked
    # As the page sends it, the composition is saved (a sanity check of `fields`).
    same = {**fields, "csrf_token": csrf_of(form), "action": "save", "form_key": "0" * 32}
    assert coordinator.post(page, data=same, follow_redirects=False).status_code == 303
    with Session(engine) as session:
        before = sorted(p.given_name for p in current_persons(session, staffed.household.id))
    for change in (
        {"action": "zzz", "p0-given_name": "Renamed"},
        {"action": "save", "p0-given_name": "Renamed", "p99999-given_name": "Nadia"},
        {"action": "save", "p0-given_name": "x" * 101},
        {"action": "save", "p0-id": fields["p0-id"] + "-and-more", "p0-given_name": "Renamed"},
    ):
        sent = {**fields, "csrf_token": csrf_of(form), **change}
        refused = coordinator.post(page, data=sent, follow_redirects=False)
        assert refused.status_code in (409, 422), change
    with Session(engine) as session:
        after = sorted(p.given_name for p in current_persons(session, staffed.household.id))
    assert after == before
