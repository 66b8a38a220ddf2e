"""The `ssa` command: serve, migrate, and check the books."""

import re
import sys
import uuid
from collections import Counter
from typing import Any

import click
import uvicorn
from pydantic import EmailStr, TypeAdapter, ValidationError
from sqlalchemy.exc import ArgumentError, OperationalError, ProgrammingError
from sqlmodel import Session, select

from ssa import migrations
from ssa.db import make_engine, unit_of_work
from ssa.funds.models import Fund
from ssa.funds.presets import Preset
from ssa.funds.schemas import FundCreate
from ssa.funds.service import create_fund
from ssa.ledger.check import check_ledger
from ssa.problems import Problem
from ssa.settings import Settings, get_settings
from ssa.types import PERIOD_PATTERN

_EMAIL = TypeAdapter(EmailStr)


class _Commands(click.Group):
    """The commands, whose refusals are a line and an exit code, never a traceback: a
    service's refusal (exit 1), a database that is unreachable or not migrated (exit 1)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except Problem as problem:
            click.echo(f"{problem.code}: {problem.detail}", err=True)
            sys.exit(1)
        except (OperationalError, ProgrammingError) as exc:
            if not _unmigrated(exc) and not isinstance(exc, OperationalError):
                raise
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
            hint = (
                " The database is not migrated: run `ssa db upgrade`."
                if _unmigrated(exc)
                else " Check SSA_DATABASE_URL and that the database server runs."
            )
            click.echo(f"database error: {reason}.{hint}", err=True)
            sys.exit(1)
        except ArgumentError as exc:  # SSA_DATABASE_URL is not a URL, or of no known database
            click.echo(f"configuration error: SSA_DATABASE_URL: {exc}.", err=True)
            sys.exit(1)
        except ValidationError as exc:  # an SSA_* setting of the wrong kind
            if exc.title != Settings.__name__:
                raise
            problems = "; ".join(
                f"SSA_{'_'.join(str(part) for part in error['loc']).upper()}: {error['msg']}"
                for error in exc.errors()
            )
            click.echo(f"configuration error: {problems}.", err=True)
            sys.exit(1)


def _unmigrated(exc: Exception) -> bool:
    text = str(getattr(exc, "orig", exc))
    return "no such table" in text or ("relation" in text and "does not exist" in text)


@click.group(cls=_Commands)
def main() -> None:
    """ssa: the ledger of a social food security fund."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64))
def serve(host: str, port: int, workers: int) -> None:
    """Serve the API (and later the web pages) with uvicorn."""
    uvicorn.run(
        "ssa.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=get_settings().log_level.lower(),
        proxy_headers=True,
    )


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Apply the migrations up to REVISION."""
    migrations.upgrade(get_settings().database_url, revision)
    click.echo(f"database at {revision}")


@main.group()
def admin() -> None:
    """Instance administrators."""


@admin.command("create")
@click.option("--email", required=True)
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--name", "display_name", default="Administrator", show_default=True)
def admin_create(email: str, password: str, display_name: str) -> None:
    """Create an instance administrator, or make an existing user one (their password
    becomes PASSWORD)."""
    from ssa.auth.roles import Role
    from ssa.auth.service import create_user, find_user_by_email, grant_role, set_password

    try:
        _EMAIL.validate_python(email)
    except ValidationError as exc:
        raise click.BadParameter("not an email address", param_hint="--email") from exc
    engine = make_engine(get_settings())
    try:
        with unit_of_work(engine) as session:
            user = find_user_by_email(db_session=session, email=email)
            existing = user is not None
            if user is None:
                user = create_user(
                    db_session=session, email=email, display_name=display_name, password=password
                )
            else:
                set_password(db_session=session, user=user, password=password)
            grant_role(db_session=session, actor="system:cli", user_id=user.id, role=Role.admin)
            user_id = user.id
    finally:
        engine.dispose()
    said = " (an existing user: now an administrator, with this password)" if existing else ""
    click.echo(f"administrator {email} ({user_id}){said}")


@admin.command("unlock")
@click.option("--email", required=True)
def admin_unlock(email: str) -> None:
    """Lift an account's lock after failed password logins (and forget the failures)."""
    from ssa.audit.service import record
    from ssa.auth.service import find_user_by_email
    from ssa.auth.throttle import unlock

    engine = make_engine(get_settings())
    try:
        with unit_of_work(engine) as session:
            user = find_user_by_email(db_session=session, email=email)
            lifted = unlock(session, email=email)
            if lifted and user is not None:
                record(
                    db_session=session,
                    actor="system:cli",
                    action="user.unlock",
                    target_type="user",
                    target_id=user.id,
                    fund_id=None,
                )
    finally:
        engine.dispose()
    click.echo(f"{email}: {'unlocked' if lifted else 'not locked'}")


@main.command()
def demo() -> None:
    """Load the Gironde-like demo installation (safe to run again)."""
    from ssa.demo import load_demo

    engine = make_engine(get_settings())
    with unit_of_work(engine) as session:
        lines = load_demo(db_session=session)
    engine.dispose()
    for line in lines:
        click.echo(line)


def _fund_id(session: Session, slug: str) -> uuid.UUID:
    fund = session.exec(select(Fund).where(Fund.slug == slug)).first()
    if fund is None:
        click.echo(f"no fund {slug!r}", err=True)
        sys.exit(2)
    return fund.id


@main.command("issue")
@click.option("--fund", "fund_slug", required=True, help="The fund's slug.")
@click.option("--period", required=True, help="YYYY-MM")
@click.option("--dry-run", is_flag=True, help="Show what would be issued; write nothing.")
def issue_command(fund_slug: str, period: str, dry_run: bool) -> None:
    """Issue a period's credits to every eligible household (as the API does)."""
    from ssa.issuance.service import issue_period

    engine = make_engine(get_settings())
    try:
        with unit_of_work(engine) as session:
            summary = issue_period(
                db_session=session,
                fund_id=_fund_id(session, fund_slug),
                period=_checked_period(period),
                dry_run=dry_run,
                actor="system:cli",
            )
    except Problem as problem:
        click.echo(f"{problem.code}: {problem.detail}", err=True)
        sys.exit(1)
    finally:
        engine.dispose()
    verb = "would issue" if dry_run else "issued"
    click.echo(
        f"{fund_slug} {period}: {verb} {summary.total_cents / 100:.2f} EUR"
        f" to {summary.households_issued} households"
    )
    reasons = Counter(item["reason"] for item in summary.skipped)
    for reason, count in sorted(reasons.items()):
        click.echo(f"  skipped {count}: {reason}")


@main.command("close-period")
@click.option("--fund", "fund_slug", required=True, help="The fund's slug.")
@click.option("--period", required=True, help="YYYY-MM")
def close_period_command(fund_slug: str, period: str) -> None:
    """Apply the rollover policy to a period (idempotent)."""
    from ssa.issuance.close import close_period

    engine = make_engine(get_settings())
    try:
        with unit_of_work(engine) as session:
            summary = close_period(
                db_session=session,
                fund_id=_fund_id(session, fund_slug),
                period=_checked_period(period),
                actor="system:cli",
            )
    except Problem as problem:
        click.echo(f"{problem.code}: {problem.detail}", err=True)
        sys.exit(1)
    finally:
        engine.dispose()
    state = "already closed" if summary.already_closed else "closed"
    click.echo(
        f"{fund_slug} {period} {state}: {summary.expired_cents / 100:.2f} EUR expired"
        f" from {summary.households} households"
    )


def _checked_period(period: str) -> str:
    if re.fullmatch(PERIOD_PATTERN, period) is None:
        raise click.BadParameter("a period is YYYY-MM", param_hint="--period")
    return period


@main.group()
def assembly() -> None:
    """The member assembly."""


@assembly.command("close-due")
def assembly_close_due() -> None:
    """Close every proposal whose voting window has passed, and enact the adopted ones
    (idempotent; safe on two machines at once: each proposal is closed under its row lock,
    in a transaction of its own)."""
    from ssa.assembly.service import close_if_due, due_proposal_ids
    from ssa.timeutil import utcnow

    engine = make_engine(get_settings())
    now = utcnow()
    closed = 0
    try:
        with unit_of_work(engine) as session:
            due = due_proposal_ids(db_session=session, now=now)
        for proposal_id in due:
            with unit_of_work(engine) as session:
                closed += close_if_due(db_session=session, proposal_id=proposal_id, now=now)
    finally:
        engine.dispose()
    click.echo(f"closed {closed} proposal{'s' if closed != 1 else ''} past their window")


@main.group()
def ledger() -> None:
    """The books."""


@ledger.command("check")
@click.option("--fund", "fund_slug", default=None, help="Only this fund (its slug).")
def ledger_check(fund_slug: str | None) -> None:
    """Recompute balances and sums from the postings; exit 1 when something is wrong."""
    engine = make_engine(get_settings())
    with unit_of_work(engine) as session:
        fund_id = None
        if fund_slug is not None:
            fund = session.exec(select(Fund).where(Fund.slug == fund_slug)).first()
            if fund is None:
                click.echo(f"no fund {fund_slug!r}", err=True)
                sys.exit(2)
            fund_id = fund.id
        results = check_ledger(db_session=session, fund_id=fund_id)
    engine.dispose()
    for result in results:
        click.echo(f"{'ok  ' if result.ok else 'FAIL'} {result.name}: {result.detail}")
    sys.exit(0 if all(r.ok for r in results) else 1)


@main.group()
def idempotency() -> None:
    """Idempotency keys."""


@idempotency.command("purge")
@click.option(
    "--older-than-hours",
    type=click.IntRange(min=1, max=24 * 366 * 100),
    default=168,
    show_default=True,
    help="Forget the keys used longer ago than this.",
)
def idempotency_purge(older_than_hours: int) -> None:
    """Forget old Idempotency-Keys and the answers kept for their retries (they may hold
    personal data): a retry after that is a new request. Run it from a timer."""
    from datetime import timedelta

    from ssa.idempotency.service import purge
    from ssa.timeutil import utcnow

    engine = make_engine(get_settings())
    try:
        with unit_of_work(engine) as session:
            count = purge(
                db_session=session, older_than=utcnow() - timedelta(hours=older_than_hours)
            )
    finally:
        engine.dispose()
    click.echo(f"forgot {count} idempotency key{'s' if count != 1 else ''}")


@main.group()
def fund() -> None:
    """Funds."""


@fund.command("create")
@click.option("--slug", required=True, help="Lowercase letters, digits and hyphens.")
@click.option("--name", required=True)
@click.option("--iban", required=True, help="The account contributions are paid to.")
@click.option("--bic", default=None)
@click.option(
    "--preset",
    type=click.Choice([preset.value for preset in Preset]),
    default=Preset.gironde.value,
    show_default=True,
    help="The pilot whose policy the fund starts from.",
)
def fund_create(slug: str, name: str, iban: str, bic: str | None, preset: str) -> None:
    """Create a fund with a preset policy and its ledger accounts."""
    try:
        details = FundCreate(slug=slug, name=name, iban=iban, bic=bic, preset=Preset(preset))
    except ValidationError as exc:
        for error in exc.errors():
            click.echo(f"{'.'.join(map(str, error['loc']))}: {error['msg']}", err=True)
        sys.exit(2)
    engine = make_engine(get_settings())
    try:
        with unit_of_work(engine) as session:
            created = create_fund(
                db_session=session,
                slug=details.slug,
                name=details.name,
                iban=details.iban,
                bic=details.bic,
                preset=details.preset,
                actor="cli",
            )
    except Problem as exc:
        click.echo(f"{exc.code}: {exc.detail}", err=True)
        sys.exit(1)
    finally:
        engine.dispose()
    click.echo(f"fund {created.slug}: created ({created.id}), policy {details.preset.value}")
