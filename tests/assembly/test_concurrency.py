"""The assembly under real concurrency, on both engines: threads with their own database
connections (each in its own unit of work, as requests are), and a real server process
taking simultaneous HTTP votes. Double votes count once, no vote is lost, closes race
harmlessly and enact once."""

import os
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from ssa.assembly.models import Ballot, Choice, Proposal, ProposalVoter
from ssa.assembly.schemas import ProposalIn
from ssa.assembly.service import cast_vote, close_proposal, open_proposal
from ssa.audit.models import AuditEntry
from ssa.auth.tokens import TokenSigner
from ssa.db import make_engine, unit_of_work
from ssa.funds.models import Fund
from ssa.outlets.models import OutletStatusChange
from ssa.problems import Problem
from ssa.settings import Settings
from tests.assembly.helpers import assembly_fund, household, outlet
from tests.payments.test_concurrency_server import free_port, server_env

KEYS = ["test-secret-key-not-for-production"]


def _proposal(engine: Engine, fund: Fund) -> uuid.UUID:
    with unit_of_work(engine) as session:
        proposal = open_proposal(
            db_session=session,
            fund_id=fund.id,
            proposal_in=ProposalIn(
                kind="accredit_outlet", outlet_id=outlet(engine, fund), title="Accréditer"
            ),
            actor="system:test",
            proposer_person_id=None,
        )
        return proposal.id


def _persons(engine: Engine, fund: Fund, count: int) -> list[uuid.UUID]:
    return [household(engine, fund, logins=False)[0].id for _ in range(count)]


def _vote(engine: Engine, proposal_id: uuid.UUID, person_id: uuid.UUID, choice: Choice) -> str:
    try:
        with unit_of_work(engine) as session:
            cast_vote(
                db_session=session,
                proposal_id=proposal_id,
                person_id=person_id,
                choice=choice,
                actor="system:test",
                secret_keys=KEYS,
            )
        return "ok"
    except Problem as problem:
        return problem.code


def _all_at_once(calls: list[Callable[[], Any]]) -> list[Any]:
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], Any]) -> Any:
        barrier.wait()
        return call()

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def _ballots(engine: Engine, proposal_id: uuid.UUID) -> Counter[str | None]:
    with Session(engine) as session:
        return Counter(
            session.exec(select(Ballot.choice).where(col(Ballot.proposal_id) == proposal_id)).all()
        )


def _voted(engine: Engine, proposal_id: uuid.UUID) -> int:
    with Session(engine) as session:
        return int(
            session.exec(
                select(func.count())
                .select_from(ProposalVoter)
                .where(
                    col(ProposalVoter.proposal_id) == proposal_id,
                    col(ProposalVoter.has_voted).is_(True),
                )
            ).one()
        )


def test_simultaneous_votes_of_one_person_count_once(engine: Engine) -> None:
    fund = assembly_fund(engine)
    person, *_ = _persons(engine, fund, 3)
    proposal_id = _proposal(engine, fund)
    choices = [Choice.yes, Choice.no] * 4
    outcomes = _all_at_once(
        [lambda c=c: _vote(engine, proposal_id, person, c) for c in choices]  # type: ignore[misc]
    )
    assert outcomes == ["ok"] * len(choices)
    ballots = _ballots(engine, proposal_id)
    assert ballots["yes"] + ballots["no"] == 1
    assert ballots.total() == 1
    assert _voted(engine, proposal_id) == 1
    with unit_of_work(engine) as session:
        closed, _ = close_proposal(db_session=session, proposal_id=proposal_id, actor="t")
        assert (closed.yes_count or 0) + (closed.no_count or 0) == 1


def test_simultaneous_votes_of_many_people_are_all_counted(engine: Engine) -> None:
    fund = assembly_fund(engine)
    persons = _persons(engine, fund, 12)
    proposal_id = _proposal(engine, fund)
    # Each person votes twice at the same moment (first and final choice may race).
    calls = [
        lambda p=p, c=c: _vote(engine, proposal_id, p, c)  # type: ignore[misc]
        for p in persons
        for c in (Choice.yes, Choice.abstain)
    ]
    assert _all_at_once(calls) == ["ok"] * len(calls)
    ballots = _ballots(engine, proposal_id)
    assert ballots["yes"] + ballots["abstain"] == 12
    assert ballots.total() == 12
    assert _voted(engine, proposal_id) == 12


def test_closes_racing_each_other_and_votes_close_once(engine: Engine) -> None:
    fund = assembly_fund(engine, quorum_percent=0)
    persons = _persons(engine, fund, 8)
    proposal_id = _proposal(engine, fund)

    def closing() -> str:
        with unit_of_work(engine) as session:
            _, closed_now = close_proposal(db_session=session, proposal_id=proposal_id, actor="t")
        return "closed" if closed_now else "already"

    calls: list[Callable[[], Any]] = [closing for _ in range(4)]
    calls += [
        lambda p=p: _vote(engine, proposal_id, p, Choice.yes)  # type: ignore[misc]
        for p in persons
    ]
    outcomes = Counter(_all_at_once(calls))
    assert outcomes["closed"] == 1
    assert outcomes["already"] == 3
    accepted = outcomes["ok"]
    assert accepted + outcomes["proposal_closed"] == len(persons)
    with Session(engine) as session:
        proposal = session.get(Proposal, proposal_id)
        assert proposal is not None
        # Every vote accepted before the close is in the tally, and none after it.
        assert proposal.yes_count == accepted
        assert proposal.result == ("adopted" if accepted else "rejected")
        changes = session.exec(
            select(OutletStatusChange).where(col(OutletStatusChange.proposal_id) == proposal_id)
        ).all()
        assert len(changes) == (1 if accepted else 0)
        closes = session.exec(
            select(AuditEntry).where(
                col(AuditEntry.target_id) == str(proposal_id),
                col(AuditEntry.action) == "proposal.close",
            )
        ).all()
        assert len(closes) == 1


# --- Through a real server ----------------------------------------------------------


@pytest.fixture
def served(fresh_database_url: Callable[[], str]) -> Iterator[tuple[str, str]]:
    """`ssa serve` with two workers on a fresh database: (base URL, database URL)."""
    url = fresh_database_url()
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "ssa", "serve", "--port", str(port), "--workers", "2"],
        env=server_env(url),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                output = process.stdout.read() if process.stdout else ""
                pytest.fail(f"the server stopped: {output}")
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("the server did not get ready in 60 s")
            time.sleep(0.2)
        yield base, url
    finally:
        process.terminate()
        try:
            output, _ = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            output, _ = process.communicate()
        assert "Traceback" not in (output or ""), output


@pytest.mark.slow
def test_double_votes_sent_at_once_to_a_real_server_count_once(
    served: tuple[str, str],
) -> None:
    base, url = served
    engine = make_engine(Settings(database_url=url))
    try:
        fund = assembly_fund(engine)
        persons = [household(engine, fund)[0] for _ in range(6)]
        proposal_id = _proposal(engine, fund)
    finally:
        engine.dispose()
    signer = TokenSigner(Settings(secret_key=os.environ["SSA_SECRET_KEY"]))
    tokens = {p.id: signer.issue(subject=f"user:{p.user_id}", roles=[])[0] for p in persons}
    bodies = [(person_id, choice) for person_id in tokens for choice in ("yes", "no", "yes")]
    with httpx.Client(base_url=base, timeout=60) as http:

        def send(item: tuple[uuid.UUID, str]) -> int:
            person_id, choice = item
            return http.post(
                f"/api/v1/proposals/{proposal_id}/votes",
                json={"choice": choice},
                headers={"Authorization": f"Bearer {tokens[person_id]}"},
            ).status_code

        statuses = _all_at_once([lambda b=b: send(b) for b in bodies])  # type: ignore[misc]
    assert statuses == [200] * len(bodies)
    engine = make_engine(Settings(database_url=url))
    try:
        ballots = _ballots(engine, proposal_id)
        assert ballots["yes"] + ballots["no"] == len(persons)
        assert ballots.total() == len(persons)
        assert _voted(engine, proposal_id) == len(persons)
    finally:
        engine.dispose()
