"""The secret ballot, read from the raw tables as an administrator would, on both engines.

After votes, nothing in the database links a person to a ballot: the ballots have no
timestamp, no sequence and no id shared with anything else; PostgreSQL's transaction ids
(`xmin`) are the same on every ballot of the proposal; the physical order of the ballots
(SQLite's rowid, PostgreSQL's ctid) does not follow the order of the votes; the only link,
a keyed token, needs the server key and is erased at the close. The API never tells
anyone, the voter included, how a person voted.
"""

import uuid
from collections import Counter
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, inspect, text
from sqlmodel import Session

from ssa.assembly.ballots import ballot_token
from ssa.assembly.models import Choice
from ssa.assembly.schemas import ProposalIn
from ssa.assembly.service import cast_vote, close_proposal, open_proposal
from ssa.db import unit_of_work
from tests.assembly.helpers import (
    assembly_fund,
    close,
    household,
    opened,
    outlet,
    voted,
    voters,
)
from tests.conftest import People

KEY = "test-secret-key-not-for-production"


def _rows(engine: Engine, sql: str, **params: Any) -> list[dict[str, Any]]:
    with Session(engine) as session:
        result = session.connection().execute(text(sql), params)
        return [dict(row._mapping) for row in result]


def _physical(engine: Engine, proposal_id: uuid.UUID) -> list[dict[str, Any]]:
    """The proposal's ballots in storage order, with the engine's system columns."""
    if engine.dialect.name == "postgresql":
        rows = _rows(
            engine,
            "SELECT ctid::text AS position, xmin::text AS xmin, id, token, choice"
            " FROM ballot WHERE proposal_id = :p",
            p=proposal_id,
        )
        return sorted(rows, key=lambda r: _ctid(r["position"]))
    return _rows(
        engine,
        "SELECT rowid AS position, id, token, choice FROM ballot"
        " WHERE proposal_id = :p ORDER BY rowid",
        p=proposal_id.hex,
    )


def _ctid(position: str) -> tuple[int, int]:
    page, item = position.strip("()").split(",")
    return int(page), int(item)


def test_the_ballot_table_holds_no_link_to_a_person(
    client: TestClient, engine: Engine, people: People
) -> None:
    fund = assembly_fund(engine)
    coordinator = people.as_(("coordinator", fund.id))
    crowd = voters(engine, fund, people, 4)
    pid = opened(client, coordinator, fund, outlet(engine, fund))["id"]
    voted(client, crowd[0], pid, "yes")
    voted(client, crowd[1], pid, "no")
    voted(client, crowd[1], pid, "abstain")

    with Session(engine) as session:
        columns = {c["name"] for c in inspect(session.connection()).get_columns("ballot")}
    assert columns == {"id", "proposal_id", "token", "choice"}  # no time, no sequence

    proposal_id = uuid.UUID(pid)
    ballots = _physical(engine, proposal_id)
    assert Counter(b["choice"] for b in ballots) == {"yes": 1, "abstain": 1}  # one each
    # Nothing a ballot holds is found anywhere else in the database.
    ids = {str(uuid.UUID(str(b["id"]))) for b in ballots}
    tokens = {b["token"] for b in ballots if b["token"]}
    dump = _everything_but_ballots(engine)
    assert not any(value in dump for value in ids | tokens)
    # The token is the only link, and it takes the server key to follow it.
    for voter_ in crowd[:2]:
        assert ballot_token(KEY, proposal_id, voter_.person_id) in tokens
        assert ballot_token("another key", proposal_id, voter_.person_id) not in tokens

    if engine.dialect.name == "postgresql":
        # Every vote re-created every ballot: one transaction id for all, so `xmin` does
        # not point at the ballot the last voter cast.
        assert len({b["xmin"] for b in ballots}) == 1

    closed = close(client, coordinator, pid)
    assert closed["tally"] == {"yes": 1, "no": 0, "abstain": 1}
    after = _physical(engine, proposal_id)
    assert all(b["token"] is None for b in after)  # even the key links nothing now
    assert Counter(b["choice"] for b in after) == {"yes": 1, "abstain": 1}


def _everything_but_ballots(engine: Engine) -> str:
    """Every value of every other table, as text (what a dump would show)."""
    with Session(engine) as session:
        connection = session.connection()
        names = [n for n in inspect(connection).get_table_names() if n != "ballot"]
        values = []
        for name in names:
            for row in connection.execute(text(f'SELECT * FROM "{name}"')):
                values.extend(str(v) for v in row if v is not None)
    text_dump = "\n".join(values)
    # SQLite keeps UUIDs as 32 hex digits: show them hyphenated as well.
    return (
        text_dump + "\n" + "\n".join(str(uuid.UUID(v)) for v in values if len(v) == 32 and _hex(v))
    )


def _hex(value: str) -> bool:
    try:
        int(value, 16)
    except ValueError:
        return False
    return True


def test_the_storage_order_of_ballots_does_not_follow_the_order_of_votes(
    engine: Engine,
) -> None:
    """Ten proposals, each with six voters of whom two vote, one after the other: how
    the first voter's ballot sits against the second's in storage is a coin toss."""
    fund = assembly_fund(engine)
    persons = [household(engine, fund, logins=False)[0].id for _ in range(6)]
    first_is_first = 0
    trials = 12
    for _ in range(trials):
        with unit_of_work(engine) as session:
            proposal = open_proposal(
                db_session=session,
                fund_id=fund.id,
                proposal_in=ProposalIn(
                    kind="accredit_outlet", outlet_id=outlet(engine, fund), title="t"
                ),
                actor="system:test",
                proposer_person_id=None,
            )
            proposal_id = proposal.id
        for person_id, choice in ((persons[0], Choice.yes), (persons[1], Choice.no)):
            with unit_of_work(engine) as session:
                cast_vote(
                    db_session=session,
                    proposal_id=proposal_id,
                    person_id=person_id,
                    choice=choice,
                    actor="system:test",
                    secret_keys=[KEY],
                )
        order = [b["choice"] for b in _physical(engine, proposal_id) if b["choice"]]
        assert sorted(order) == ["no", "yes"]
        first_is_first += order[0] == "yes"
        with unit_of_work(engine) as session:
            close_proposal(db_session=session, proposal_id=proposal_id, actor="t")
    # All twelve the same way round would happen by chance once in 2048 runs.
    assert 0 < first_is_first < trials, first_is_first


def test_the_api_tells_nobody_how_a_person_voted(
    client: TestClient, engine: Engine, people: People
) -> None:
    fund = assembly_fund(engine)
    coordinator = people.as_(("coordinator", fund.id))
    auditor = people.as_(("auditor", fund.id))
    crowd = voters(engine, fund, people, 3)
    pid = opened(client, coordinator, fund, outlet(engine, fund))["id"]
    voted(client, crowd[0], pid, "no")
    voted(client, crowd[1], pid, "yes")
    readers = [coordinator, auditor, crowd[0].headers, crowd[2].headers]
    for headers in readers:
        seen = client.get(f"/api/v1/proposals/{pid}", headers=headers).json()
        assert seen["tally"] is None
        assert seen["my_vote"] is None
        assert seen["result"] is None
        listed = client.get(f"/api/v1/funds/{fund.id}/proposals", headers=headers).json()
        assert all(item["tally"] is None for item in listed["items"])
    log = client.get(f"/api/v1/funds/{fund.id}/audit-log", headers=auditor).text
    assert '"no"' not in log
    assert '"yes"' not in log
    # A vote sent with an Idempotency-Key leaves no stored request behind.
    key = uuid.uuid4().hex
    response = client.post(
        f"/api/v1/proposals/{pid}/votes",
        json={"choice": "abstain"},
        headers={**crowd[2].headers, "Idempotency-Key": key},
    )
    assert response.status_code == 200
    assert "Idempotent-Replayed" not in response.headers
    assert _rows(engine, "SELECT * FROM idempotency_key WHERE key = :k", k=key) == []
    closed = close(client, coordinator, pid)
    assert closed["tally"] == {"yes": 1, "no": 1, "abstain": 1}
    assert closed["my_vote"] is None
