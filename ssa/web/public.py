"""Pages anyone may see: the landing page, login and logout, the language switch, and
each fund's accredited outlets (a plain list, no map)."""

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import col, select

from ssa.auth.deps import DbSession
from ssa.auth.login import TooManyFailures, WrongCredentials, authenticate_password
from ssa.auth.oidc import end_sessions, local_path, start_session
from ssa.auth.passwords import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH
from ssa.auth.service import InvitationInvalid, accept_invitation
from ssa.funds.models import Fund
from ssa.funds.service import list_funds
from ssa.outlets.models import OutletCategory, OutletStatus
from ssa.outlets.service import fund_outlets
from ssa.timeutil import utcnow
from ssa.web.access import OptionalViewer, PageNotFound, optional_viewer
from ssa.web.csrf import csrf_protect, rotate
from ssa.web.forms import N_
from ssa.web.i18n import LANGUAGE_COOKIE, LANGUAGES, texts_for
from ssa.web.render import flash, render

router = APIRouter(
    include_in_schema=False,
    default_response_class=HTMLResponse,
    dependencies=[Depends(csrf_protect)],
)

# Outlet categories as the pages name them.
CATEGORIES = {
    OutletCategory.farm_shop: N_("Farm shop"),
    OutletCategory.market_stall: N_("Market stall"),
    OutletCategory.cooperative: N_("Cooperative"),
    OutletCategory.grocer: N_("Grocer"),
    OutletCategory.bakery: N_("Bakery"),
    OutletCategory.butcher: N_("Butcher"),
    OutletCategory.fishmonger: N_("Fishmonger"),
    OutletCategory.restaurant: N_("Restaurant"),
    OutletCategory.other: N_("Other"),
}


def _funds(db_session: DbSession) -> list[Fund]:
    funds, _ = list_funds(db_session=db_session, limit=200)
    return funds


@router.get("/", name="home")
def home(request: Request, db_session: DbSession, viewer: OptionalViewer) -> Response:
    """The landing page: what this is, login, and the spaces of the logged-in person."""
    return render(
        request,
        "public/home.html",
        {"viewer": viewer, "funds": _funds(db_session), "next": "/"},
    )


@router.get("/login", name="login")
def login_page(request: Request, viewer: OptionalViewer, next: str = "/") -> Response:
    if viewer is not None:
        return RedirectResponse(local_path(next) if next != "/" else viewer.home_path(), 303)
    return render(request, "public/login.html", {"next": local_path(next), "email": ""})


@router.post("/login", name="login_submit")
def login_submit(
    request: Request,
    db_session: DbSession,
    email: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    """Password login: the token endpoint's own check and throttling, then a fresh session."""
    t = texts_for(request)
    target = local_path(next[:2000])
    email = email.strip()[:320]
    try:
        if len(password) > MAX_PASSWORD_LENGTH:
            raise WrongCredentials()
        user = authenticate_password(
            db_session=db_session,
            email=email,
            password=password,
            address=request.client.host if request.client else None,
            settings=request.app.state.settings,
        )
    except TooManyFailures as exc:
        seconds = max(1, int((exc.until - utcnow()).total_seconds()) + 1)
        error = t.ngettext(
            "Too many failed logins: try again in %(num)d second.",
            "Too many failed logins: try again in %(num)d seconds.",
            seconds,
        )
        context = {"next": target, "email": email, "error": error}
        return render(request, "public/login.html", context, status=429)
    except WrongCredentials:
        error = t.gettext("Wrong email or password.")
        context = {"next": target, "email": email, "error": error}
        return render(request, "public/login.html", context, status=401)
    start_session(request, user)  # a new session: nothing from before the login survives
    rotate(request)
    if target == "/":
        viewer = optional_viewer(request, db_session)
        target = viewer.home_path() if viewer else "/"
    return RedirectResponse(target, status_code=303)


def _invitation(request: Request, code: str, errors: dict[str, str], status: int = 200) -> Response:
    context = {
        "code": code,
        "errors": errors,
        "error": None,
        "min_length": MIN_PASSWORD_LENGTH,
        "max_length": MAX_PASSWORD_LENGTH,
    }
    if errors:
        context["error"] = texts_for(request).gettext("Some fields need a look: see below.")
    return render(request, "public/invitation.html", context, status=status)


@router.get("/invitation", name="invitation")
def invitation_page(request: Request, code: str = "") -> Response:
    """Where a new member types the invitation code the fund gave them (`?code=` fills it)."""
    return _invitation(request, code.strip()[:200], {})


@router.post("/invitation", name="invitation_submit")
def invitation_submit(
    request: Request,
    db_session: DbSession,
    code: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    password_again: Annotated[str, Form()] = "",
) -> Response:
    """Accept an invitation (the API's `POST /auth/invitations/accept`): the password is
    set, the code cannot be used again, and the member is logged in."""
    t = texts_for(request)
    code = code.strip()[:200]
    errors: dict[str, str] = {}
    if not code:
        errors["code"] = t.gettext("Type the invitation code the fund gave you.")
    if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        errors["password"] = t.gettext(
            "A password has %(min)d to %(max)d characters.",
            min=MIN_PASSWORD_LENGTH,
            max=MAX_PASSWORD_LENGTH,
        )
    elif password_again != password:
        errors["password_again"] = t.gettext("The two passwords are not the same: type it again.")
    if errors:
        return _invitation(request, code, errors, status=422)
    try:
        user = accept_invitation(db_session=db_session, token=code, password=password)
    except InvitationInvalid:
        errors["code"] = t.gettext(
            "This code is not valid: it may have been mistyped, used already or have expired."
            " Ask the fund for a new one."
        )
        return _invitation(request, code, errors, status=400)
    start_session(request, user)
    rotate(request)
    flash(
        request,
        t.gettext("Your password is set: from now on, log in with your email and this password."),
    )
    viewer = optional_viewer(request, db_session)
    return RedirectResponse(viewer.home_path() if viewer else "/", status_code=303)


@router.post("/logout", name="logout")
def logout(request: Request, db_session: DbSession) -> Response:
    end_sessions(request, db_session)  # here and on every device
    rotate(request)
    return RedirectResponse("/", status_code=303)


@router.get("/language/{language}", name="language")
def switch_language(language: str, next: str = "/") -> Response:
    """The language switch: a plain link, remembered in a cookie for a year."""
    response = RedirectResponse(local_path(next), status_code=303)
    if language in LANGUAGES:
        response.set_cookie(
            LANGUAGE_COOKIE, language, max_age=365 * 24 * 3600, httponly=True, samesite="lax"
        )
    return response


@router.get("/outlets", name="outlet_funds")
def outlet_funds(request: Request, db_session: DbSession, viewer: OptionalViewer) -> Response:
    """Every fund, each with a link to its accredited outlets."""
    return render(request, "public/funds.html", {"viewer": viewer, "funds": _funds(db_session)})


@router.get("/funds/{slug}/outlets", name="fund_outlets")
def accredited_outlets(
    slug: str, request: Request, db_session: DbSession, viewer: OptionalViewer
) -> Response:
    """The outlets where a fund's credits are accepted: name, category and address (the
    API's public list, without a map)."""
    fund = db_session.exec(select(Fund).where(col(Fund.slug) == slug)).first()
    if fund is None:
        raise PageNotFound()
    rows = fund_outlets(
        db_session=db_session,
        fund_id=fund.id,
        status=OutletStatus.accredited,
        limit=1000,
        after_name=None,
    )
    t = texts_for(request)
    outlets = [
        {
            "name": outlet.name,
            "category": t.gettext(
                CATEGORIES.get(outlet.category, CATEGORIES[OutletCategory.other])
            ),
            "address": f"{outlet.address_line1}, {outlet.postcode} {outlet.city}",
            "city": outlet.city,
        }
        for outlet, _ in rows
    ]
    return render(
        request,
        "public/outlets.html",
        {"viewer": viewer, "fund": fund, "outlets": outlets},
    )
