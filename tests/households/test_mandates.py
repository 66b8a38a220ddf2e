"""SEPA direct-debit mandates and the period's pain.008 file, on both engines.

The file is checked against the ISO 20022 schema shipped with sepaxml, and read back
element by element: who is debited, how much, under which mandate, FRST or RCUR.
"""

import uuid
import xml.etree.ElementTree as ET
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sepaxml  # type: ignore[import-untyped]
import xmlschema
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, text
from sqlmodel import Session, col, select

from ssa.audit.models import AuditEntry
from ssa.funds.service import current_period, fund_today
from ssa.households.mandates import set_mandate
from ssa.households.models import (
    Contribution,
    DirectDebitMandate,
    Household,
    HouseholdStatus,
    Person,
)
from ssa.households.schemas import MandateIn
from ssa.households.service import HouseholdLeft
from ssa.issuance import periods
from ssa.ledger.models import LedgerTransaction
from tests.conftest import People
from tests.households.helpers import (
    VALID_IBAN,
    household_body,
    new_outlet,
    person,
    register,
    unique_email,
)

PAIN_008 = Path(sepaxml.__file__).parent / "schemas" / "pain.008.001.02.xsd"
NS = {"p": "urn:iso:std:iso:20022:tech:xsd:pain.008.001.02"}
CREDITOR_ID = "FR72ZZZ123456"
# Valid IBANs of SEPA countries (made-up accounts), and one from outside the zone.
DEBTOR_IBAN = "FR1420041010050500013M02606"
OTHER_IBAN = "DE89370400440532013000"
BRAZIL_IBAN = "BR1800360305000010009795493C1"


def sepa_fund(
    client: TestClient, people: People, creditor_id: str | None = CREDITOR_ID
) -> uuid.UUID:
    body: dict[str, Any] = {
        "slug": f"dd-{uuid.uuid4().hex[:10]}",
        "name": "Caisse locale d'Écully",
        "iban": VALID_IBAN,
        "bic": "BDFEFRPP",
    }
    if creditor_id is not None:
        body["sepa_creditor_id"] = creditor_id
    response = client.post("/api/v1/funds", json=body, headers=people.as_(("admin", None)))
    assert response.status_code == 201, response.text
    return uuid.UUID(response.json()["id"])


def mandate_body(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "debtor_name": "Camille Martin",
        "iban": "FR14 2004 1010 0505 0001 3M02 606",
        "signed_on": "2026-01-15",
    }
    return {**body, **changes}


def put_mandate(
    client: TestClient, household_id: str, headers: dict[str, str], **changes: Any
) -> dict[str, Any]:
    response = client.put(
        f"/api/v1/households/{household_id}/mandate", json=mandate_body(**changes), headers=headers
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def problem(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    return body


def mandated(client: TestClient, fund_id: uuid.UUID, coordinator: dict[str, str]) -> dict[str, Any]:
    """A household owing 20 € a month, with a direct-debit mandate."""
    made = register(client, fund_id, coordinator, household_body(chosen=2000))
    put_mandate(client, made["id"], coordinator)
    return made


def next_period() -> str:
    return periods.shift(current_period(), 1)


def soon() -> str:
    return (fund_today() + timedelta(days=5)).isoformat()


def debit_file(
    client: TestClient, fund_id: uuid.UUID, treasurer: dict[str, str], period: str
) -> Any:
    return client.get(
        f"/api/v1/funds/{fund_id}/contributions/direct-debit.xml",
        params={"period": period, "collection_date": soon()},
        headers=treasurer,
    )


def debits(xml: str) -> dict[str, dict[str, str]]:
    """The file's debits by end-to-end id, after checking it against the XSD (and that
    they are to be collected on `soon()`)."""
    found = debits_on(xml)
    root = ET.fromstring(xml)  # noqa: S314 (our own answer, in a test)
    for block in root.findall("p:CstmrDrctDbtInitn/p:PmtInf", NS):
        assert block.findtext("p:ReqdColltnDt", namespaces=NS) == soon()
    return found


def debits_on(xml: str) -> dict[str, dict[str, str]]:
    """The file's debits by end-to-end id, after checking it against the XSD."""
    xmlschema.XMLSchema(str(PAIN_008)).validate(xml)
    root = ET.fromstring(xml)  # noqa: S314 (our own answer, in a test)
    found: dict[str, dict[str, str]] = {}
    for block in root.findall("p:CstmrDrctDbtInitn/p:PmtInf", NS):
        sequence = block.findtext("p:PmtTpInf/p:SeqTp", namespaces=NS)
        assert sequence is not None
        assert block.findtext("p:CdtrSchmeId/p:Id/p:PrvtId/p:Othr/p:Id", namespaces=NS) == (
            CREDITOR_ID
        )
        assert block.findtext("p:CdtrAcct/p:Id/p:IBAN", namespaces=NS) == VALID_IBAN
        for tx in block.findall("p:DrctDbtTxInf", NS):
            end_to_end = tx.findtext("p:PmtId/p:EndToEndId", namespaces=NS)
            assert end_to_end is not None
            found[end_to_end] = {
                "sequence": sequence,
                "amount": tx.findtext("p:InstdAmt", namespaces=NS) or "",
                "mandate": tx.findtext("p:DrctDbtTx/p:MndtRltdInf/p:MndtId", namespaces=NS) or "",
                "signed": tx.findtext("p:DrctDbtTx/p:MndtRltdInf/p:DtOfSgntr", namespaces=NS) or "",
                "iban": tx.findtext("p:DbtrAcct/p:Id/p:IBAN", namespaces=NS) or "",
                "name": tx.findtext("p:Dbtr/p:Nm", namespaces=NS) or "",
                "remittance": tx.findtext("p:RmtInf/p:Ustrd", namespaces=NS) or "",
            }
    header = root.find("p:CstmrDrctDbtInitn/p:GrpHdr", NS)
    assert header is not None
    assert header.findtext("p:NbOfTxs", namespaces=NS) == str(len(found))
    return found


def contribute(
    client: TestClient,
    fund_id: uuid.UUID,
    treasurer: dict[str, str],
    household_id: str,
    amount: int,
    period: str,
    method: str = "transfer",
) -> None:
    response = client.post(
        f"/api/v1/funds/{fund_id}/contributions",
        json={
            "household_id": household_id,
            "period": period,
            "amount_cents": amount,
            "method": method,
            "received_on": fund_today().isoformat(),
        },
        headers={**treasurer, "Idempotency-Key": uuid.uuid4().hex},
    )
    assert response.status_code == 201, response.text


# --- Mandates ----------------------------------------------------------------------------


def test_a_mandate_is_given_amended_replaced_and_revoked_and_kept(
    client: TestClient, people: People
) -> None:
    fund_id = sepa_fund(client, people)
    coordinator = people.as_(("coordinator", fund_id))
    auditor = people.as_(("auditor", fund_id))
    household = register(client, fund_id, coordinator)
    url = f"/api/v1/households/{household['id']}/mandate"

    assert problem(client.get(url, headers=coordinator), 404, "mandate_not_found")
    given = put_mandate(client, household["id"], coordinator, bic="agrifrpp 882")
    assert given["reference"] == f"SSA-{household['member_number']}-1"
    assert given["iban"] == DEBTOR_IBAN  # compact
    assert given["bic"] == "AGRIFRPP882"
    assert given["status"] == "active"
    assert given["next_sequence_type"] == "FRST"
    assert client.get(url, headers=coordinator).json() == given

    # The same reference (or none): the same mandate, amended.
    amended = put_mandate(
        client, household["id"], coordinator, debtor_name="C. Martin", reference=given["reference"]
    )
    assert amended["id"] == given["id"]
    assert amended["debtor_name"] == "C. Martin"
    assert amended["bic"] is None

    # Another reference: a new mandate; the old one is revoked and kept.
    replaced = put_mandate(client, household["id"], coordinator, reference="ECULLY-2026/0042")
    assert replaced["id"] != given["id"]
    assert replaced["reference"] == "ECULLY-2026/0042"
    history = client.get(f"{url}s", headers=coordinator).json()
    assert history["next_cursor"] is None
    assert [(m["id"], m["status"]) for m in history["items"]] == [
        (replaced["id"], "active"),
        (given["id"], "revoked"),
    ]
    assert history["items"][1]["revoked_at"] is not None
    # Paged as every list of the API: one at a time, then the next.
    first = client.get(f"{url}s?limit=1", headers=coordinator).json()
    assert [m["id"] for m in first["items"]] == [replaced["id"]]
    assert first["next_cursor"] is not None
    second = client.get(
        f"{url}s", params={"limit": 1, "cursor": first["next_cursor"]}, headers=coordinator
    ).json()
    assert [m["id"] for m in second["items"]] == [given["id"]]
    assert second["next_cursor"] is None
    problem(client.get(f"{url}s?cursor=nonsense", headers=coordinator), 422, "validation_error")

    assert client.delete(url, headers=coordinator).status_code == 204
    problem(client.get(url, headers=coordinator), 404, "mandate_not_found")
    problem(client.delete(url, headers=coordinator), 404, "mandate_not_found")
    assert [m["status"] for m in client.get(f"{url}s", headers=coordinator).json()["items"]] == [
        "revoked",
        "revoked",
    ]
    # A new one after all that gets the next generated reference.
    again = put_mandate(client, household["id"], coordinator)
    assert again["reference"] == f"SSA-{household['member_number']}-3"

    log = client.get(f"/api/v1/funds/{fund_id}/audit-log?limit=500", headers=auditor)
    assert log.status_code == 200
    entries = [e for e in log.json()["items"] if e["target_id"] == household["id"]]
    actions = [e["action"] for e in entries if e["action"].startswith("mandate.")]
    assert sorted(actions) == sorted(
        ["mandate.create"] * 3 + ["mandate.amend"] + ["mandate.revoke"] * 2
    )
    # The auditor reads the log: no IBAN and no account holder in it.
    assert DEBTOR_IBAN not in log.text
    assert "2004101005050001" not in log.text
    assert "Martin" not in log.text
    assert "FR14...2606" in log.text


def test_mandate_validation_errors(client: TestClient, people: People) -> None:
    fund_id = sepa_fund(client, people)
    coordinator = people.as_(("coordinator", fund_id))
    household = register(client, fund_id, coordinator)
    url = f"/api/v1/households/{household['id']}/mandate"

    def put(**changes: Any) -> Any:
        return client.put(url, json=mandate_body(**changes), headers=coordinator)

    problem(put(iban="FR7630006000011234567890188"), 422, "invalid_iban")  # check digits
    problem(put(iban=BRAZIL_IBAN), 422, "invalid_iban")  # valid, but outside SEPA
    problem(put(bic="NOTABIC!"), 422, "invalid_bic")
    for reference in ("with space", "/leading", "trailing/", "a//b", "é-accent", "x" * 36, ""):
        problem(put(reference=reference), 422, "validation_error")
    problem(put(signed_on=(fund_today() + timedelta(days=1)).isoformat()), 422, "validation_error")
    problem(put(signed_on="2001-01-01"), 422, "validation_error")
    problem(put(debtor_name=""), 422, "validation_error")
    problem(put(debtor_name="x" * 71), 422, "validation_error")
    problem(put(extra="field"), 422, "validation_error")
    assert problem(client.get(url, headers=coordinator), 404, "mandate_not_found")

    # A reference is unique in the fund; another fund may use it.
    put_mandate(client, household["id"], coordinator, reference="SHARED-1")
    other = register(client, fund_id, coordinator)
    response = client.put(
        f"/api/v1/households/{other['id']}/mandate",
        json=mandate_body(reference="SHARED-1"),
        headers=coordinator,
    )
    problem(response, 409, "mandate_reference_taken")
    elsewhere = sepa_fund(client, people)
    elsewhere_coordinator = people.as_(("coordinator", elsewhere))
    third = register(client, elsewhere, elsewhere_coordinator)
    put_mandate(client, third["id"], elsewhere_coordinator, reference="SHARED-1")

    # A household that left gives no mandate.
    left = client.patch(
        f"/api/v1/households/{other['id']}", json={"status": "left"}, headers=coordinator
    )
    assert left.status_code == 200, left.text
    response = client.put(
        f"/api/v1/households/{other['id']}/mandate", json=mandate_body(), headers=coordinator
    )
    problem(response, 409, "household_left")
    problem(
        client.put(
            f"/api/v1/households/{uuid.uuid4()}/mandate", json=mandate_body(), headers=coordinator
        ),
        404,
        "not_found",
    )


def _user_of(engine: Engine, household_id: str, given_name: str) -> uuid.UUID:
    with Session(engine) as db_session:
        found = db_session.exec(
            select(Person).where(
                col(Person.household_id) == uuid.UUID(household_id),
                col(Person.given_name) == given_name,
            )
        ).one()
        assert found.user_id is not None
        return found.user_id


def test_who_may_see_and_change_a_mandate(
    client: TestClient, people: People, engine: Engine
) -> None:
    fund_id = sepa_fund(client, people)
    coordinator = people.as_(("coordinator", fund_id))
    child_born = fund_today().replace(year=fund_today().year - 12, day=1)
    family = household_body(
        persons=[
            person("Camille", "Martin", "1980-05-17", email=unique_email()),
            person("Léo", "Martin", child_born, email=unique_email()),
        ]
    )
    household = register(client, fund_id, coordinator, family)
    neighbours = register(
        client,
        fund_id,
        coordinator,
        household_body([person("Sam", "Durand", email=unique_email())]),
    )
    adult = people.headers(_user_of(engine, household["id"], "Camille"))
    child = people.headers(_user_of(engine, household["id"], "Léo"))
    neighbour = people.headers(_user_of(engine, neighbours["id"], "Sam"))
    treasurer = people.as_(("treasurer", fund_id))
    outlet_id = new_outlet(client, coordinator)
    staff = {
        "auditor": people.as_(("auditor", fund_id)),
        "other coordinator": people.as_(("coordinator", sepa_fund(client, people))),
        "admin": people.as_(("admin", None)),
        "manager": people.as_(("manager", outlet_id)),
        "neighbour": neighbour,
    }
    url = f"/api/v1/households/{household['id']}/mandate"

    # The adult of the household gives the mandate; the child may not.
    problem(client.put(url, json=mandate_body(), headers=child), 403, "forbidden")
    problem(client.put(url, json=mandate_body(), headers=treasurer), 403, "forbidden")
    given = put_mandate(client, household["id"], adult)

    # Members (the child too), the coordinator and the treasurer see the IBAN.
    for headers in (adult, child, coordinator, treasurer):
        response = client.get(url, headers=headers)
        assert response.status_code == 200, response.text
        assert response.json()["iban"] == DEBTOR_IBAN
    for name, headers in staff.items():
        for method in ("GET", "PUT", "DELETE"):
            response = client.request(
                method, url, json=mandate_body() if method == "PUT" else None, headers=headers
            )
            assert response.status_code == 403, (name, method, response.text)
            assert DEBTOR_IBAN not in response.text
        history = client.get(f"{url}s", headers=headers)
        assert history.status_code == 403, (name, history.text)
    problem(client.get(url), 401, "unauthenticated")

    problem(client.delete(url, headers=child), 403, "forbidden")
    assert client.get(url, headers=adult).json()["id"] == given["id"]
    # The treasurer revokes a mandate the bank reports cancelled.
    assert client.delete(url, headers=treasurer).status_code == 204
    put_mandate(client, household["id"], coordinator)
    assert client.delete(url, headers=adult).status_code == 204


# --- The file ----------------------------------------------------------------------------


def test_the_file_debits_exactly_the_households_that_owe_under_an_active_mandate(
    client: TestClient, people: People, engine: Engine
) -> None:
    fund_id = sepa_fund(client, people)
    coordinator = people.as_(("coordinator", fund_id))
    treasurer = people.as_(("treasurer", fund_id))
    period = current_period()

    def household(chosen: int, mandate: bool = True, **changes: Any) -> dict[str, Any]:
        made = register(client, fund_id, coordinator, household_body(chosen=chosen))
        if mandate:
            made["mandate"] = put_mandate(client, made["id"], coordinator, **changes)
        return made

    due = household(2500, debtor_name="Zoé Lefèvre", bic="AGRIFRPP882")
    partly = household(3000, iban=OTHER_IBAN)
    paid = household(2000)
    waived = household(2000)
    household(2000, mandate=False)  # owes, but gave no mandate
    revoked = household(2000)
    suspended = household(2000)
    contribute(client, fund_id, treasurer, paid["id"], 2000, period)
    contribute(client, fund_id, treasurer, partly["id"], 1000, period)
    waiver = client.post(
        f"/api/v1/funds/{fund_id}/contribution-waivers",
        json={"household_id": waived["id"], "period": period, "reason": "Perte d'emploi"},
        headers=coordinator,
    )
    assert waiver.status_code == 201, waiver.text
    assert (
        client.delete(
            f"/api/v1/households/{revoked['id']}/mandate", headers=coordinator
        ).status_code
        == 204
    )
    suspend = client.patch(
        f"/api/v1/households/{suspended['id']}", json={"status": "suspended"}, headers=coordinator
    )
    assert suspend.status_code == 200, suspend.text

    with Session(engine) as db_session:
        before = (
            db_session.exec(select(func.count()).select_from(LedgerTransaction)).one(),
            db_session.exec(select(func.count()).select_from(Contribution)).one(),
        )
    answer = debit_file(client, fund_id, treasurer, period)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/xml"
    assert f"direct-debit-{period}-{soon()}.xml" in answer.headers["content-disposition"]
    found = debits(answer.text)
    assert set(found) == {f"{due['member_number']}-{period}", f"{partly['member_number']}-{period}"}
    first = found[f"{due['member_number']}-{period}"]
    assert first == {
        "sequence": "FRST",
        "amount": "25.00",
        "mandate": due["mandate"]["reference"],
        "signed": "2026-01-15",
        "iban": DEBTOR_IBAN,
        "name": "Zoe Lefevre",  # SEPA's Latin character set
        "remittance": f"Cotisation SSA {period} adherent {due['member_number']}",
    }
    assert found[f"{partly['member_number']}-{period}"]["amount"] == "20.00"  # what is left
    assert found[f"{partly['member_number']}-{period}"]["iban"] == OTHER_IBAN
    # The same file again has the same message id (the bank refuses a second upload).
    again = debit_file(client, fund_id, treasurer, period)
    root, root_again = (ET.fromstring(a.text) for a in (answer, again))  # noqa: S314
    assert root.findtext("p:CstmrDrctDbtInitn/p:GrpHdr/p:MsgId", namespaces=NS) == (
        root_again.findtext("p:CstmrDrctDbtInitn/p:GrpHdr/p:MsgId", namespaces=NS)
    )
    # Producing the file recorded a run, and no money.
    with Session(engine) as db_session:
        after = (
            db_session.exec(select(func.count()).select_from(LedgerTransaction)).one(),
            db_session.exec(select(func.count()).select_from(Contribution)).one(),
        )
    assert after == before

    # The money arrives and is recorded: nothing is left to collect for the period.
    contribute(client, fund_id, treasurer, due["id"], 2500, period, method="direct_debit")
    contribute(client, fund_id, treasurer, partly["id"], 2000, period, method="direct_debit")
    problem(debit_file(client, fund_id, treasurer, period), 409, "nothing_to_collect")

    # Next month: those collected before are recurrent, the others first collections.
    following = debits(debit_file(client, fund_id, treasurer, next_period()).text)
    sequences = {key.rsplit("-", 2)[0]: value["sequence"] for key, value in following.items()}
    assert sequences == {
        due["member_number"]: "RCUR",
        partly["member_number"]: "RCUR",
        paid["member_number"]: "FRST",  # paid by transfer so far
        waived["member_number"]: "FRST",
    }
    assert (
        client.get(f"/api/v1/households/{due['id']}/mandate", headers=treasurer).json()[
            "next_sequence_type"
        ]
        == "RCUR"
    )

    # A new debtor account: the next collection is a first one again (the file above is
    # cancelled, as if the bank never had it, and produced anew).
    put_mandate(client, due["id"], coordinator, iban=OTHER_IBAN)
    runs = client.get(
        f"/api/v1/funds/{fund_id}/direct-debit-runs",
        params={"period": next_period()},
        headers=treasurer,
    ).json()["items"]
    cancel = client.post(
        f"/api/v1/funds/{fund_id}/direct-debit-runs/{runs[0]['id']}/cancel", headers=treasurer
    )
    assert cancel.status_code == 200, cancel.text
    following = debits(debit_file(client, fund_id, treasurer, next_period()).text)
    assert following[f"{due['member_number']}-{next_period()}"]["sequence"] == "FRST"
    assert following[f"{partly['member_number']}-{next_period()}"]["sequence"] == "RCUR"


def test_the_file_needs_a_creditor_id_a_date_to_come_and_a_treasurer(
    client: TestClient, people: People
) -> None:
    fund_id = sepa_fund(client, people, creditor_id=None)
    coordinator = people.as_(("coordinator", fund_id))
    treasurer = people.as_(("treasurer", fund_id))
    household = register(client, fund_id, coordinator)
    put_mandate(client, household["id"], coordinator)
    url = f"/api/v1/funds/{fund_id}/contributions/direct-debit.xml"

    body = problem(
        debit_file(client, fund_id, treasurer, current_period()), 409, "sepa_creditor_id_missing"
    )
    assert "creditor" in body["detail"]
    yesterday = (fund_today() - timedelta(days=1)).isoformat()
    problem(
        client.get(
            url,
            params={"period": current_period(), "collection_date": yesterday},
            headers=treasurer,
        ),
        422,
        "collection_date_past",
    )
    for params in (
        {"period": "2026-13", "collection_date": soon()},
        {"period": current_period()},
        {"period": current_period(), "collection_date": "tomorrow"},
    ):
        problem(client.get(url, params=params, headers=treasurer), 422, "validation_error")
    for headers in (coordinator, people.as_(("auditor", fund_id)), people.as_(("admin", None))):
        problem(debit_file(client, fund_id, headers, current_period()), 403, "forbidden")

    # A fund with its creditor id and nobody under mandate: nothing to collect.
    empty = sepa_fund(client, people)
    register(client, empty, people.as_(("coordinator", empty)))
    problem(
        debit_file(client, empty, people.as_(("treasurer", empty)), current_period()),
        409,
        "nothing_to_collect",
    )


@pytest.mark.parametrize("bic", [None, "BDFEFRPP"])
def test_the_file_is_valid_with_or_without_the_funds_bic(
    client: TestClient, people: People, engine: Engine, bic: str | None
) -> None:
    body: dict[str, Any] = {
        "slug": f"dd-{uuid.uuid4().hex[:10]}",
        "name": "Caisse",
        "iban": VALID_IBAN,
        "sepa_creditor_id": CREDITOR_ID,
    }
    if bic:
        body["bic"] = bic
    response = client.post("/api/v1/funds", json=body, headers=people.as_(("admin", None)))
    assert response.status_code == 201, response.text
    fund_id = uuid.UUID(response.json()["id"])
    coordinator = people.as_(("coordinator", fund_id))
    household = register(client, fund_id, coordinator)
    put_mandate(client, household["id"], coordinator)
    answer = debit_file(client, fund_id, people.as_(("treasurer", fund_id)), current_period())
    assert answer.status_code == 200, answer.text
    assert len(debits(answer.text)) == 1
    agent = ET.fromstring(answer.text).find(  # noqa: S314
        "p:CstmrDrctDbtInitn/p:PmtInf/p:CdtrAgt/p:FinInstnId", NS
    )
    assert agent is not None
    if bic:
        assert agent.findtext("p:BIC", namespaces=NS) == bic
    else:
        assert agent.findtext("p:Othr/p:Id", namespaces=NS) == "NOTPROVIDED"


def test_audit_entries_of_mandates_name_the_household(
    client: TestClient, people: People, engine: Engine
) -> None:
    fund_id = sepa_fund(client, people)
    coordinator = people.as_(("coordinator", fund_id))
    household = register(client, fund_id, coordinator)
    put_mandate(client, household["id"], coordinator)
    with Session(engine) as db_session:
        entry = db_session.exec(
            select(AuditEntry).where(
                col(AuditEntry.target_id) == household["id"],
                col(AuditEntry.action) == "mandate.create",
            )
        ).one()
    assert entry.fund_id == fund_id
    assert entry.after is not None
    assert '"iban": "FR14...2606"' in entry.after


# --- Names a bank can read ---------------------------------------------------------------


def test_a_debtor_name_is_kept_in_the_sepa_character_set(
    client: TestClient, people: People
) -> None:
    fund_id = sepa_fund(client, people)
    coordinator = people.as_(("coordinator", fund_id))
    household = register(client, fund_id, coordinator)
    url = f"/api/v1/households/{household['id']}/mandate"
    for name in ("🙂", "ー", "🙂 & <>", "  "):
        body = problem(
            client.put(url, json=mandate_body(debtor_name=name), headers=coordinator),
            422,
            "validation_error",
        )
        assert [e["loc"] for e in body["errors"]] == [["body", "debtor_name"]], body
    given = put_mandate(
        client, household["id"], coordinator, debtor_name="  Zoé  Lefèvre & <Fils> 🙂 Straße "
    )
    assert given["debtor_name"] == "Zoe Lefevre Fils Strasse"


def test_a_name_no_bank_can_read_is_a_refusal_naming_the_household_not_a_failure(
    client: TestClient, people: People, engine: Engine
) -> None:
    fund_id = sepa_fund(client, people)
    coordinator = people.as_(("coordinator", fund_id))
    treasurer = people.as_(("treasurer", fund_id))
    readable = register(client, fund_id, coordinator)
    unreadable = register(client, fund_id, coordinator)
    put_mandate(client, readable["id"], coordinator, debtor_name="Zoé Lefèvre")
    put_mandate(client, unreadable["id"], coordinator)
    # A row written before names were checked, as the API no longer takes them.
    with Session(engine) as db_session:
        for mandate in db_session.exec(
            select(DirectDebitMandate).where(col(DirectDebitMandate.fund_id) == fund_id)
        ).all():
            if str(mandate.household_id) == readable["id"]:
                mandate.debtor_name = "Zoé & <Lefèvre>"
            else:
                mandate.debtor_name = "🙂 ー"
            db_session.add(mandate)
        db_session.commit()

    body = problem(
        debit_file(client, fund_id, treasurer, current_period()), 409, "direct_debit_invalid"
    )
    assert unreadable["member_number"] in body["detail"]
    assert body["member_number"] == unreadable["member_number"]
    assert DEBTOR_IBAN not in str(body)

    # Amended, the file is produced; `&`, `<` and `>` never reach it.
    put_mandate(client, unreadable["id"], coordinator, debtor_name="Ana")
    answer = debit_file(client, fund_id, treasurer, current_period())
    assert answer.status_code == 200, answer.text
    names = {value["name"] for value in debits(answer.text).values()}
    assert names == {"Zoe Lefevre", "Ana"}
    assert "&amp;" not in answer.text
    assert "&lt;" not in answer.text


# --- Collection runs ---------------------------------------------------------------------


def _message_id(xml: str) -> str | None:
    root = ET.fromstring(xml)  # noqa: S314 (our own answer, in a test)
    return root.findtext("p:CstmrDrctDbtInitn/p:GrpHdr/p:MsgId", namespaces=NS)


def test_a_household_is_never_in_two_open_files_of_a_period(
    client: TestClient, people: People
) -> None:
    fund_id = sepa_fund(client, people)
    coordinator = people.as_(("coordinator", fund_id))
    treasurer = people.as_(("treasurer", fund_id))
    period = current_period()
    url = f"/api/v1/funds/{fund_id}/contributions/direct-debit.xml"
    runs_url = f"/api/v1/funds/{fund_id}/direct-debit-runs"
    in_a_week, in_ten_days = ((fund_today() + timedelta(days=days)).isoformat() for days in (7, 10))

    def download(when: str, for_period: str = period) -> Any:
        return client.get(
            url, params={"period": for_period, "collection_date": when}, headers=treasurer
        )

    first_a, first_b = (
        mandated(client, fund_id, coordinator),
        mandated(client, fund_id, coordinator),
    )
    first = download(in_a_week)
    assert first.status_code == 200, first.text
    assert first.headers["cache-control"] == "no-store"
    assert set(debits_on(first.text)) == {
        f"{first_a['member_number']}-{period}",
        f"{first_b['member_number']}-{period}",
    }
    # The same request: the same file, byte for byte (same message id).
    assert download(in_a_week).content == first.content
    # Another day (the form's default moves every day): nobody is debited twice.
    problem(download(in_ten_days), 409, "nothing_to_collect")

    # A newcomer owes: the next file debits the newcomer only, under a new message id.
    newcomer = mandated(client, fund_id, coordinator)
    second = download(in_ten_days)
    assert second.status_code == 200, second.text
    assert set(debits_on(second.text)) == {f"{newcomer['member_number']}-{period}"}
    assert _message_id(second.text) != _message_id(first.text)
    assert download(in_ten_days).content == second.content
    problem(download(in_a_week), 409, "nothing_to_collect")

    listed = client.get(runs_url, params={"period": period}, headers=treasurer)
    assert listed.status_code == 200, listed.text
    body = listed.json()
    assert body["next_cursor"] is None
    assert [r["message_id"] for r in body["items"]] == [
        _message_id(second.text),
        _message_id(first.text),
    ]
    run = body["items"][1]
    assert run["status"] == "open"
    assert run["collection_date"] == in_a_week
    assert run["total_cents"] == 4000
    assert {line["member_number"]: line["sequence_type"] for line in run["lines"]} == {
        first_a["member_number"]: "FRST",
        first_b["member_number"]: "FRST",
    }
    assert DEBTOR_IBAN not in listed.text
    paged = client.get(runs_url, params={"limit": 1}, headers=treasurer).json()
    assert [r["id"] for r in paged["items"]] == [body["items"][0]["id"]]
    rest = client.get(
        runs_url, params={"limit": 1, "cursor": paged["next_cursor"]}, headers=treasurer
    ).json()
    assert [r["id"] for r in rest["items"]] == [run["id"]]
    assert rest["next_cursor"] is None

    # The bank never received the first file: cancelled, its households are collected
    # again (one paid by transfer meanwhile), a first collection still.
    contribute(client, fund_id, treasurer, first_a["id"], 2000, period)
    cancel_url = f"{runs_url}/{run['id']}/cancel"
    problem(client.post(cancel_url, headers=coordinator), 403, "forbidden")
    cancelled = client.post(cancel_url, headers=treasurer)
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    assert cancelled.json()["cancelled_at"] is not None
    assert client.post(cancel_url, headers=treasurer).json() == cancelled.json()
    problem(
        client.post(f"{runs_url}/{uuid.uuid4()}/cancel", headers=treasurer),
        404,
        "direct_debit_run_not_found",
    )
    elsewhere = sepa_fund(client, people)
    problem(
        client.post(
            f"/api/v1/funds/{elsewhere}/direct-debit-runs/{run['id']}/cancel",
            headers=people.as_(("treasurer", elsewhere)),
        ),
        404,
        "direct_debit_run_not_found",
    )
    third = download(in_ten_days)
    assert third.status_code == 200, third.text
    assert {k: v["sequence"] for k, v in debits_on(third.text).items()} == {
        f"{first_b['member_number']}-{period}": "FRST"
    }

    # Next month: a mandate in an open file counts as collected (RCUR); one only in the
    # cancelled file is still a first collection.
    following = download(in_a_week, next_period())
    assert {k.rsplit("-", 2)[0]: v["sequence"] for k, v in debits_on(following.text).items()} == {
        first_a["member_number"]: "FRST",
        first_b["member_number"]: "RCUR",
        newcomer["member_number"]: "RCUR",
    }

    # The audit log says who produced and cancelled which file, without any IBAN.
    log = client.get(
        f"/api/v1/funds/{fund_id}/audit-log?limit=500", headers=people.as_(("auditor", fund_id))
    )
    actions = [e["action"] for e in log.json()["items"] if e["action"].startswith("direct_")]
    assert sorted(actions) == ["direct_debit_run.cancel"] + ["direct_debit_run.create"] * 4
    assert DEBTOR_IBAN not in log.text
    assert "Martin" not in log.text


def test_a_head_of_the_file_records_no_run(client: TestClient, people: People) -> None:
    """HEAD answers as GET (RFC 9110) but writes nothing: a link checker or `curl -I` on the
    file's address records no run, which would keep its households out of the real file."""
    fund_id = sepa_fund(client, people)
    coordinator = people.as_(("coordinator", fund_id))
    treasurer = people.as_(("treasurer", fund_id))
    mandated(client, fund_id, coordinator)
    url = f"/api/v1/funds/{fund_id}/contributions/direct-debit.xml"
    params = {"period": current_period(), "collection_date": soon()}
    runs_url = f"/api/v1/funds/{fund_id}/direct-debit-runs"
    head = client.head(url, params=params, headers=treasurer)
    assert head.status_code == 200
    assert head.content == b""
    assert client.get(runs_url, headers=treasurer).json()["items"] == []
    assert client.get(url, params=params, headers=treasurer).status_code == 200
    assert len(client.get(runs_url, headers=treasurer).json()["items"]) == 1


def test_a_file_is_for_tomorrow_on_and_at_most_next_month(
    client: TestClient, people: People
) -> None:
    fund_id = sepa_fund(client, people)
    coordinator = people.as_(("coordinator", fund_id))
    treasurer = people.as_(("treasurer", fund_id))
    household = register(client, fund_id, coordinator)
    put_mandate(client, household["id"], coordinator)
    url = f"/api/v1/funds/{fund_id}/contributions/direct-debit.xml"
    body = problem(
        client.get(
            url,
            params={"period": current_period(), "collection_date": fund_today().isoformat()},
            headers=treasurer,
        ),
        422,
        "collection_date_past",
    )
    assert "tomorrow" in body["detail"]
    problem(
        client.get(
            url,
            params={"period": periods.shift(current_period(), 2), "collection_date": soon()},
            headers=treasurer,
        ),
        422,
        "validation_error",
    )
    assert debit_file(client, fund_id, treasurer, next_period()).status_code == 200


# --- Locks and generated references ------------------------------------------------------


def test_a_mandate_reads_the_households_status_anew_under_its_lock(
    client: TestClient, people: People, engine: Engine
) -> None:
    fund_id = sepa_fund(client, people)
    coordinator = people.as_(("coordinator", fund_id))
    household = register(client, fund_id, coordinator)
    household_id = uuid.UUID(household["id"])
    with Session(engine, expire_on_commit=False) as db_session:
        # Loaded earlier in the unit of work (as the request's authorisation does)...
        loaded = db_session.get(Household, household_id)
        assert loaded is not None
        assert loaded.status == "active"
        db_session.commit()
        # ...and the household left meanwhile.
        with Session(engine) as other:
            row = other.get(Household, household_id)
            assert row is not None
            row.status = HouseholdStatus.left
            other.add(row)
            other.commit()
        with pytest.raises(HouseholdLeft):
            set_mandate(
                db_session=db_session,
                household_id=household_id,
                mandate_in=MandateIn.model_validate(mandate_body()),
                actor="system:test",
            )
        db_session.rollback()


def test_the_households_lock_lets_rows_referencing_it_in(
    client: TestClient, people: People, engine: Engine
) -> None:
    """FOR NO KEY UPDATE, not FOR UPDATE: a payment or contribution inserted meanwhile
    (its foreign key takes FOR KEY SHARE on the household) is not kept waiting."""
    fund_id = sepa_fund(client, people)
    coordinator = people.as_(("coordinator", fund_id))
    household = register(client, fund_id, coordinator)
    household_id = uuid.UUID(household["id"])
    with Session(engine) as db_session:
        set_mandate(
            db_session=db_session,
            household_id=household_id,
            mandate_in=MandateIn.model_validate(mandate_body()),
            actor="system:test",
        )  # the household's row is locked until this session ends
        if engine.dialect.name == "postgresql":
            with engine.connect() as other:
                other.execute(
                    text("SELECT id FROM household WHERE id = :id FOR KEY SHARE NOWAIT"),
                    {"id": household_id},
                )
                other.rollback()
        db_session.commit()
    assert (
        client.get(f"/api/v1/households/{household_id}/mandate", headers=coordinator).status_code
        == 200
    )


def test_generated_references_cannot_be_squatted(client: TestClient, people: People) -> None:
    fund_id = sepa_fund(client, people)
    coordinator = people.as_(("coordinator", fund_id))
    first, second = register(client, fund_id, coordinator), register(client, fund_id, coordinator)
    number = first["member_number"]

    # Another household cannot give a reference of the fund's own pattern...
    for reference in (f"SSA-{number}-2", "SSA-ANYTHING", "ssa-lower", f"SSA-{number}-0"):
        response = client.put(
            f"/api/v1/households/{second['id']}/mandate",
            json=mandate_body(reference=reference),
            headers=coordinator,
        )
        body = problem(response, 422, "validation_error")
        assert body["errors"][0]["loc"] == ["body", "reference"]
    # ...but its own, and any other reference.
    own = put_mandate(
        client, second["id"], coordinator, reference=f"SSA-{second['member_number']}-7"
    )
    assert own["reference"] == f"SSA-{second['member_number']}-7"
    put_mandate(client, second["id"], coordinator, reference="ECULLY-42")

    # The household's own given reference takes a number: the generated one skips it.
    taken = put_mandate(client, first["id"], coordinator, reference=f"SSA-{number}-2")
    assert (
        client.delete(f"/api/v1/households/{first['id']}/mandate", headers=coordinator).status_code
        == 204
    )
    generated = put_mandate(client, first["id"], coordinator)
    assert taken["reference"] == f"SSA-{number}-2"
    assert generated["reference"] == f"SSA-{number}-3"


def test_a_debit_the_bank_returned_is_collected_again_alone(
    client: TestClient, people: People, engine: Engine
) -> None:
    fund_id = sepa_fund(client, people)
    coordinator = people.as_(("coordinator", fund_id))
    treasurer = people.as_(("treasurer", fund_id))
    period = current_period()
    runs_url = f"/api/v1/funds/{fund_id}/direct-debit-runs"

    def last_run() -> dict[str, Any]:
        found = client.get(runs_url, params={"period": period}, headers=treasurer).json()
        item: dict[str, Any] = found["items"][0]
        return item

    returned, kept = mandated(client, fund_id, coordinator), mandated(client, fund_id, coordinator)
    assert debit_file(client, fund_id, treasurer, period).status_code == 200
    run = last_run()
    url = f"{runs_url}/{run['id']}/returns"
    body = {"household_id": returned["id"], "reason": "AM04"}

    problem(client.post(url, json=body, headers=coordinator), 403, "forbidden")
    problem(
        client.post(url, json={**body, "reason": "XX99"}, headers=treasurer),
        422,
        "validation_error",
    )
    stranger = register(client, fund_id, coordinator)
    problem(
        client.post(url, json={**body, "household_id": stranger["id"]}, headers=treasurer),
        404,
        "direct_debit_not_in_run",
    )
    problem(
        client.post(f"{runs_url}/{uuid.uuid4()}/returns", json=body, headers=treasurer),
        404,
        "direct_debit_run_not_found",
    )
    answer = client.post(url, json=body, headers=treasurer)
    assert answer.status_code == 200, answer.text
    lines = {line["member_number"]: line for line in answer.json()["lines"]}
    assert lines[returned["member_number"]]["return_reason"] == "AM04"
    assert lines[returned["member_number"]]["returned_at"] is not None
    assert lines[kept["member_number"]]["returned_at"] is None
    assert (answer.json()["total_cents"], answer.json()["returned_cents"]) == (4000, 2000)
    assert answer.json()["status"] == "open"  # the others of the file were collected
    # Recorded once: the same again changes nothing.
    assert client.post(url, json={**body, "reason": "AC04"}, headers=treasurer).json() == (
        answer.json()
    )
    with Session(engine) as session:
        logged = session.exec(
            select(AuditEntry).where(
                col(AuditEntry.action) == "direct_debit_run.return",
                col(AuditEntry.fund_id) == fund_id,
            )
        ).all()
    assert len(logged) == 1
    # The auditor reads the log: neither the account, the household nor the bank's reason.
    entry = str(logged[0].after)
    assert DEBTOR_IBAN not in entry
    assert "AM04" not in entry
    assert returned["member_number"] not in entry

    # The next file collects the returned household alone, under a new end-to-end id, as
    # a first collection still (the first one never happened).
    again = debit_file(client, fund_id, treasurer, period)
    assert again.status_code == 200, again.text
    assert {k: v["sequence"] for k, v in debits(again.text).items()} == {
        f"{returned['member_number']}-{period}-2": "FRST"
    }
    # Asked again the same day: the same file, still the returned household alone.
    assert debit_file(client, fund_id, treasurer, period).content == again.content
    # A file cancelled (never received) has no debit to return.
    second = last_run()
    assert client.post(f"{runs_url}/{second['id']}/cancel", headers=treasurer).status_code == 200
    problem(
        client.post(f"{runs_url}/{second['id']}/returns", json=body, headers=treasurer),
        409,
        "direct_debit_run_cancelled",
    )
    # Paid meanwhile by transfer: nothing is left to collect.
    contribute(client, fund_id, treasurer, returned["id"], 2000, period)
    problem(debit_file(client, fund_id, treasurer, period), 409, "nothing_to_collect")


def test_a_return_keeps_its_run_open_and_waits_for_a_new_mandate_when_final(
    client: TestClient, people: People, engine: Engine
) -> None:
    fund_id = sepa_fund(client, people)
    coordinator = people.as_(("coordinator", fund_id))
    treasurer = people.as_(("treasurer", fund_id))
    period = current_period()
    runs_url = f"/api/v1/funds/{fund_id}/direct-debit-runs"

    closed, paid, other = (
        mandated(client, fund_id, coordinator),
        mandated(client, fund_id, coordinator),
        mandated(client, fund_id, coordinator),
    )
    assert debit_file(client, fund_id, treasurer, period).status_code == 200
    run = client.get(runs_url, params={"period": period}, headers=treasurer).json()["items"][0]
    returns = f"{runs_url}/{run['id']}/returns"

    # The euros of one debit arrived and were recorded: its return is refused (the
    # contribution would stay paid in the books), nothing is recorded.
    contribute(client, fund_id, treasurer, paid["id"], 2000, period, method="direct_debit")
    refused = client.post(
        returns, json={"household_id": paid["id"], "reason": "AM04"}, headers=treasurer
    )
    problem(refused, 409, "direct_debit_contribution_recorded")
    # Corrected (the euros came back), the return is recorded; the household is then
    # collected again like any other (AM04: presented again as it is).
    recorded = client.get(
        f"/api/v1/funds/{fund_id}/contributions", params={"period": period}, headers=treasurer
    ).json()["items"]
    assert next(r for r in recorded if r["household_id"] == paid["id"])["status"] == "paid"
    with Session(engine) as session:
        paid_id = session.exec(
            select(Contribution.id).where(col(Contribution.household_id) == uuid.UUID(paid["id"]))
        ).one()
    corrected = client.post(
        f"/api/v1/funds/{fund_id}/contributions/{paid_id}/correction",
        json={"reason": "The bank returned the debit (AM04)"},
        headers={**treasurer, "Idempotency-Key": uuid.uuid4().hex},
    )
    assert corrected.status_code == 201, corrected.text
    returned_paid = client.post(
        returns, json={"household_id": paid["id"], "reason": "AM04"}, headers=treasurer
    )
    assert returned_paid.status_code == 200, returned_paid.text

    # The account is closed: returned, the household waits for a new mandate.
    body = {"household_id": closed["id"], "reason": "AC04"}
    assert client.post(returns, json=body, headers=treasurer).status_code == 200
    lines = client.get(runs_url, params={"period": period}, headers=treasurer).json()["items"]
    assert sorted(str(line["return_reason"]) for line in lines[0]["lines"]) == [
        "AC04",
        "AM04",
        "None",
    ]
    # The bank had the file (it returned a debit of it): cancelling it would debit the
    # other households again.
    problem(
        client.post(f"{runs_url}/{run['id']}/cancel", headers=treasurer),
        409,
        "direct_debit_run_returned",
    )
    # The one returned for insufficient funds is presented again; the closed account not.
    retry = debit_file(client, fund_id, treasurer, period)
    assert retry.status_code == 200, retry.text
    assert set(debits(retry.text)) == {f"{paid['member_number']}-{period}-2"}
    assert debit_file(client, fund_id, treasurer, period).content == retry.content
    # A new account on the mandate: collected again, a first collection on that account.
    put_mandate(client, closed["id"], coordinator, iban=OTHER_IBAN)
    again = debit_file(client, fund_id, treasurer, period)
    assert again.status_code == 200, again.text
    found = debits(again.text)
    assert {k: v["sequence"] for k, v in found.items()} == {
        f"{closed['member_number']}-{period}-2": "FRST"
    }
    assert found[f"{closed['member_number']}-{period}-2"]["iban"] == OTHER_IBAN
    assert other["member_number"] not in again.text


def test_a_mandate_amended_before_its_return_is_recorded_is_collected_again(
    client: TestClient, people: People
) -> None:
    fund_id = sepa_fund(client, people)
    coordinator = people.as_(("coordinator", fund_id))
    treasurer = people.as_(("treasurer", fund_id))
    period = current_period()
    runs_url = f"/api/v1/funds/{fund_id}/direct-debit-runs"
    household = register(client, fund_id, coordinator, household_body(chosen=2000))
    put_mandate(client, household["id"], coordinator)
    assert debit_file(client, fund_id, treasurer, period).status_code == 200
    run = client.get(runs_url, params={"period": period}, headers=treasurer).json()["items"][0]
    # The account closes; the household gives its new IBAN before the bank's notice of
    # the return reaches the treasurer.
    put_mandate(client, household["id"], coordinator, iban=OTHER_IBAN)
    body = {"household_id": household["id"], "reason": "AC04"}
    assert client.post(f"{runs_url}/{run['id']}/returns", json=body, headers=treasurer).json()
    again = debit_file(client, fund_id, treasurer, period)
    assert again.status_code == 200, again.text
    found = debits(again.text)
    assert found[f"{household['member_number']}-{period}-2"]["iban"] == OTHER_IBAN


def test_a_change_after_the_months_file_went_out_applies_from_the_next_month(
    client: TestClient, people: People
) -> None:
    """The bank collects what the file says: a month whose file holds the household keeps
    that amount when the contribution changes; the change applies from the month after."""
    fund_id = sepa_fund(client, people)
    coordinator = people.as_(("coordinator", fund_id))
    treasurer = people.as_(("treasurer", fund_id))
    made = mandated(client, fund_id, coordinator)
    month = current_period()
    sent = debit_file(client, fund_id, treasurer, month)
    assert sent.status_code == 200, sent.text
    changed = client.patch(
        f"/api/v1/households/{made['id']}",
        json={"chosen_contribution_cents": 3000},
        headers=coordinator,
    )
    assert changed.status_code == 200, changed.text
    statuses = client.get(
        f"/api/v1/funds/{fund_id}/contributions", params={"period": month}, headers=treasurer
    ).json()["items"]
    assert [r["due_cents"] for r in statuses if r["household_id"] == made["id"]] == [2000]
    after = client.get(
        f"/api/v1/funds/{fund_id}/contributions",
        params={"period": next_period()},
        headers=treasurer,
    ).json()["items"]
    assert [r["due_cents"] for r in after if r["household_id"] == made["id"]] == [3000]
