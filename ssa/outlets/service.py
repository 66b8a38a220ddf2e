"""Registering outlets, their accreditation in each fund, staff and till terminals."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_
from sqlmodel import Session, col, select
from stdnum.exceptions import ValidationError as StdnumError
from stdnum.fr import siret as siret_number

from ssa.audit.service import record
from ssa.auth.models import OAuthClient
from ssa.auth.tokens import new_secret, secret_hash
from ssa.funds.service import current_period, get_fund, normalise_bic, normalise_iban, policy_for
from ssa.ledger.models import AccountKind
from ssa.ledger.service import open_account
from ssa.outlets.models import Outlet, OutletFund, OutletStatus, OutletStatusChange
from ssa.outlets.schemas import ApplicationIn, OutletIn
from ssa.problems import Conflict, NotFound, Problem
from ssa.timeutil import utcnow


class InvalidSiret(Problem):
    status = 422
    code = "invalid_siret"
    title = "This SIRET is not valid"


class SiretTaken(Conflict):
    code = "siret_taken"
    title = "An outlet with this SIRET is registered already"


class OutletNotFound(NotFound):
    title = "No such outlet"


class UnknownCriterion(Problem):
    status = 422
    code = "unknown_criterion"
    title = "A criterion is not one of the fund's"


class TerminalNotFound(NotFound):
    title = "No such terminal at this outlet"


def normalise_siret(value: str) -> str:
    try:
        return str(siret_number.validate(value))
    except StdnumError as exc:
        raise InvalidSiret("Check the 14 digits of the SIRET.") from exc


def register_outlet(
    *, db_session: Session, outlet_in: OutletIn, actor: str, request_id: str | None
) -> Outlet:
    siret = normalise_siret(outlet_in.siret)
    if db_session.exec(select(Outlet).where(col(Outlet.siret) == siret)).first() is not None:
        raise SiretTaken()
    outlet = Outlet(
        name=outlet_in.name.strip(),
        siret=siret,
        iban=normalise_iban(outlet_in.iban),
        bic=normalise_bic(outlet_in.bic) if outlet_in.bic else None,
        address_line1=outlet_in.address.line1,
        postcode=outlet_in.address.postcode,
        city=outlet_in.address.city,
        category=outlet_in.category,
        latitude=outlet_in.latitude,
        longitude=outlet_in.longitude,
    )
    db_session.add(outlet)
    db_session.flush()
    record(
        db_session=db_session,
        actor=actor,
        action="outlet.register",
        target_type="outlet",
        target_id=outlet.id,
        after={"name": outlet.name, "siret": siret, "category": outlet.category},
        request_id=request_id,
    )
    return outlet


def get_outlet(*, db_session: Session, outlet_id: uuid.UUID) -> Outlet:
    outlet = db_session.get(Outlet, outlet_id)
    if outlet is None:
        raise OutletNotFound()
    return outlet


def membership(db_session: Session, outlet_id: uuid.UUID, fund_id: uuid.UUID) -> OutletFund | None:
    return db_session.exec(
        select(OutletFund).where(
            col(OutletFund.outlet_id) == outlet_id, col(OutletFund.fund_id) == fund_id
        )
    ).first()


def _join(
    db_session: Session, outlet: Outlet, fund_id: uuid.UUID, status: OutletStatus
) -> OutletFund:
    account = open_account(
        db_session=db_session,
        fund_id=fund_id,
        kind=AccountKind.outlet_payable,
        reference=str(outlet.id),
    )
    standing = OutletFund(
        outlet_id=outlet.id, fund_id=fund_id, status=status, payable_account_id=account.id
    )
    db_session.add(standing)
    db_session.flush()
    return standing


def apply(
    *,
    db_session: Session,
    fund_id: uuid.UUID,
    outlet_id: uuid.UUID,
    application: ApplicationIn,
    actor: str,
    request_id: str | None,
) -> OutletFund:
    """File (or update) the outlet's application to the fund, scored on its criteria."""
    get_fund(db_session=db_session, fund_id=fund_id)
    outlet = get_outlet(db_session=db_session, outlet_id=outlet_id)
    allowed = set(
        policy_for(
            db_session=db_session, fund_id=fund_id, period=current_period()
        ).accreditation_criteria
    )
    unknown = sorted(set(application.criteria) - allowed)
    if unknown:
        raise UnknownCriterion(
            f"Not criteria of this fund: {', '.join(unknown)}.", allowed=sorted(allowed)
        )
    criteria = {name: score.model_dump() for name, score in application.criteria.items()}
    standing = membership(db_session, outlet.id, fund_id)
    if standing is None:
        standing = _join(db_session, outlet, fund_id, OutletStatus.applicant)
        _history(db_session, standing, None, OutletStatus.applicant, None, None, actor)
    standing.criteria = criteria
    standing.updated_at = utcnow()
    db_session.add(standing)
    db_session.flush()
    record(
        db_session=db_session,
        actor=actor,
        action="outlet.apply",
        target_type="outlet",
        target_id=outlet.id,
        fund_id=fund_id,
        after={"criteria": criteria},
        request_id=request_id,
    )
    return standing


def _history(
    db_session: Session,
    standing: OutletFund,
    before: str | None,
    after: OutletStatus,
    decision_reference: str | None,
    proposal_id: uuid.UUID | None,
    actor: str,
) -> None:
    db_session.add(
        OutletStatusChange(
            outlet_id=standing.outlet_id,
            fund_id=standing.fund_id,
            from_status=before,
            to_status=after.value,
            decision_reference=decision_reference,
            proposal_id=proposal_id,
            actor=actor,
        )
    )


def set_status(
    *,
    db_session: Session,
    fund_id: uuid.UUID,
    outlet_id: uuid.UUID,
    status: OutletStatus,
    actor: str,
    decision_reference: str | None = None,
    proposal_id: uuid.UUID | None = None,
    request_id: str | None = None,
) -> OutletFund:
    """Change the outlet's status in the fund: an assembly decision (a meeting's minutes
    or an in-app proposal). Payments follow the new status at once."""
    get_fund(db_session=db_session, fund_id=fund_id)
    outlet = get_outlet(db_session=db_session, outlet_id=outlet_id)
    standing = membership(db_session, outlet.id, fund_id)
    if standing is None:
        standing = _join(db_session, outlet, fund_id, status)
        before = None
    else:
        before = (
            standing.status.value
            if isinstance(standing.status, OutletStatus)
            else str(standing.status)
        )
        standing.status = status
        standing.updated_at = utcnow()
        db_session.add(standing)
    _history(db_session, standing, before, status, decision_reference, proposal_id, actor)
    db_session.flush()
    record(
        db_session=db_session,
        actor=actor,
        action="outlet.status",
        target_type="outlet",
        target_id=outlet.id,
        fund_id=fund_id,
        before={"status": before},
        after={
            "status": status.value,
            "decision_reference": decision_reference,
            "proposal_id": proposal_id,
        },
        request_id=request_id,
    )
    return standing


def history(
    *,
    db_session: Session,
    fund_id: uuid.UUID,
    outlet_id: uuid.UUID,
    limit: int | None = None,
    after: tuple[datetime, uuid.UUID] | None = None,
) -> list[OutletStatusChange]:
    """The outlet's status changes in the fund, oldest first; `after` a (created_at, id)."""
    query = select(OutletStatusChange).where(
        col(OutletStatusChange.outlet_id) == outlet_id,
        col(OutletStatusChange.fund_id) == fund_id,
    )
    if after is not None:
        at, last_id = after
        created_at, change_id = col(OutletStatusChange.created_at), col(OutletStatusChange.id)
        query = query.where(or_(created_at > at, and_(created_at == at, change_id > last_id)))
    query = query.order_by(col(OutletStatusChange.created_at), col(OutletStatusChange.id))
    if limit is not None:
        query = query.limit(limit)
    return list(db_session.exec(query).all())


def fund_outlets(
    *,
    db_session: Session,
    fund_id: uuid.UUID,
    status: OutletStatus | None,
    limit: int,
    after_name: tuple[str, uuid.UUID] | None,
) -> list[tuple[Outlet, OutletFund]]:
    query = (
        select(Outlet, OutletFund)
        .join(OutletFund, col(OutletFund.outlet_id) == col(Outlet.id))
        .where(col(OutletFund.fund_id) == fund_id)
    )
    if status is not None:
        query = query.where(col(OutletFund.status) == status.value)
    if after_name is not None:
        name, last_id = after_name
        query = query.where(
            (col(Outlet.name) > name) | ((col(Outlet.name) == name) & (col(Outlet.id) > last_id))
        )
    rows = db_session.exec(query.order_by(col(Outlet.name), col(Outlet.id)).limit(limit)).all()
    return [(outlet, standing) for outlet, standing in rows]


def standings(db_session: Session, outlet_id: uuid.UUID) -> list[dict[str, Any]]:
    return [
        {"fund_id": s.fund_id, "status": s.status}
        for s in db_session.exec(
            select(OutletFund).where(col(OutletFund.outlet_id) == outlet_id)
        ).all()
    ]


def create_terminal(
    *, db_session: Session, outlet_id: uuid.UUID, label: str, actor: str, request_id: str | None
) -> tuple[OAuthClient, str]:
    """A till's client credentials; the secret is shown once and only its hash is kept."""
    outlet = get_outlet(db_session=db_session, outlet_id=outlet_id)
    secret = new_secret()
    client = OAuthClient(
        client_id=f"till_{uuid.uuid4().hex[:20]}",
        client_secret_hash=secret_hash(secret),
        label=label.strip(),
        outlet_id=outlet.id,
    )
    db_session.add(client)
    db_session.flush()
    record(
        db_session=db_session,
        actor=actor,
        action="terminal.create",
        target_type="outlet",
        target_id=outlet.id,
        after={"client_id": client.client_id, "label": client.label},
        request_id=request_id,
    )
    return client, secret


def revoke_terminal(
    *, db_session: Session, outlet_id: uuid.UUID, client_id: str, actor: str, request_id: str | None
) -> OAuthClient:
    client = db_session.exec(
        select(OAuthClient).where(
            col(OAuthClient.client_id) == client_id, col(OAuthClient.outlet_id) == outlet_id
        )
    ).first()
    if client is None:
        raise TerminalNotFound()
    if client.revoked_at is None:
        client.revoked_at = utcnow()
        db_session.add(client)
        db_session.flush()
        record(
            db_session=db_session,
            actor=actor,
            action="terminal.revoke",
            target_type="outlet",
            target_id=outlet_id,
            after={"client_id": client_id},
            request_id=request_id,
        )
    return client
