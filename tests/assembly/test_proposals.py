"""Proposals through the API, on both engines: the roll fixed at the opening, votes and
their changes, who may not vote, the result from the policy, the close (by hand, by a
read after the window, by `ssa assembly close-due`) and the enactment in the same
transaction, with the payment that follows and the audit trail."""

import uuid
from datetime import date, timedelta
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from ssa.assembly.models import Proposal
from ssa.audit.models import AuditEntry
from ssa.cli import main
from ssa.funds.models import Fund
from ssa.households.models import Household
from ssa.households.service import set_pin
from ssa.outlets.models import OutletFund, OutletStatus, OutletStatusChange
from ssa.outlets.service import create_terminal, register_outlet
from ssa.settings import Settings, get_settings
from ssa.timeutil import utcnow
from tests.assembly.helpers import (
    ADULT,
    assembly_fund,
    close,
    end_window,
    household,
    opened,
    outlet,
    propose,
    set_household_status,
    vote,
    voted,
    voter,
    voters,
    years_ago,
)
from tests.conftest import People
from tests.issuance.test_issuance import issue


@pytest.fixture
def fund(engine: Engine) -> Fund:
    return assembly_fund(engine)


@pytest.fixture
def coordinator(people: People, fund: Fund) -> dict[str, str]:
    return people.as_(("coordinator", fund.id))


def status_of(engine: Engine, fund: Fund, outlet_id: uuid.UUID) -> str:
    with Session(engine) as session:
        standing = session.exec(
            select(OutletFund).where(
                col(OutletFund.outlet_id) == outlet_id, col(OutletFund.fund_id) == fund.id
            )
        ).one()
        return str(standing.status)


# --- Opening ------------------------------------------------------------------------


def test_the_roll_is_the_adults_of_active_households_when_the_proposal_opens(
    client: TestClient, engine: Engine, people: People, fund: Fund, coordinator: dict[str, str]
) -> None:
    household(engine, fund, [ADULT, ADULT, years_ago(10)])  # two adults and a child
    household(engine, fund, [years_ago(18)])  # 18 today: an adult
    household(engine, fund, [years_ago(18) + timedelta(days=1)])  # 18 tomorrow: not yet
    suspended = household(engine, fund, [ADULT])
    set_household_status(engine, suspended[0].household_id, "suspended")
    left = household(engine, fund, [ADULT])
    set_household_status(engine, left[0].household_id, "left")
    household(engine, assembly_fund(engine), [ADULT, ADULT])  # another fund

    proposal = opened(client, coordinator, fund, outlet(engine, fund))
    assert proposal["status"] == "open"
    assert proposal["eligible_voters"] == 3
    assert proposal["roll"] == "members"
    assert proposal["tally"] is None
    assert proposal["result"] is None
    assert proposal["votes_cast"] == 0
    assert proposal["quorum_percent"] == 20
    assert proposal["approval_percent"] == 50
    assert proposal["secret_ballot"] is True
    opens = proposal["opens_at"]
    closes = proposal["closes_at"]
    assert closes > opens  # ISO strings of one zone sort as the moments do
    # The window is the policy's voting_days (14 for gironde).
    window = date.fromisoformat(closes[:10]) - date.fromisoformat(opens[:10])
    assert window == timedelta(days=14)

    household(engine, fund, [ADULT])  # joins after the opening: the roll is fixed
    again = client.get(f"/api/v1/proposals/{proposal['id']}", headers=coordinator).json()
    assert again["eligible_voters"] == 3


def test_an_accreditation_proposal_carries_the_scored_application(
    client: TestClient, engine: Engine, people: People, fund: Fund, coordinator: dict[str, str]
) -> None:
    voter(engine, fund, people)
    proposal = opened(client, coordinator, fund, outlet(engine, fund), description="Vu en AG")
    assert proposal["description"] == "Vu en AG"
    assert proposal["outlet_name"].startswith("AMAP ")
    dossier = proposal["dossier"]
    assert [line["criterion"] for line in dossier["criteria"]] == [
        "accessibility",
        "working_conditions",
        "local_origin",
        "price_transparency",
        "sustainable_practices",
    ]
    scores = {line["criterion"]: line["score"] for line in dossier["criteria"]}
    assert scores["local_origin"] == 3
    assert scores["price_transparency"] == 2
    assert scores["accessibility"] is None  # not scored in the application
    assert dossier["score_total"] == 5
    assert dossier["score_max"] == 15


def test_an_adult_member_may_propose_a_minor_or_a_suspended_household_may_not(
    client: TestClient, engine: Engine, people: People, fund: Fund
) -> None:
    member = voter(engine, fund, people)
    proposal = opened(client, member.headers, fund, outlet(engine, fund))
    assert proposal["proposed_by"] == f"user:{member.user_id}"
    assert proposal["on_roll"] is True
    assert proposal["has_voted"] is False

    adult, minor = household(engine, fund, [ADULT, years_ago(15)])
    assert minor.user_id is not None
    refused = propose(client, people.headers(minor.user_id), fund, outlet(engine, fund))
    assert refused.status_code == 403
    assert refused.json()["code"] == "not_eligible"

    set_household_status(engine, adult.household_id, "suspended")
    assert adult.user_id is not None
    refused = propose(client, people.headers(adult.user_id), fund, outlet(engine, fund))
    assert refused.status_code == 403
    assert refused.json()["code"] == "not_eligible"

    other = voter(engine, assembly_fund(engine), people)
    refused = propose(client, other.headers, fund, outlet(engine, fund))
    assert refused.status_code == 403
    assert refused.json()["code"] == "forbidden"


@pytest.mark.parametrize(
    ("status", "kind", "allowed"),
    [
        (OutletStatus.applicant, "accredit_outlet", True),
        (OutletStatus.applicant, "suspend_outlet", False),
        (OutletStatus.accredited, "accredit_outlet", False),
        (OutletStatus.accredited, "suspend_outlet", True),
        (OutletStatus.accredited, "revoke_outlet", True),
        (OutletStatus.suspended, "revoke_outlet", True),
        (OutletStatus.suspended, "reinstate_outlet", True),
        (OutletStatus.revoked, "reinstate_outlet", True),
        (OutletStatus.revoked, "suspend_outlet", False),
        (OutletStatus.accredited, "reinstate_outlet", False),
    ],
)
def test_a_proposal_must_apply_to_the_outlets_status(
    client: TestClient,
    engine: Engine,
    people: People,
    fund: Fund,
    coordinator: dict[str, str],
    status: OutletStatus,
    kind: str,
    allowed: bool,
) -> None:
    voter(engine, fund, people)
    response = propose(client, coordinator, fund, outlet(engine, fund, status), kind)
    if allowed:
        assert response.status_code == 201, response.text
    else:
        assert response.status_code == 409
        assert response.json()["code"] == "proposal_not_applicable"
        assert response.json()["outlet_status"] == status.value


def test_refusals_when_opening(
    client: TestClient, engine: Engine, people: People, fund: Fund, coordinator: dict[str, str]
) -> None:
    empty = assembly_fund(engine)
    alone = people.as_(("coordinator", empty.id))
    nobody = propose(client, alone, empty, outlet(engine, empty))
    assert nobody.status_code == 409
    assert nobody.json()["code"] == "no_eligible_voters"

    voter(engine, fund, people)
    unknown = propose(client, coordinator, fund, uuid.uuid4())
    assert unknown.status_code == 404
    assert unknown.json()["code"] == "not_found"

    with Session(engine, expire_on_commit=False) as session:
        stranger = register_outlet(
            db_session=session,
            outlet_in=_outlet_in(),
            actor="system:test",
            request_id=None,
        )
        session.commit()
    never = propose(client, coordinator, fund, stranger.id)
    assert never.status_code == 409
    assert never.json()["code"] == "proposal_not_applicable"

    target = outlet(engine, fund)
    first = opened(client, coordinator, fund, target)
    twice = propose(client, coordinator, fund, target)
    assert twice.status_code == 409
    assert twice.json()["code"] == "proposal_already_open"
    assert twice.json()["proposal_id"] == first["id"]

    for closes_at in (
        (utcnow() - timedelta(minutes=1)).isoformat(),
        (utcnow() + timedelta(days=400)).isoformat(),
        "2030-01-01T10:00:00",  # no zone
        "tomorrow",
    ):
        bad = propose(client, coordinator, fund, outlet(engine, fund), closes_at=closes_at)
        assert bad.status_code == 422, closes_at
        assert bad.json()["code"] == "validation_error"
    for body in (
        {"kind": "close_outlet", "outlet_id": str(target), "title": "x"},
        {"kind": "accredit_outlet", "outlet_id": "nope", "title": "x"},
        {"kind": "accredit_outlet", "outlet_id": str(target), "title": "   "},
        {"kind": "accredit_outlet", "outlet_id": str(target), "title": "x", "extra": 1},
    ):
        bad = client.post(f"/api/v1/funds/{fund.id}/proposals", json=body, headers=coordinator)
        assert bad.status_code == 422, body
        assert bad.json()["code"] == "validation_error"
    with Session(engine) as session:
        made = session.exec(select(Proposal).where(col(Proposal.fund_id) == fund.id)).all()
        assert len(made) == 1


def _outlet_in() -> Any:
    from ssa.outlets.models import OutletCategory
    from ssa.outlets.schemas import AddressIn, OutletIn
    from tests.payments.helpers import IBAN, valid_siret

    return OutletIn(
        name="Épicerie sans dossier",
        siret=valid_siret(uuid.uuid4().int),
        iban=IBAN,
        address=AddressIn(line1="1 rue", postcode="33000", city="Bordeaux"),
        category=OutletCategory.grocer,
    )


# --- Voting -------------------------------------------------------------------------


def test_votes_are_counted_once_per_person_and_a_change_replaces(
    client: TestClient, engine: Engine, people: People, fund: Fund, coordinator: dict[str, str]
) -> None:
    crowd = voters(engine, fund, people, 5)
    proposal = opened(client, coordinator, fund, outlet(engine, fund))
    pid = proposal["id"]
    first = voted(client, crowd[0], pid, "no")
    assert first == {
        "proposal_id": pid,
        "recorded": True,
        "replaced": False,
        "closes_at": proposal["closes_at"],
    }
    again = voted(client, crowd[0], pid, "yes")
    assert again["replaced"] is True
    voted(client, crowd[0], pid, "yes")  # the same vote again changes nothing
    voted(client, crowd[1], pid, "yes")
    voted(client, crowd[2], pid, "abstain")
    voted(client, crowd[2], pid, "no")

    seen = client.get(f"/api/v1/proposals/{pid}", headers=crowd[0].headers).json()
    assert seen["votes_cast"] == 3
    assert seen["turnout_percent"] == 60.0
    assert seen["tally"] is None  # hidden until the close
    assert seen["has_voted"] is True
    assert seen["my_vote"] is None  # a secret ballot: not even to the voter
    assert (
        client.get(f"/api/v1/proposals/{pid}", headers=crowd[4].headers).json()["has_voted"]
        is False
    )

    result = close(client, coordinator, pid)
    assert result["tally"] == {"yes": 2, "no": 1, "abstain": 0}
    assert result["votes_cast"] == 3
    assert result["result"] == "adopted"


def test_after_the_close_votes_are_refused(
    client: TestClient, engine: Engine, people: People, fund: Fund, coordinator: dict[str, str]
) -> None:
    crowd = voters(engine, fund, people, 2)
    pid = opened(client, coordinator, fund, outlet(engine, fund))["id"]
    voted(client, crowd[0], pid, "yes")
    close(client, coordinator, pid)
    for who, choice in ((crowd[0], "no"), (crowd[1], "yes")):
        late = vote(client, who, pid, choice)
        assert late.status_code == 409
        assert late.json()["code"] == "proposal_closed"
    assert client.get(f"/api/v1/proposals/{pid}", headers=coordinator).json()["tally"] == {
        "yes": 1,
        "no": 0,
        "abstain": 0,
    }


def test_who_may_not_vote(
    app: FastAPI, client: TestClient, engine: Engine, people: People, fund: Fund
) -> None:
    coordinator_id = people.user(("coordinator", fund.id))
    coordinator = people.headers(coordinator_id)
    adult, child = household(engine, fund, [ADULT, years_ago(17)])
    suspended = voter(engine, fund, people)
    set_household_status(engine, suspended.household_id, "suspended")
    target = outlet(engine, fund, OutletStatus.accredited)
    pid = opened(client, coordinator, fund, target, "suspend_outlet")["id"]
    assert (
        client.get(f"/api/v1/proposals/{pid}", headers=coordinator).json()["eligible_voters"] == 1
    )

    late = voter(engine, fund, people)  # joined after the opening
    elsewhere = voter(engine, assembly_fund(engine), people)
    with Session(engine, expire_on_commit=False) as session:
        terminal, secret = create_terminal(
            db_session=session, outlet_id=target, label="Till", actor="t", request_id=None
        )
        session.commit()
    token = client.post(
        "/api/v1/auth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": terminal.client_id,
            "client_secret": secret,
        },
    ).json()["access_token"]
    assert child.user_id is not None
    refused = {
        "minor": people.headers(child.user_id),
        "suspended household": suspended.headers,
        "joined after the opening": late.headers,
        "member of another fund": elsewhere.headers,
        "coordinator (staff)": coordinator,
        "treasurer (staff)": people.as_(("treasurer", fund.id)),
        "auditor (staff)": people.as_(("auditor", fund.id)),
        "administrator": people.as_(("admin", None)),
        "till terminal": {"Authorization": f"Bearer {token}"},
        "outlet manager": people.as_(("manager", target)),
    }
    for who, headers in refused.items():
        response = vote(client, headers, pid, "yes")
        assert response.status_code == 403, (who, response.text)
        assert response.json()["code"] == "not_eligible", who
        assert response.headers["content-type"] == "application/problem+json"
    assert vote(client, {}, pid, "yes").status_code == 401
    assert adult.user_id is not None
    assert vote(client, people.headers(adult.user_id), pid, "no").status_code == 200
    assert vote(client, people.headers(adult.user_id), str(uuid.uuid4()), "no").status_code == 404
    bad = vote(client, people.headers(adult.user_id), pid, "maybe")
    assert bad.status_code == 422
    assert bad.json()["code"] == "validation_error"
    result = close(client, coordinator, pid)
    assert result["tally"] == {"yes": 0, "no": 1, "abstain": 0}


# --- Results ------------------------------------------------------------------------


def _run(
    client: TestClient,
    engine: Engine,
    people: People,
    fund: Fund,
    coordinator: dict[str, str],
    roll: int,
    choices: list[str],
) -> dict[str, Any]:
    crowd = voters(engine, fund, people, roll)
    pid = opened(client, coordinator, fund, outlet(engine, fund))["id"]
    for who, choice in zip(crowd, choices, strict=False):
        voted(client, who, pid, choice)
    return close(client, coordinator, pid)


@pytest.mark.parametrize(
    ("roll", "choices", "quorum", "approval", "result"),
    [
        # Quorum 20 % of 10 voters: two votes meet it exactly, one does not.
        (10, ["yes", "yes"], 20, 50, "adopted"),
        (10, ["yes"], 20, 50, "no_quorum"),
        # A 50/50 split is not "strictly above" 50 %.
        (4, ["yes", "no"], 20, 50, "rejected"),
        (4, ["yes", "yes", "no"], 20, 50, "adopted"),
        # Abstentions count for the quorum, not for the approval.
        (10, ["yes", "abstain"], 20, 50, "adopted"),
        (10, ["abstain", "abstain"], 20, 50, "rejected"),
        (10, ["yes", "no", "abstain", "abstain", "abstain"], 50, 50, "rejected"),
        (10, ["yes", "yes", "no", "abstain", "abstain"], 50, 50, "adopted"),
        # Two thirds at a 66 % threshold pass; at 67 % they do not.
        (3, ["yes", "yes", "no"], 100, 66, "adopted"),
        (3, ["yes", "yes", "no"], 100, 67, "rejected"),
        (3, ["yes", "yes"], 100, 0, "no_quorum"),
        # Nobody voting: no quorum, unless the quorum is 0.
        (3, [], 20, 50, "no_quorum"),
        (3, [], 0, 50, "rejected"),
    ],
)
def test_the_result_follows_the_policy(
    client: TestClient,
    engine: Engine,
    people: People,
    roll: int,
    choices: list[str],
    quorum: int,
    approval: int,
    result: str,
) -> None:
    fund = assembly_fund(engine, quorum_percent=quorum, approval_percent=approval)
    coordinator = people.as_(("coordinator", fund.id))
    closed = _run(client, engine, people, fund, coordinator, roll, choices)
    assert closed["result"] == result
    assert closed["quorum_percent"] == quorum
    tally = closed["tally"]
    assert tally == {c: choices.count(c) for c in ("yes", "no", "abstain")}
    assert closed["turnout_percent"] == round(100 * len(choices) / roll, 2)


def test_the_rules_are_those_in_force_at_the_opening(
    client: TestClient, engine: Engine, people: People
) -> None:
    from sqlalchemy import update

    from ssa.funds.models import FundPolicy

    fund = assembly_fund(engine, quorum_percent=50)
    coordinator = people.as_(("coordinator", fund.id))
    crowd = voters(engine, fund, people, 4)
    pid = opened(client, coordinator, fund, outlet(engine, fund))["id"]
    with Session(engine) as session:  # the policy changes while the vote goes on
        session.exec(
            update(FundPolicy)  # type: ignore[call-overload]
            .where(col(FundPolicy.fund_id) == fund.id)
            .values(quorum_percent=10, secret_ballot=False)
        )
        session.commit()
    voted(client, crowd[0], pid, "yes")
    closed = close(client, coordinator, pid)
    assert closed["quorum_percent"] == 50
    assert closed["secret_ballot"] is True
    assert closed["result"] == "no_quorum"


# --- Closing and enacting -----------------------------------------------------------


def test_an_adopted_accreditation_takes_effect_and_the_next_payment_follows(
    app: FastAPI, client: TestClient, engine: Engine, people: People, fund: Fund
) -> None:
    coordinator = people.as_(("coordinator", fund.id))
    crowd = voters(engine, fund, people, 3)
    target = outlet(engine, fund)
    with Session(engine, expire_on_commit=False) as session:
        terminal, secret = create_terminal(
            db_session=session, outlet_id=target, label="Till", actor="t", request_id=None
        )
        payer = session.get(Household, crowd[0].household_id)
        assert payer is not None
        set_pin(db_session=session, household=payer, pin="2468", settings=Settings(), actor="t")
        session.commit()
    issue(engine, fund)
    till = {
        "Authorization": "Bearer "
        + client.post(
            "/api/v1/auth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": terminal.client_id,
                "client_secret": secret,
            },
        ).json()["access_token"]
    }

    def pay() -> Any:
        return client.post(
            "/api/v1/payments",
            json={"member_number": payer.member_number, "amount_cents": 1_000, "pin": "2468"},
            headers={**till, "Idempotency-Key": uuid.uuid4().hex},
        )

    assert pay().json()["code"] == "outlet_not_accredited"
    pid = opened(client, coordinator, fund, target)["id"]
    voted(client, crowd[0], pid, "yes")
    voted(client, crowd[1], pid, "yes")
    voted(client, crowd[2], pid, "no")
    assert status_of(engine, fund, target) == "applicant"
    closed = close(client, coordinator, pid)
    assert closed["result"] == "adopted"
    assert closed["enacted"] is True
    assert closed["enacted_at"] == closed["closed_at"]
    assert status_of(engine, fund, target) == "accredited"
    paid = pay()
    assert paid.status_code == 201, paid.text

    history = client.get(
        f"/api/v1/funds/{fund.id}/outlets/{target}/history", headers=coordinator
    ).json()["items"]
    assert history[-1]["to_status"] == "accredited"
    assert history[-1]["from_status"] == "applicant"
    assert history[-1]["proposal_id"] == pid

    # Then the assembly suspends it: the next payment is refused.
    suspend = opened(client, crowd[1].headers, fund, target, "suspend_outlet")["id"]
    voted(client, crowd[0], suspend, "yes")
    assert close(client, coordinator, suspend)["enacted"] is True
    assert status_of(engine, fund, target) == "suspended"
    refused = pay()
    assert refused.status_code == 403
    assert refused.json()["code"] == "outlet_not_accredited"


def test_a_status_change_can_only_name_a_real_proposal(engine: Engine, fund: Fund) -> None:
    """The history's link to the proposal that made a change is a key (migration 0015)."""
    target = outlet(engine, fund)
    with pytest.raises(IntegrityError), Session(engine) as session:
        session.add(
            OutletStatusChange(
                outlet_id=target,
                fund_id=fund.id,
                from_status="applicant",
                to_status="accredited",
                proposal_id=uuid.uuid4(),
                actor="system:test",
            )
        )
        session.commit()


def test_a_rejected_proposal_changes_nothing_and_closing_twice_is_harmless(
    client: TestClient, engine: Engine, people: People, fund: Fund, coordinator: dict[str, str]
) -> None:
    crowd = voters(engine, fund, people, 2)
    target = outlet(engine, fund, OutletStatus.accredited)
    pid = opened(client, coordinator, fund, target, "revoke_outlet")["id"]
    voted(client, crowd[0], pid, "no")
    first = close(client, coordinator, pid)
    assert first["result"] == "rejected"
    assert first["enacted"] is False
    second = close(client, coordinator, pid)
    assert second == first
    assert status_of(engine, fund, target) == "accredited"
    # Closed, the outlet is free for a new proposal.
    assert propose(client, coordinator, fund, target, "suspend_outlet").status_code == 201


def test_an_adopted_proposal_overtaken_by_a_meeting_decision_is_not_enacted(
    client: TestClient, engine: Engine, people: People, fund: Fund, coordinator: dict[str, str]
) -> None:
    crowd = voters(engine, fund, people, 2)
    target = outlet(engine, fund, OutletStatus.accredited)
    pid = opened(client, coordinator, fund, target, "suspend_outlet")["id"]
    voted(client, crowd[0], pid, "yes")
    revoked = client.put(
        f"/api/v1/funds/{fund.id}/outlets/{target}/status",
        json={"status": "revoked", "decision_reference": "AG extraordinaire"},
        headers=coordinator,
    )
    assert revoked.status_code == 200
    closed = close(client, coordinator, pid)
    assert closed["result"] == "adopted"
    assert closed["enacted"] is False
    assert status_of(engine, fund, target) == "revoked"


def test_a_read_after_the_window_closes_and_enacts(
    client: TestClient, engine: Engine, people: People, fund: Fund, coordinator: dict[str, str]
) -> None:
    crowd = voters(engine, fund, people, 2)
    target = outlet(engine, fund)
    pid = opened(client, coordinator, fund, target)["id"]
    voted(client, crowd[0], pid, "yes")
    end_window(engine, pid)
    seen = client.get(f"/api/v1/proposals/{pid}", headers=crowd[1].headers).json()
    assert seen["status"] == "closed"
    assert seen["result"] == "adopted"
    assert seen["closed_by"] == "system:assembly"
    assert seen["tally"] == {"yes": 1, "no": 0, "abstain": 0}
    assert status_of(engine, fund, target) == "accredited"


def test_a_vote_after_the_window_is_refused_and_closes_the_proposal(
    client: TestClient, engine: Engine, people: People, fund: Fund, coordinator: dict[str, str]
) -> None:
    crowd = voters(engine, fund, people, 2)
    target = outlet(engine, fund)
    pid = opened(client, coordinator, fund, target)["id"]
    voted(client, crowd[0], pid, "yes")
    end_window(engine, pid)
    late = vote(client, crowd[1], pid, "no")
    assert late.status_code == 409
    assert late.json()["code"] == "proposal_closed"
    with Session(engine) as session:  # the refusal kept the close it made
        proposal = session.get(Proposal, uuid.UUID(pid))
        assert proposal is not None
        assert proposal.status == "closed"
        assert proposal.result == "adopted"
        assert (proposal.yes_count, proposal.no_count) == (1, 0)
    assert status_of(engine, fund, target) == "accredited"


def test_listing_closes_what_is_due_and_pages(
    client: TestClient, engine: Engine, people: People, fund: Fund, coordinator: dict[str, str]
) -> None:
    crowd = voters(engine, fund, people, 1)
    ids = [opened(client, coordinator, fund, outlet(engine, fund))["id"] for _ in range(3)]
    end_window(engine, ids[0])
    listed = client.get(f"/api/v1/funds/{fund.id}/proposals?limit=2", headers=crowd[0].headers)
    assert listed.status_code == 200
    page = listed.json()
    assert [p["id"] for p in page["items"]] == [ids[2], ids[1]]
    rest = client.get(
        f"/api/v1/funds/{fund.id}/proposals",
        params={"limit": 2, "cursor": page["next_cursor"]},
        headers=crowd[0].headers,
    ).json()
    assert [p["id"] for p in rest["items"]] == [ids[0]]
    assert rest["items"][0]["status"] == "closed"
    assert rest["next_cursor"] is None
    open_ones = client.get(
        f"/api/v1/funds/{fund.id}/proposals?status=open", headers=coordinator
    ).json()["items"]
    assert {p["id"] for p in open_ones} == {ids[1], ids[2]}
    forged = client.get(f"/api/v1/funds/{fund.id}/proposals?cursor=xyz", headers=coordinator)
    assert forged.status_code == 422


@pytest.fixture
def runner(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("SSA_DATABASE_URL", database_url)
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def test_close_due_closes_past_windows_only_and_is_idempotent(
    client: TestClient,
    engine: Engine,
    people: People,
    fund: Fund,
    coordinator: dict[str, str],
    runner: CliRunner,
) -> None:
    crowd = voters(engine, fund, people, 2)
    due, running = outlet(engine, fund), outlet(engine, fund)
    due_id = opened(client, coordinator, fund, due)["id"]
    running_id = opened(client, coordinator, fund, running)["id"]
    voted(client, crowd[0], due_id, "yes")
    voted(client, crowd[1], running_id, "yes")
    end_window(engine, due_id)

    first = runner.invoke(main, ["assembly", "close-due"])
    assert first.exit_code == 0, first.output
    assert "closed" in first.output
    with Session(engine) as session:
        closed = session.get(Proposal, uuid.UUID(due_id))
        still = session.get(Proposal, uuid.UUID(running_id))
        assert closed is not None
        assert still is not None
        assert (closed.status, closed.result, closed.closed_by) == (
            "closed",
            "adopted",
            "system:assembly",
        )
        assert still.status == "open"
        changes = session.exec(
            select(OutletStatusChange).where(
                col(OutletStatusChange.proposal_id) == uuid.UUID(due_id)
            )
        ).all()
        assert len(changes) == 1
    again = runner.invoke(main, ["assembly", "close-due"])
    assert again.exit_code == 0, again.output
    with Session(engine) as session:
        assert (
            len(
                session.exec(
                    select(OutletStatusChange).where(
                        col(OutletStatusChange.proposal_id) == uuid.UUID(due_id)
                    )
                ).all()
            )
            == 1
        )
    assert status_of(engine, fund, due) == "accredited"
    assert status_of(engine, fund, running) == "applicant"


# --- The audit trail ----------------------------------------------------------------


def test_the_proposals_life_is_in_the_audit_log_without_the_choices(
    client: TestClient, engine: Engine, people: People, fund: Fund, coordinator: dict[str, str]
) -> None:
    crowd = voters(engine, fund, people, 3)
    target = outlet(engine, fund)
    pid = opened(client, coordinator, fund, target)["id"]
    voted(client, crowd[0], pid, "no")
    voted(client, crowd[0], pid, "yes")
    voted(client, crowd[1], pid, "yes")
    voted(client, crowd[2], pid, "no")
    close(client, coordinator, pid)
    log = client.get(f"/api/v1/funds/{fund.id}/audit-log?limit=500", headers=coordinator).json()
    mine = [e for e in log["items"] if e["target_id"] in (pid, str(target))]
    actions = [e["action"] for e in reversed(mine)]
    # Three voters, four votes: a secret ballot's log does not tell who changed their vote.
    assert actions[actions.index("proposal.open") :] == [
        "proposal.open",
        "proposal.vote",
        "proposal.vote",
        "proposal.vote",
        "outlet.status",
        "proposal.enact",
        "proposal.close",
    ]
    votes = [e for e in mine if e["action"] == "proposal.vote"]
    assert {e["actor"] for e in votes} == {f"user:{v.user_id}" for v in crowd}
    assert all(e["after"] is None and e["before"] is None for e in votes)
    closing = next(e for e in mine if e["action"] == "proposal.close")
    assert closing["after"]["result"] == "adopted"
    assert closing["after"]["tally"] == {"yes": 2, "no": 1, "abstain": 0}
    enacted = next(e for e in mine if e["action"] == "outlet.status")
    assert enacted["after"]["proposal_id"] == pid
    with Session(engine) as session:
        entries = session.exec(select(AuditEntry).where(col(AuditEntry.target_id) == pid)).all()
        assert not any("yes" in (e.after or "") for e in entries if e.action == "proposal.vote")


def test_an_open_ballot_shows_each_voter_their_vote_and_logs_it(
    client: TestClient, engine: Engine, people: People
) -> None:
    fund = assembly_fund(engine, secret_ballot=False)
    coordinator = people.as_(("coordinator", fund.id))
    crowd = voters(engine, fund, people, 2)
    pid = opened(client, coordinator, fund, outlet(engine, fund))["id"]
    voted(client, crowd[0], pid, "abstain")
    seen = client.get(f"/api/v1/proposals/{pid}", headers=crowd[0].headers).json()
    assert seen["secret_ballot"] is False
    assert seen["my_vote"] == "abstain"
    assert seen["tally"] is None
    log = client.get(f"/api/v1/funds/{fund.id}/audit-log", headers=coordinator).json()["items"]
    vote_entry = next(e for e in log if e["action"] == "proposal.vote")
    assert vote_entry["after"] == {"choice": "abstain", "replaced": False}


def test_readers_of_a_proposal(
    client: TestClient, engine: Engine, people: People, fund: Fund, coordinator: dict[str, str]
) -> None:
    member = voter(engine, fund, people)
    pid = opened(client, coordinator, fund, outlet(engine, fund))["id"]
    (minor,) = household(engine, fund, [years_ago(12)])
    assert minor.user_id is not None
    for headers in (
        coordinator,
        member.headers,
        people.headers(minor.user_id),  # a member, though not a voter
        people.as_(("treasurer", fund.id)),
        people.as_(("auditor", fund.id)),
    ):
        seen = client.get(f"/api/v1/proposals/{pid}", headers=headers)
        assert seen.status_code == 200, seen.text
    for headers in (
        people.as_(),
        people.as_(("admin", None)),
        people.as_(("coordinator", assembly_fund(engine).id)),
        voter(engine, assembly_fund(engine), people).headers,
    ):
        refused = client.get(f"/api/v1/proposals/{pid}", headers=headers)
        assert refused.status_code == 403
    assert client.get(f"/api/v1/proposals/{uuid.uuid4()}", headers=coordinator).status_code == 404
    assert client.get("/api/v1/proposals/not-an-id", headers=coordinator).status_code == 422
    assert client.get(f"/api/v1/proposals/{pid}").status_code == 401


def test_members_hold_no_vote_in_a_proposal_of_a_household_they_left(
    client: TestClient, engine: Engine, people: People, fund: Fund, coordinator: dict[str, str]
) -> None:
    first, second = household(engine, fund, [ADULT, ADULT])
    pid = opened(client, coordinator, fund, outlet(engine, fund))["id"]
    assert second.user_id is not None
    leaving = client.patch(
        f"/api/v1/households/{first.household_id}",
        json={
            "persons": [
                {
                    "id": str(first.id),
                    "given_name": first.given_name,
                    "family_name": first.family_name,
                    "birth_date": first.birth_date.isoformat(),
                }
            ]
        },
        headers=coordinator,
    )
    assert leaving.status_code == 200, leaving.text
    refused = vote(client, people.headers(second.user_id), pid, "yes")
    assert refused.status_code == 403
    assert refused.json()["code"] == "not_eligible"
    assert first.user_id is not None
    assert vote(client, people.headers(first.user_id), pid, "yes").status_code == 200
