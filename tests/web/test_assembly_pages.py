"""The assembly's pages without a browser, on SQLite and PostgreSQL: what members and the
coordinator see, who may not, the vote and its change, the close and what it enacts, the
committee drawn by lot; every form protected by the session's token."""

import base64
import json
import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import Engine
from sqlmodel import Session, col, func, select

from ssa.assembly import lottery
from ssa.assembly.models import Ballot, Proposal, ProposalKind, ProposalStatus, ProposalVoter
from ssa.assembly.schemas import ProposalIn
from ssa.assembly.service import open_proposal
from ssa.auth.roles import Role
from ssa.auth.service import create_user, find_user_by_email, grant_role
from ssa.funds.models import Fund
from ssa.households.models import Person
from ssa.outlets.models import OutletFund
from tests.assembly.helpers import (
    ADULT,
    end_window,
    household,
    outlet,
    set_household_status,
    years_ago,
)
from tests.issuance.helpers import make_fund
from tests.issuance.test_issuance import issue
from tests.payments.helpers import PIN
from tests.web.helpers import (
    PASSWORD,
    add_member,
    add_outlet,
    add_user,
    alert_of,
    csrf_of,
    log_in,
    page_client,
    submit,
)


@dataclass
class Assembly:
    fund: Fund
    applicant_id: uuid.UUID  # applied to the fund, scored on two criteria
    accredited_id: uuid.UUID
    proposal_id: uuid.UUID  # open: accredit the applicant
    members: list[str]  # emails of the two adults of the fund (each a household)
    member_numbers: list[str]
    coordinator: str
    treasurer: str
    cashier: str  # of the applicant outlet
    outsider: str  # a member of another fund


def fund_user(engine: Engine, fund: Fund, role: Role) -> str:
    email = f"{uuid.uuid4().hex[:12]}@example.org"
    with Session(engine) as session:
        user = create_user(
            db_session=session, email=email, display_name="Nadia Coord", password=PASSWORD
        )
        grant_role(
            db_session=session, actor="system:test", user_id=user.id, role=role, fund_id=fund.id
        )
        session.commit()
    return email


def open_vote(engine: Engine, fund: Fund, outlet_id: uuid.UUID) -> uuid.UUID:
    with Session(engine, expire_on_commit=False) as session:
        proposal = open_proposal(
            db_session=session,
            fund_id=fund.id,
            proposal_in=ProposalIn(
                kind=ProposalKind.accredit_outlet, outlet_id=outlet_id, title="Accréditer l'AMAP"
            ),
            actor="system:test",
            proposer_person_id=None,
        )
        session.commit()
        return proposal.id


@pytest.fixture
def assembly(engine: Engine) -> Assembly:
    fund = make_fund(engine)
    households = [add_member(engine, fund) for _ in range(2)]
    issue(engine, fund)
    applicant_id = outlet(engine, fund)
    accredited_id = add_outlet(engine, fund)
    other = make_fund(engine)
    _, outsider = add_member(engine, other)
    return Assembly(
        fund=fund,
        applicant_id=applicant_id,
        accredited_id=accredited_id,
        proposal_id=open_vote(engine, fund, applicant_id),
        members=[email for _, email in households],
        member_numbers=[household.member_number for household, _ in households],
        coordinator=fund_user(engine, fund, Role.coordinator),
        treasurer=fund_user(engine, fund, Role.treasurer),
        cashier=add_user(engine, role=Role.cashier, outlet_id=applicant_id),
        outsider=outsider,
    )


@pytest.fixture
def member(app: FastAPI, assembly: Assembly) -> Iterator[TestClient]:
    with page_client(app) as client:
        log_in(client, assembly.members[0])
        yield client


@pytest.fixture
def coordinator(app: FastAPI, assembly: Assembly) -> Iterator[TestClient]:
    with page_client(app) as client:
        log_in(client, assembly.coordinator)
        yield client


Login = Callable[..., TestClient]


@pytest.fixture
def login(app: FastAPI) -> Iterator[Login]:
    """Logs people in, each in a browser of their own (closed at the end of the test)."""
    with ExitStack() as stack:

        def logged_in(email: str, language: str = "en") -> TestClient:
            client = stack.enter_context(page_client(app, language))
            log_in(client, email)
            return client

        yield logged_in


def proposal_path(proposal_id: uuid.UUID | str) -> str:
    return f"/assembly/proposals/{proposal_id}"


def vote(client: TestClient, proposal_id: uuid.UUID | str, choice: str) -> Response:
    path = proposal_path(proposal_id)
    return submit(client, path, f"{path}/vote", choice=choice)


def ballots(engine: Engine, proposal_id: uuid.UUID) -> int:
    with Session(engine) as session:
        return int(
            session.exec(select(func.count()).where(col(Ballot.proposal_id) == proposal_id)).one()
        )


def standing(engine: Engine, fund: Fund, outlet_id: uuid.UUID) -> str:
    with Session(engine) as session:
        row = session.exec(
            select(OutletFund).where(
                col(OutletFund.fund_id) == fund.id, col(OutletFund.outlet_id) == outlet_id
            )
        ).one()
        return str(row.status)


def session_of(response: Response) -> str:
    """What the session cookie set by `response` holds (it is signed, not encrypted)."""
    cookie = response.headers["set-cookie"].split("ssa_session=", 1)[1].split(".", 1)[0]
    return base64.b64decode(cookie + "=" * (-len(cookie) % 4)).decode()


def text_of(html: str) -> str:
    """The page's words, tags dropped and spaces folded (to read sentences across tags)."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace("&#39;", "'")


# --- What a member sees, and the vote --------------------------------------------------


def test_a_member_sees_the_open_proposal_and_the_outlet_file(
    member: TestClient, assembly: Assembly
) -> None:
    home = member.get("/assembly", follow_redirects=False)
    assert home.status_code == 303
    assert home.headers["location"] == f"/assembly/{assembly.fund.slug}"
    listing = member.get(home.headers["location"])
    assert listing.status_code == 200
    words = text_of(listing.text)
    assert "Accréditer l'AMAP" in words
    assert "You have not voted yet." in words
    assert "0 of 2 voters have voted." in words
    page = member.get(proposal_path(assembly.proposal_id))
    assert page.status_code == 200
    words = text_of(page.text)
    assert "Accredit the outlet" in words
    assert "Local origin" in words
    assert "within 50 km" in words
    assert "3 / 3" in words
    assert "5 / 15" in words  # two criteria of five scored: 3 + 2
    assert "not scored" in words
    assert "2 adults of the fund's active households" in words
    assert "You have not voted yet." in words
    assert 'name="choice" value="abstain"' in page.text
    assert 'name="csrf_token"' in page.text
    # No count while the vote is open, and the coordinator's button is not the member's.
    assert "Result" not in words
    assert "Close the vote now" not in words
    # The navigation leads here.
    assert 'href="/assembly"' in member.get("/me").text


def test_voting_twice_changes_the_vote_and_never_shows_it(
    login: Login, engine: Engine, member: TestClient, assembly: Assembly
) -> None:
    first = vote(member, assembly.proposal_id, "yes")
    assert first.status_code == 303
    page = member.get(proposal_path(assembly.proposal_id))
    words = text_of(page.text)
    assert "Your vote is recorded." in words
    assert "You have voted." in words
    assert "Change my vote" in words
    assert " checked" not in page.text  # a secret ballot: the page does not say what
    kept = json.loads(session_of(first))
    assert "flash" in kept
    # Nothing in the session says what was chosen (its random tokens aside, which may
    # hold any letters).
    said = json.dumps({k: v for k, v in kept.items() if "token" not in k and "csrf" not in k})
    assert "yes" not in said.lower(), said
    again = vote(member, assembly.proposal_id, "no")
    assert again.status_code == 303
    assert "Your vote is changed: only your latest vote counts." in text_of(
        member.get(proposal_path(assembly.proposal_id)).text
    )
    assert ballots(engine, assembly.proposal_id) == 1
    with Session(engine) as session:
        voted = session.exec(
            select(func.count()).where(
                col(ProposalVoter.proposal_id) == assembly.proposal_id,
                col(ProposalVoter.has_voted).is_(True),
            )
        ).one()
    assert voted == 1
    listing = text_of(member.get(f"/assembly/{assembly.fund.slug}").text)
    assert "1 of 2 voters have voted." in listing
    assert "You have voted." in listing
    # A choice that is none of the three is refused, and nothing changes.
    odd = vote(member, assembly.proposal_id, "maybe")
    assert odd.status_code == 422
    assert alert_of(odd.text) == "Choose yes, no or abstain."
    # The close counts the latest vote only: one "no" of two voters, rejected.
    coordinator = login(assembly.coordinator)
    path = proposal_path(assembly.proposal_id)
    assert submit(coordinator, f"{path}/close", f"{path}/close").status_code == 303
    closed = text_of(member.get(path).text)
    assert "Rejected" in closed
    assert "Yes 0" in closed
    assert "No 1" in closed
    assert "Abstain 0" in closed
    assert "Votes cast 1 of 2" in closed
    assert "Turnout: 50% (quorum: 20%)." in closed
    assert "Closed by the fund's coordinator" in closed
    assert standing(engine, assembly.fund, assembly.applicant_id) == "applicant"


def test_a_vote_after_the_close_is_refused_in_plain_words(
    engine: Engine, member: TestClient, assembly: Assembly
) -> None:
    path = proposal_path(assembly.proposal_id)
    page = member.get(path)
    end_window(engine, assembly.proposal_id)
    late = member.post(f"{path}/vote", data={"csrf_token": csrf_of(page.text), "choice": "yes"})
    assert late.status_code == 409
    assert alert_of(late.text) == (
        "The vote on this proposal is closed: no vote can be cast or changed."
    )
    words = text_of(late.text)
    assert "No quorum" in words  # nobody voted: closed by the read, at the window's end
    assert "Closed automatically at the end of the vote" in words
    assert 'name="choice"' not in late.text


def test_who_may_not_vote_is_told_why(login: Login, assembly: Assembly) -> None:
    treasurer = login(assembly.treasurer)
    path = proposal_path(assembly.proposal_id)
    page = treasurer.get(path)
    assert page.status_code == 200
    reason = "Only the members of the fund's households vote: your account is not a member's."
    assert f"You cannot vote on this proposal. {reason}" in text_of(page.text)
    assert 'name="choice"' not in page.text
    refused = treasurer.post(
        f"{path}/vote", data={"csrf_token": csrf_of(page.text), "choice": "yes"}
    )
    assert refused.status_code == 403
    assert alert_of(refused.text) == reason
    assert treasurer.get(f"{path}/close").status_code == 403


def test_a_member_who_joined_after_the_opening_is_not_on_the_roll(
    login: Login, engine: Engine, assembly: Assembly
) -> None:
    _, late_email = add_member(engine, assembly.fund)
    late = login(late_email)
    path = proposal_path(assembly.proposal_id)
    page = late.get(path)
    assert "You are not on this proposal's roll" in text_of(page.text)
    refused = late.post(f"{path}/vote", data={"csrf_token": csrf_of(page.text), "choice": "no"})
    assert refused.status_code == 403
    assert alert_of(refused.text).startswith("You are not on this proposal's roll")
    assert ballots(engine, assembly.proposal_id) == 0


# --- Who may see the pages -------------------------------------------------------------


def test_outsiders_cashiers_and_anonymous_visitors_are_refused(
    app: FastAPI, login: Login, engine: Engine, assembly: Assembly
) -> None:
    slug = assembly.fund.slug
    path = proposal_path(assembly.proposal_id)
    pages = [
        "/assembly",
        f"/assembly/{slug}",
        path,
        f"/assembly/{slug}/committee",
    ]
    with page_client(app) as anonymous:
        for page in pages:
            answer = anonymous.get(page, follow_redirects=False)
            assert answer.status_code == 303, page
            assert answer.headers["location"].startswith("/login?next=/assembly"), page
    for email in (assembly.cashier, assembly.outsider):
        client = login(email)
        for page in pages[1:]:
            assert client.get(page).status_code == 403, (email, page)
        token = csrf_of(client.get("/").text)
        refused = client.post(f"{path}/vote", data={"csrf_token": token, "choice": "yes"})
        assert refused.status_code == 403
        assert "Not allowed" in refused.text
    # The cashier has no assembly; the member of another fund is sent to their own.
    assert login(assembly.cashier).get("/assembly").status_code == 403
    own = login(assembly.outsider).get("/assembly", follow_redirects=False)
    assert own.headers["location"] != f"/assembly/{slug}"
    assert ballots(engine, assembly.proposal_id) == 0
    # A member reads and proposes, but closing and drawing are the coordinator's.
    member = login(assembly.members[0])
    token = csrf_of(member.get(path).text)
    assert member.get(f"{path}/close").status_code == 403
    for action, data in (
        (f"{path}/close", {}),
        (f"/assembly/{slug}/committee", {"size": "1", "seed": "s"}),
    ):
        assert member.post(action, data={"csrf_token": token, **data}).status_code == 403
    assert member.get(f"/assembly/proposals/{uuid.uuid4()}").status_code == 404
    assert member.get("/assembly/no-such-fund").status_code == 404
    with Session(engine) as session:
        proposal = session.get(Proposal, assembly.proposal_id)
        assert proposal is not None
        assert proposal.status == ProposalStatus.open


def test_forms_without_the_session_token_are_refused(
    login: Login, engine: Engine, member: TestClient, coordinator: TestClient, assembly: Assembly
) -> None:
    path = proposal_path(assembly.proposal_id)
    for data in ({"choice": "yes"}, {"choice": "yes", "csrf_token": "forged"}):
        refused = member.post(f"{path}/vote", data=data)
        assert refused.status_code == 403
        assert "Form expired" in refused.text
    assert ballots(engine, assembly.proposal_id) == 0
    # Another browser's token is not this one's.
    other = login(assembly.members[1])
    foreign = csrf_of(other.get("/").text)
    refused = coordinator.post(f"{path}/close", data={"csrf_token": foreign})
    assert refused.status_code == 403
    for action in (
        f"/assembly/{assembly.fund.slug}/new",
        f"/assembly/{assembly.fund.slug}/committee",
    ):
        assert coordinator.post(action, data={"size": "1", "seed": "x"}).status_code == 403
    with Session(engine) as session:
        proposal = session.get(Proposal, assembly.proposal_id)
        assert proposal is not None
        assert proposal.status == ProposalStatus.open


# --- A member proposes, as the API lets them -------------------------------------------


def proposals_of(engine: Engine, fund: Fund) -> int:
    with Session(engine) as session:
        return int(session.exec(select(func.count()).where(col(Proposal.fund_id) == fund.id)).one())


def user_id_of(engine: Engine, email: str) -> uuid.UUID:
    with Session(engine) as session:
        user = find_user_by_email(db_session=session, email=email)
        assert user is not None
        return user.id


def login_for(engine: Engine, person_id: uuid.UUID) -> str:
    """A login (with the tests' password) for a person registered without one."""
    email = add_user(engine)
    user_id = user_id_of(engine, email)
    with Session(engine) as session:
        person = session.get(Person, person_id)
        assert person is not None
        person.user_id = user_id
        session.add(person)
        session.commit()
    return email


def test_an_adult_member_opens_a_proposal_through_the_pages(
    login: Login, engine: Engine, member: TestClient, assembly: Assembly
) -> None:
    slug = assembly.fund.slug
    new = f"/assembly/{slug}/new"
    listing = member.get(f"/assembly/{slug}")
    assert f'href="{new}"' in listing.text
    assert "New proposal" in text_of(listing.text)
    applicant = outlet(engine, assembly.fund)
    form = member.get(new)
    assert form.status_code == 200
    assert 'name="csrf_token"' in form.text
    assert f'<option value="{applicant}">' in form.text
    # The page's refusals are the coordinator's: a title is needed.
    untitled = submit(member, new, new, kind="accredit_outlet", outlet_id=str(applicant))
    assert untitled.status_code == 422
    assert "Give the proposal a title" in untitled.text
    before = proposals_of(engine, assembly.fund)
    opened = submit(
        member,
        new,
        new,
        kind="accredit_outlet",
        outlet_id=str(applicant),
        title="Accréditer la boulangerie",
    )
    assert opened.status_code == 303, opened.text
    proposal_id = uuid.UUID(opened.headers["location"].rsplit("/", 1)[-1])
    assert proposals_of(engine, assembly.fund) == before + 1
    proposer = f"user:{user_id_of(engine, assembly.members[0])}"
    with Session(engine) as session:
        proposal = session.get(Proposal, proposal_id)
        assert proposal is not None
        assert proposal.proposed_by == proposer
        assert proposal.status == ProposalStatus.open
        assert proposal.outlet_id == applicant
        assert proposal.eligible_voters == 2
    words = text_of(member.get(proposal_path(proposal_id)).text)
    assert "The proposal is open: the members can vote until" in words
    assert "Accréditer la boulangerie" in words
    assert "Close the vote now" not in words  # closing stays the coordinator's
    assert member.get(f"{proposal_path(proposal_id)}/close").status_code == 403
    # It is open for votes: the proposer and the other member vote.
    assert vote(member, proposal_id, "yes").status_code == 303
    assert vote(login(assembly.members[1]), proposal_id, "no").status_code == 303
    assert ballots(engine, proposal_id) == 2
    # The coordinator sees the link too; a second proposal on the outlet is refused.
    coordinator = login(assembly.coordinator)
    assert f'href="{new}"' in coordinator.get(f"/assembly/{slug}").text
    again = submit(member, new, new, kind="accredit_outlet", outlet_id=str(applicant), title="t")
    assert again.status_code == 409
    assert alert_of(again.text) == (
        "A proposal on this outlet is already open: it must be closed before another one."
    )
    assert proposals_of(engine, assembly.fund) == before + 1


NOT_A_PROPOSER = (
    "Only the fund's coordinators and the adult members of its active households may make"
    " a proposal."
)


def test_a_minor_or_a_suspended_household_may_not_propose_and_is_told_why(
    login: Login, engine: Engine, assembly: Assembly
) -> None:
    slug = assembly.fund.slug
    new = f"/assembly/{slug}/new"
    applicant = outlet(engine, assembly.fund)
    fields = {"kind": "accredit_outlet", "outlet_id": str(applicant), "title": "Accréditer"}
    _, child = household(engine, assembly.fund, [ADULT, years_ago(15)], logins=False)
    minor = login(login_for(engine, child.id))
    (adult,) = household(engine, assembly.fund, [ADULT], logins=False)
    suspended = login(login_for(engine, adult.id))
    set_household_status(engine, adult.household_id, "suspended")
    before = proposals_of(engine, assembly.fund)
    for client in (minor, suspended):
        listing = client.get(f"/assembly/{slug}")
        assert listing.status_code == 200  # they read the assembly
        assert f'href="{new}"' not in listing.text
        form = client.get(new)
        assert form.status_code == 403
        assert alert_of(form.text) == NOT_A_PROPOSER
        assert 'name="title"' not in form.text
        token = csrf_of(listing.text)
        refused = client.post(new, data={"csrf_token": token, **fields})
        assert refused.status_code == 403
        assert alert_of(refused.text) == NOT_A_PROPOSER
    assert proposals_of(engine, assembly.fund) == before
    assert standing(engine, assembly.fund, applicant) == "applicant"


def test_a_member_of_another_fund_may_not_propose(
    login: Login, engine: Engine, assembly: Assembly
) -> None:
    new = f"/assembly/{assembly.fund.slug}/new"
    outsider = login(assembly.outsider)
    before = proposals_of(engine, assembly.fund)
    refused = outsider.get(new)
    assert refused.status_code == 403
    assert "Not allowed" in refused.text
    token = csrf_of(outsider.get("/").text)
    fields = {"kind": "accredit_outlet", "outlet_id": str(outlet(engine, assembly.fund))}
    refused = outsider.post(new, data={"csrf_token": token, "title": "t", **fields})
    assert refused.status_code == 403
    assert "Not allowed" in refused.text
    assert proposals_of(engine, assembly.fund) == before


def test_a_members_proposal_needs_the_session_token(
    login: Login, engine: Engine, member: TestClient, assembly: Assembly
) -> None:
    new = f"/assembly/{assembly.fund.slug}/new"
    fields = {"kind": "accredit_outlet", "outlet_id": str(outlet(engine, assembly.fund))}
    foreign = csrf_of(login(assembly.members[1]).get("/").text)
    before = proposals_of(engine, assembly.fund)
    for token in ({}, {"csrf_token": "forged"}, {"csrf_token": foreign}):
        refused = member.post(new, data={"title": "Sans jeton", **fields, **token})
        assert refused.status_code == 403
        assert "Form expired" in refused.text
    assert proposals_of(engine, assembly.fund) == before


# --- The coordinator: opening, closing, what a close enacts ------------------------------


def test_the_coordinator_opens_a_vote_closes_it_and_the_outlet_can_take_payments(
    login: Login, engine: Engine, coordinator: TestClient, assembly: Assembly
) -> None:
    slug = assembly.fund.slug
    new = f"/assembly/{slug}/new"
    # A fresh applicant, with its cashier: not accredited, the card cannot pay there.
    applicant = outlet(engine, assembly.fund)
    cashier = login(add_user(engine, role=Role.cashier, outlet_id=applicant))
    till = f"/till/{applicant}"
    fields = {"member_number": assembly.member_numbers[0], "amount": "4,20", "pin": PIN}
    before = submit(cashier, till, f"{till}/pay", **fields)
    assert before.status_code == 403
    assert alert_of(before.text) == (
        "This shop is not accredited by the member's fund: the card cannot pay here."
    )
    form = coordinator.get(new)
    assert form.status_code == 200
    assert f'<option value="{applicant}">' in form.text
    assert "(applicant)" in form.text
    assert "(accredited)" in form.text
    # Plain-words refusals: a title is needed; an accredited outlet cannot be accredited.
    untitled = submit(coordinator, new, new, kind="accredit_outlet", outlet_id=str(applicant))
    assert untitled.status_code == 422
    assert "Give the proposal a title" in untitled.text
    twice = submit(
        coordinator,
        new,
        new,
        kind="accredit_outlet",
        outlet_id=str(assembly.accredited_id),
        title="Accréditer encore",
    )
    assert twice.status_code == 409
    assert alert_of(twice.text) == (
        "This outlet is accredited in this fund: this kind of proposal does not apply to it."
    )
    past = submit(
        coordinator,
        new,
        new,
        kind="accredit_outlet",
        outlet_id=str(applicant),
        title="Accréditer la ferme",
        closes_on="2001-01-01",
    )
    assert past.status_code == 422
    assert "The vote must close in the future" in past.text
    opened = submit(
        coordinator,
        new,
        new,
        kind="accredit_outlet",
        outlet_id=str(applicant),
        title="Accréditer la ferme",
        description="Visite faite.\nAvis favorable.",
    )
    assert opened.status_code == 303
    path = opened.headers["location"]
    page = coordinator.get(path)
    words = text_of(page.text)
    assert "The proposal is open: the members can vote until" in words
    assert "Accréditer la ferme" in words
    assert "Close the vote now" in words
    # Both members vote yes.
    for email in assembly.members:
        assert vote(login(email), path.rsplit("/", 1)[-1], "yes").status_code == 303
    confirm = coordinator.get(f"{path}/close")
    assert confirm.status_code == 200
    words = text_of(confirm.text)
    assert "Close the vote?" in words
    assert "2 of 2 voters have voted." in words
    closed = submit(coordinator, f"{path}/close", f"{path}/close")
    assert closed.status_code == 303
    page = coordinator.get(path)
    words = text_of(page.text)
    assert "The vote is closed. Result: Adopted." in words
    assert "The outlet is now accredited by the fund: the members' cards can pay there." in words
    assert "Yes 2" in words
    assert "Turnout: 100% (quorum: 20%)." in words
    assert standing(engine, assembly.fund, applicant) == "accredited"
    # Closing again does nothing; the confirmation page sends back to the result.
    assert coordinator.get(f"{path}/close", follow_redirects=False).status_code == 303
    assert submit(coordinator, path, f"{path}/close").status_code == 303
    # The cashier of the outlet now takes the payment.
    after = submit(cashier, till, f"{till}/pay", **fields)
    assert after.status_code == 201, after.text
    assert "Payment accepted" in after.text


def test_the_pages_speak_french(login: Login, assembly: Assembly) -> None:
    member = login(assembly.members[0], "fr")
    page = member.get(proposal_path(assembly.proposal_id))
    words = text_of(page.text)
    assert "Vous n’avez pas encore voté." in words
    assert "Conventionner le point de vente" in words
    assert "Origine locale" in words
    assert re.search(r"\d{1,2} \w+ \d{4} à \d{2}:\d{2}", words), words
    assert "Assemblée" in words


# --- Committees drawn by lot -------------------------------------------------------------


def test_the_coordinator_draws_a_committee_that_anyone_can_replay(
    login: Login, engine: Engine, coordinator: TestClient, assembly: Assembly
) -> None:
    page_path = f"/assembly/{assembly.fund.slug}/committee"
    page = coordinator.get(page_path)
    assert page.status_code == 200
    assert "No committee has been drawn." in text_of(page.text)
    too_big = submit(
        coordinator, page_path, page_path, size="3", seed="boules 03 18", strata="income_band"
    )
    assert too_big.status_code == 409
    assert alert_of(too_big.text) == (
        "The fund has only 2 adults in its active households: the committee cannot have more seats."
    )
    blank = submit(coordinator, page_path, page_path, size="", seed="")
    assert blank.status_code == 422
    assert "The number of seats is a whole number" in blank.text
    drawn = submit(coordinator, page_path, page_path, size="1", seed="boules 03 18", in_force="1")
    assert drawn.status_code == 303
    draw_path = drawn.headers["location"]
    seen = coordinator.get(draw_path)
    words = text_of(seen.text)
    assert "The committee is drawn." in words
    assert "boules 03 18" in words
    assert "P0 Test" in words  # names: the coordinator's only
    roll = coordinator.get(f"{draw_path}/roll.json")
    assert roll.status_code == 200
    body = roll.json()
    assert body["seed"] == "boules 03 18"
    assert len(body["roll"]) == 2
    replayed = lottery.draw(
        body["seed"], body["size"], [(e["person_id"], e["stratum"]) for e in body["roll"]]
    )
    assert (
        lottery.roll_digest([(e["person_id"], e["stratum"]) for e in body["roll"]])
        == (body["roll_sha256"])
    )
    (drawn_id,) = replayed.person_ids
    assert drawn_id in seen.text
    # A member sees the draw, not the names, and whether they were drawn; not the roll.
    for email in assembly.members:
        member = login(email)
        shown = member.get(draw_path)
        assert shown.status_code == 200
        words = text_of(shown.text)
        assert "P0 Test" not in words
        assert drawn_id not in shown.text
        assert "The fund's coordinators hold the list" in words
        assert member.get(f"{draw_path}/roll.json").status_code == 403
        if "You were drawn" in words:
            break
    else:
        pytest.fail("neither member was told they were drawn")
    listing = text_of(coordinator.get(page_path).text)
    assert "boules 03 18" in listing
    # The fund works with the committee: a proposal opened now is its vote.
    applicant = outlet(engine, assembly.fund)
    proposal_id = open_vote(engine, assembly.fund, applicant)
    page = coordinator.get(proposal_path(proposal_id))
    assert "1 member of the committee drawn by lot" in text_of(page.text)
    assert json.dumps(drawn_id) not in page.text
