"""Payout batches through the API: lines, books, idempotency, SEPA file, confirm, cancel."""

import uuid
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import sepaxml
import xmlschema
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from ssa.audit.models import AuditEntry
from ssa.funds.service import current_period
from ssa.ledger.models import AccountKind, LedgerTransaction
from tests.conftest import People
from tests.payouts.helpers import (
    FUND_BIC,
    FUND_IBAN,
    OUTLET_IBANS,
    Books,
    books_clean,
    fund_balance,
    fund_owing,
    payable,
)

PAIN_001 = Path(sepaxml.__file__).parent / "schemas" / "pain.001.001.03.xsd"
NS = {"p": "urn:iso:std:iso:20022:tech:xsd:pain.001.001.03"}


def create(
    client: TestClient,
    books: Books,
    headers: dict[str, str],
    body: dict[str, Any] | None = None,
    key: str | None = None,
) -> Any:
    return client.post(
        f"/api/v1/funds/{books.fund.id}/payouts",
        json=body if body is not None else {},
        headers={**headers, "Idempotency-Key": key or uuid.uuid4().hex},
    )


def audit_actions(engine: Engine, target_id: str) -> list[str]:
    with Session(engine) as session:
        return list(
            session.exec(
                select(AuditEntry.action)
                .where(col(AuditEntry.target_id) == target_id)
                .order_by(col(AuditEntry.created_at))
            ).all()
        )


def test_a_batch_takes_every_payable_at_the_minimum_and_above(
    client: TestClient, people: People, engine: Engine
) -> None:
    books = fund_owing(engine, [4_000, 2_500, 300, 0, 1_000])
    big, medium, _small, _nothing, exact = books.outlets
    treasurer = people.as_(("treasurer", books.fund.id))
    created = create(client, books, treasurer, {"minimum_cents": 1_000})
    assert created.status_code == 201, created.text
    payout = created.json()
    assert payout["status"] == "created"
    assert payout["total_cents"] == 7_500
    assert payout["minimum_cents"] == 1_000
    lines = {line["outlet_id"]: line for line in payout["lines"]}
    assert {k: v["amount_cents"] for k, v in lines.items()} == {
        str(big): 4_000,
        str(medium): 2_500,
        str(exact): 1_000,
    }
    assert lines[str(big)]["iban"] == OUTLET_IBANS[0]
    assert lines[str(medium)]["iban"] == OUTLET_IBANS[1]

    # The payables are in transit; the one below the minimum stays owed.
    assert [payable(engine, books, o) for o in books.outlets] == [0, 0, 300, 0, 0]
    assert fund_balance(engine, books.fund, AccountKind.payouts_in_transit) == 7_500
    assert books_clean(engine, books.fund) == []
    with Session(engine) as session:
        kinds = session.exec(
            select(LedgerTransaction.kind).where(
                col(LedgerTransaction.fund_id) == books.fund.id,
                col(LedgerTransaction.kind) == "payout_created",
            )
        ).all()
    assert len(kinds) == 1
    assert audit_actions(engine, payout["id"]) == ["payout.create"]

    read = client.get(f"/api/v1/payouts/{payout['id']}", headers=treasurer)
    assert read.status_code == 200
    assert read.json() == payout
    listed = client.get(f"/api/v1/funds/{books.fund.id}/payouts", headers=treasurer)
    assert listed.status_code == 200
    assert listed.json() == {"items": [payout], "next_cursor": None}


def test_creation_is_idempotent_and_a_second_batch_has_nothing(
    client: TestClient, people: People, engine: Engine
) -> None:
    books = fund_owing(engine, [1_200, 800])
    treasurer = people.as_(("treasurer", books.fund.id))
    first = create(client, books, treasurer, key="batch-1")
    assert first.status_code == 201, first.text
    again = create(client, books, treasurer, key="batch-1")
    assert again.status_code == 201
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.json() == first.json()
    other = create(client, books, treasurer, {"minimum_cents": 5}, key="batch-1")
    assert other.status_code == 409
    assert other.json()["code"] == "idempotency_conflict"
    keyless = client.post(f"/api/v1/funds/{books.fund.id}/payouts", json={}, headers=treasurer)
    assert keyless.status_code == 400
    assert keyless.json()["code"] == "idempotency_key_required"

    # The money is in transit: a new batch finds nothing owed.
    second = create(client, books, treasurer)
    assert second.status_code == 409
    assert second.json()["code"] == "nothing_to_pay"
    assert fund_balance(engine, books.fund, AccountKind.payouts_in_transit) == 2_000
    listed = client.get(f"/api/v1/funds/{books.fund.id}/payouts", headers=treasurer).json()
    assert [p["id"] for p in listed["items"]] == [first.json()["id"]]
    # No body at all means the default minimum.
    fund_owing_more = fund_owing(engine, [500])
    treasurer_more = people.as_(("treasurer", fund_owing_more.fund.id))
    bare = client.post(
        f"/api/v1/funds/{fund_owing_more.fund.id}/payouts",
        headers={**treasurer_more, "Idempotency-Key": "k"},
    )
    assert bare.status_code == 201, bare.text
    assert bare.json()["total_cents"] == 500


def test_confirm_pays_from_the_bank_and_feeds_the_report(
    client: TestClient, people: People, engine: Engine
) -> None:
    books = fund_owing(engine, [3_000, 1_500])
    treasurer = people.as_(("treasurer", books.fund.id))
    bank_before = fund_balance(engine, books.fund, AccountKind.bank)
    payout = create(client, books, treasurer).json()
    assert fund_balance(engine, books.fund, AccountKind.bank) == bank_before

    confirmed = client.post(
        f"/api/v1/payouts/{payout['id']}/confirm",
        headers={**treasurer, "Idempotency-Key": uuid.uuid4().hex},
    )
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["status"] == "confirmed"
    assert confirmed.json()["confirmed_at"] is not None
    assert confirmed.json()["lines"] == payout["lines"]
    assert fund_balance(engine, books.fund, AccountKind.bank) == bank_before - 4_500
    assert fund_balance(engine, books.fund, AccountKind.payouts_in_transit) == 0
    assert [payable(engine, books, o) for o in books.outlets] == [0, 0]
    assert books_clean(engine, books.fund) == []

    repeated = client.post(
        f"/api/v1/payouts/{payout['id']}/confirm",
        headers={**treasurer, "Idempotency-Key": uuid.uuid4().hex},
    )
    assert repeated.status_code == 200
    assert repeated.json() == confirmed.json()
    assert fund_balance(engine, books.fund, AccountKind.bank) == bank_before - 4_500
    cancel = client.post(
        f"/api/v1/payouts/{payout['id']}/cancel",
        headers={**treasurer, "Idempotency-Key": uuid.uuid4().hex},
    )
    assert cancel.status_code == 409
    assert cancel.json()["code"] == "payout_not_open"
    assert cancel.json()["status"] == 409  # RFC 9457: the HTTP status
    assert cancel.json()["payout_status"] == "confirmed"
    assert audit_actions(engine, payout["id"]) == ["payout.create", "payout.confirm"]

    report = client.get(
        f"/api/v1/funds/{books.fund.id}/report",
        params={"period": current_period()},
        headers=treasurer,
    )
    assert report.status_code == 200, report.text
    assert report.json()["paid_out_cents"] == 4_500
    assert report.json()["outlet_payables_cents"] == 0
    assert report.json()["bank_cents"] == bank_before - 4_500


def test_cancel_puts_the_amounts_back_on_the_payables(
    client: TestClient, people: People, engine: Engine
) -> None:
    books = fund_owing(engine, [2_200, 700])
    treasurer = people.as_(("treasurer", books.fund.id))
    bank_before = fund_balance(engine, books.fund, AccountKind.bank)
    payout = create(client, books, treasurer).json()
    cancelled = client.post(
        f"/api/v1/payouts/{payout['id']}/cancel",
        headers={**treasurer, "Idempotency-Key": uuid.uuid4().hex},
    )
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    assert [payable(engine, books, o) for o in books.outlets] == [2_200, 700]
    assert fund_balance(engine, books.fund, AccountKind.payouts_in_transit) == 0
    assert fund_balance(engine, books.fund, AccountKind.bank) == bank_before
    assert books_clean(engine, books.fund) == []

    again = client.post(
        f"/api/v1/payouts/{payout['id']}/cancel",
        headers={**treasurer, "Idempotency-Key": uuid.uuid4().hex},
    )
    assert again.status_code == 200
    assert again.json()["status"] == "cancelled"
    assert [payable(engine, books, o) for o in books.outlets] == [2_200, 700]
    confirm = client.post(
        f"/api/v1/payouts/{payout['id']}/confirm",
        headers={**treasurer, "Idempotency-Key": uuid.uuid4().hex},
    )
    assert confirm.status_code == 409
    assert confirm.json()["code"] == "payout_not_open"
    assert confirm.json()["status"] == 409
    assert confirm.json()["payout_status"] == "cancelled"
    sepa = client.get(f"/api/v1/payouts/{payout['id']}/sepa.xml", headers=treasurer)
    assert sepa.status_code == 409
    assert sepa.json()["code"] == "payout_cancelled"
    assert audit_actions(engine, payout["id"]) == ["payout.create", "payout.cancel"]

    # What went back can be paid in a new batch.
    new = create(client, books, treasurer)
    assert new.status_code == 201
    assert new.json()["total_cents"] == 2_900
    assert books_clean(engine, books.fund) == []


def test_confirm_is_refused_when_the_bank_does_not_hold_the_total(
    client: TestClient, people: People, engine: Engine
) -> None:
    # Contributions only, and credits issued without coverage: 50.00 EUR in the bank.
    books = fund_owing(engine, [9_000], grant_cents=0, require_coverage=False)
    treasurer = people.as_(("treasurer", books.fund.id))
    bank_before = fund_balance(engine, books.fund, AccountKind.bank)
    assert bank_before < 9_000
    payout = create(client, books, treasurer).json()
    refused = client.post(
        f"/api/v1/payouts/{payout['id']}/confirm",
        headers={**treasurer, "Idempotency-Key": uuid.uuid4().hex},
    )
    assert refused.status_code == 409
    assert refused.json()["code"] == "insufficient_balance"
    assert refused.json()["available_cents"] == bank_before
    read = client.get(f"/api/v1/payouts/{payout['id']}", headers=treasurer).json()
    assert read["status"] == "created"
    assert fund_balance(engine, books.fund, AccountKind.bank) == bank_before
    assert fund_balance(engine, books.fund, AccountKind.payouts_in_transit) == 9_000
    assert books_clean(engine, books.fund) == ["coverage"]  # uncovered on purpose
    cancelled = client.post(
        f"/api/v1/payouts/{payout['id']}/cancel",
        headers={**treasurer, "Idempotency-Key": uuid.uuid4().hex},
    )
    assert cancelled.status_code == 200


def _text(node: ET.Element, path: str) -> str:
    found = node.find(path, NS)
    assert found is not None, path
    return found.text or ""


def test_the_sepa_file_is_valid_pain_001_and_says_what_the_batch_says(
    client: TestClient, people: People, engine: Engine
) -> None:
    books = fund_owing(engine, [1_234, 5, 20_000, 99], outlet_bic="BNPAFRPP")
    auditor = people.as_(("auditor", books.fund.id))
    treasurer = people.as_(("treasurer", books.fund.id))
    payout = create(client, books, treasurer).json()
    answer = client.get(f"/api/v1/payouts/{payout['id']}/sepa.xml", headers=auditor)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("application/xml")
    assert answer.headers["content-disposition"].startswith("attachment;")
    assert f"payout-{payout['id']}.xml" in answer.headers["content-disposition"]

    xmlschema.XMLSchema(str(PAIN_001)).validate(answer.text)
    root = ET.fromstring(answer.content)  # noqa: S314 (our own answer, in a test)
    header = root.find("p:CstmrCdtTrfInitn/p:GrpHdr", NS)
    assert header is not None
    assert _text(header, "p:MsgId") == uuid.UUID(payout["id"]).hex
    assert _text(header, "p:NbOfTxs") == "4"
    assert _text(header, "p:CtrlSum") == "213.38"
    batches = root.findall("p:CstmrCdtTrfInitn/p:PmtInf", NS)
    assert len(batches) == 1
    batch = batches[0]
    assert _text(batch, "p:CtrlSum") == "213.38"
    assert _text(batch, "p:DbtrAcct/p:Id/p:IBAN") == FUND_IBAN
    assert _text(batch, "p:DbtrAgt/p:FinInstnId/p:BIC") == FUND_BIC
    assert _text(batch, "p:Dbtr/p:Nm") == books.fund.name
    transfers = {
        _text(tx, "p:CdtrAcct/p:Id/p:IBAN"): (
            _text(tx, "p:Amt/p:InstdAmt"),
            _text(tx, "p:CdtrAgt/p:FinInstnId/p:BIC"),
        )
        for tx in batch.findall("p:CdtTrfTxInf", NS)
    }
    assert transfers == {
        OUTLET_IBANS[0]: ("12.34", "BNPAFRPP"),
        OUTLET_IBANS[1]: ("0.05", "BNPAFRPP"),
        OUTLET_IBANS[2]: ("200.00", "BNPAFRPP"),
        OUTLET_IBANS[3]: ("0.99", "BNPAFRPP"),
    }
    amounts = [line["amount_cents"] for line in payout["lines"]]
    assert sum(amounts) == payout["total_cents"] == 21_338

    # The same batch, downloaded again, keeps its message id (the bank refuses duplicates).
    again = client.get(f"/api/v1/payouts/{payout['id']}/sepa.xml", headers=treasurer)
    assert again.status_code == 200
    assert f"<MsgId>{uuid.UUID(payout['id']).hex}</MsgId>" in again.text


def test_the_sepa_file_without_bics_and_without_a_fund_iban(
    client: TestClient, people: People, engine: Engine
) -> None:
    books = fund_owing(engine, [1_000], fund_bic=None)
    treasurer = people.as_(("treasurer", books.fund.id))
    payout = create(client, books, treasurer).json()
    answer = client.get(f"/api/v1/payouts/{payout['id']}/sepa.xml", headers=treasurer)
    assert answer.status_code == 200, answer.text
    xmlschema.XMLSchema(str(PAIN_001)).validate(answer.text)

    no_iban = fund_owing(engine, [1_000], fund_iban=None)
    treasurer = people.as_(("treasurer", no_iban.fund.id))
    payout = create(client, no_iban, treasurer).json()
    refused = client.get(f"/api/v1/payouts/{payout['id']}/sepa.xml", headers=treasurer)
    assert refused.status_code == 409
    assert refused.json()["code"] == "fund_iban_missing"


def test_who_may_do_what(client: TestClient, people: People, engine: Engine) -> None:
    books = fund_owing(engine, [1_000, 2_000])
    fund_id = books.fund.id
    other = fund_owing(engine, [])
    treasurer = people.as_(("treasurer", fund_id))
    roles = {
        "anonymous": {},
        "coordinator": people.as_(("coordinator", fund_id)),
        "auditor": people.as_(("auditor", fund_id)),
        "other_treasurer": people.as_(("treasurer", other.fund.id)),
        "plain": people.as_(),
    }
    for name, headers in roles.items():
        refused = create(client, books, headers)
        assert refused.status_code == (401 if name == "anonymous" else 403), name
    payout = create(client, books, treasurer).json()
    for name, headers in roles.items():
        for action in ("confirm", "cancel"):
            answer = client.post(
                f"/api/v1/payouts/{payout['id']}/{action}",
                headers={**headers, "Idempotency-Key": uuid.uuid4().hex},
            )
            assert answer.status_code == (401 if name == "anonymous" else 403), (name, action)
        for path in ("", "/sepa.xml"):
            answer = client.get(f"/api/v1/payouts/{payout['id']}{path}", headers=headers)
            expected = {"anonymous": 401, "coordinator": 200, "auditor": 200}.get(name, 403)
            assert answer.status_code == expected, (name, path)
        listed = client.get(f"/api/v1/funds/{fund_id}/payouts", headers=headers)
        expected = {"anonymous": 401, "coordinator": 200, "auditor": 200}.get(name, 403)
        assert listed.status_code == expected, name
    assert client.get(f"/api/v1/payouts/{uuid.uuid4()}", headers=treasurer).status_code == 404
    malformed = client.get("/api/v1/payouts/not-an-id", headers=treasurer)
    assert malformed.status_code == 422
    assert malformed.json()["code"] == "validation_error"
    # Nothing moved for the refused callers: the treasurer still has it all to decide.
    assert (
        client.get(f"/api/v1/payouts/{payout['id']}", headers=treasurer).json()["status"]
        == "created"
    )


def test_the_list_pages_newest_first(client: TestClient, people: People, engine: Engine) -> None:
    books = fund_owing(engine, [1_000, 1_000, 1_000])
    treasurer = people.as_(("treasurer", books.fund.id))
    ids = []
    for _ in range(3):
        payout = create(client, books, treasurer).json()
        ids.append(payout["id"])
        assert (
            client.post(
                f"/api/v1/payouts/{payout['id']}/cancel",
                headers={**treasurer, "Idempotency-Key": uuid.uuid4().hex},
            ).status_code
            == 200
        )
    seen: list[str] = []
    cursor = None
    while True:
        page = client.get(
            f"/api/v1/funds/{books.fund.id}/payouts",
            params={"limit": 2, **({"cursor": cursor} if cursor else {})},
            headers=treasurer,
        ).json()
        seen += [p["id"] for p in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(ids))
    bad = client.get(
        f"/api/v1/funds/{books.fund.id}/payouts",
        params={"cursor": "WyJ4IiwgInkiXQ=="},
        headers=treasurer,
    )
    assert bad.status_code == 422
