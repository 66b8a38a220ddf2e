"""An outlet's status changed by an assembly vote is told on the staff's outlet page in
the page's language, with the proposal's title and a link to it (not the English
reference the service stores, which the API keeps returning). On SQLite and PostgreSQL."""

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from ssa.auth.roles import Role
from tests.assembly.helpers import assembly_fund, close, opened, outlet, voted, voters
from tests.conftest import People
from tests.web.helpers import log_in, page_client
from tests.web.test_staff_pages import staff_user


def test_a_status_changed_by_a_vote_is_told_in_french(
    app: FastAPI, client: TestClient, engine: Engine, people: People
) -> None:
    fund = assembly_fund(engine)
    coordinator = people.as_(("coordinator", fund.id))
    crowd = voters(engine, fund, people, 3)
    target = outlet(engine, fund)
    proposal = opened(client, coordinator, fund, target, title="Accréditer la Ferme du Pas")
    voted(client, crowd[0], proposal["id"], "yes")
    voted(client, crowd[1], proposal["id"], "yes")
    assert close(client, coordinator, proposal["id"])["enacted"] is True

    with page_client(app, "fr") as staff:
        log_in(staff, staff_user(engine, fund, Role.coordinator))
        page = staff.get(f"/staff/{fund.slug}/outlets/{target}")
    assert page.status_code == 200
    assert "Assembly vote" not in page.text
    assert (
        f'<a href="/assembly/proposals/{proposal["id"]}">'
        "Vote de l’assemblée\u00a0: Accréditer la Ferme du Pas</a>"
    ) in page.text

    # The API keeps what the service recorded.
    history = client.get(
        f"/api/v1/funds/{fund.id}/outlets/{target}/history", headers=coordinator
    ).json()
    references = [item["decision_reference"] for item in history["items"]]
    assert "Assembly vote: Accréditer la Ferme du Pas" in references
