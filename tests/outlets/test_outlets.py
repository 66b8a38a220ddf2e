"""Outlets through the API, on both engines: registration with checked identifiers,
applications scored on the fund's criteria, status decisions with their history and
audit, public lists and GeoJSON, staff and till terminals."""

import uuid
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlmodel import Session, col, select

from ssa.auth.models import OAuthClient
from ssa.funds.models import Fund
from ssa.funds.service import create_fund
from ssa.pagination import encode_cursor
from tests.conftest import People
from tests.issuance.helpers import make_fund
from tests.payments.helpers import IBAN, valid_siret

CRITERIA = (
    "accessibility",
    "working_conditions",
    "local_origin",
    "price_transparency",
    "sustainable_practices",
)


def outlet_body(**change: Any) -> dict[str, Any]:
    return {
        "name": f"Ferme {uuid.uuid4().hex[:6]}",
        "siret": valid_siret(uuid.uuid4().int),
        "iban": IBAN,
        "bic": "AGRIFRPP",
        "address": {"line1": "Lieu-dit Les Vignes", "postcode": "33210", "city": "Langon"},
        "category": "farm_shop",
        "latitude": 44.553,
        "longitude": -0.249,
        **change,
    }


@pytest.fixture
def fund(engine: Engine) -> Fund:  # the gironde preset, with its five criteria
    return make_fund(engine)


@pytest.fixture
def coordinator(people: People, fund: Fund) -> dict[str, str]:
    return people.as_(("coordinator", fund.id))


def register(client: TestClient, headers: dict[str, str], **change: Any) -> dict[str, Any]:
    response = client.post("/api/v1/outlets", json=outlet_body(**change), headers=headers)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def decide(
    client: TestClient,
    headers: dict[str, str],
    fund: Fund,
    outlet_id: str,
    status: str,
    reference: str = "AG 2026-02, point 3",
) -> Any:
    return client.put(
        f"/api/v1/funds/{fund.id}/outlets/{outlet_id}/status",
        json={"status": status, "decision_reference": reference},
        headers=headers,
    )


def accredited(
    client: TestClient, headers: dict[str, str], fund: Fund, **change: Any
) -> dict[str, Any]:
    outlet = register(client, headers, **change)
    assert decide(client, headers, fund, outlet["id"], "accredited").status_code == 200
    return outlet


def problem(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    return body


# --- Registration ----------------------------------------------------------------------


def test_a_coordinator_registers_an_outlet(client: TestClient, coordinator: dict[str, str]) -> None:
    siret = valid_siret(uuid.uuid4().int)
    spaced = f"{siret[:3]} {siret[3:6]} {siret[6:9]} {siret[9:]}"
    body = register(client, coordinator, siret=spaced, iban="fr76 3000 6000 0112 3456 7890 189")
    assert body["siret"] == siret
    assert body["iban"] == IBAN
    assert body["category"] == "farm_shop"
    assert body["address"]["city"] == "Langon"
    assert body["funds"] == []
    got = client.get(f"/api/v1/outlets/{body['id']}", headers=coordinator)
    assert got.status_code == 200
    assert got.json()["id"] == body["id"]


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"siret": "12345678901234"}, "invalid_siret"),
        ({"siret": "1234"}, "invalid_siret"),
        ({"siret": "ABCDEFGHIJKLMN"}, "invalid_siret"),
        ({"iban": "FR7630006000011234567890188"}, "invalid_iban"),
        ({"iban": "not an iban"}, "invalid_iban"),
        ({"category": "supermarket"}, "validation_error"),
        ({"latitude": 91}, "validation_error"),
        ({"longitude": -181}, "validation_error"),
        ({"name": ""}, "validation_error"),
        ({"colour": "green"}, "validation_error"),
    ],
)
def test_registration_checks_identifiers(
    client: TestClient, coordinator: dict[str, str], change: dict[str, Any], code: str
) -> None:
    response = client.post("/api/v1/outlets", json=outlet_body(**change), headers=coordinator)
    problem(response, 422, code)


def test_a_siret_registers_once(client: TestClient, coordinator: dict[str, str]) -> None:
    first = register(client, coordinator)
    again = client.post(
        "/api/v1/outlets", json=outlet_body(siret=first["siret"]), headers=coordinator
    )
    assert again.status_code == 409, again.text


def test_only_coordinators_register(client: TestClient, people: People, fund: Fund) -> None:
    for headers in (people.as_(("treasurer", fund.id)), people.as_(("auditor", fund.id))):
        problem(
            client.post("/api/v1/outlets", json=outlet_body(), headers=headers), 403, "forbidden"
        )
    problem(client.post("/api/v1/outlets", json=outlet_body()), 401, "unauthenticated")


# --- Application and status ------------------------------------------------------------


def test_an_application_is_scored_on_the_funds_criteria(
    client: TestClient, coordinator: dict[str, str], fund: Fund
) -> None:
    outlet = register(client, coordinator)
    url = f"/api/v1/funds/{fund.id}/outlets/{outlet['id']}/application"
    unknown = client.post(
        url,
        json={"criteria": {"accessibility": {"score": 2}, "organic_label": {"score": 3}}},
        headers=coordinator,
    )
    body = problem(unknown, 422, "unknown_criterion")
    assert "organic_label" in body["detail"]
    for score in (-1, 4, "high"):
        problem(
            client.post(
                url, json={"criteria": {"accessibility": {"score": score}}}, headers=coordinator
            ),
            422,
            "validation_error",
        )
    scores = {name: {"score": i % 4, "note": f"visited: {name}"} for i, name in enumerate(CRITERIA)}
    applied = client.post(url, json={"criteria": scores}, headers=coordinator)
    assert applied.status_code == 201, applied.text
    assert applied.json()["status"] == "applicant"
    assert applied.json()["criteria"] == scores
    listed = client.get(
        f"/api/v1/funds/{fund.id}/outlets", params={"status": "applicant"}, headers=coordinator
    ).json()["items"]
    assert [(i["id"], i["criteria"]) for i in listed] == [(outlet["id"], scores)]


def test_a_status_decision_needs_its_reference_and_is_kept(
    client: TestClient, coordinator: dict[str, str], fund: Fund, people: People, engine: Engine
) -> None:
    outlet = register(client, coordinator)
    url = f"/api/v1/funds/{fund.id}/outlets/{outlet['id']}/status"
    without = client.put(url, json={"status": "accredited"}, headers=coordinator)
    problem(without, 422, "validation_error")
    empty = client.put(
        url, json={"status": "accredited", "decision_reference": ""}, headers=coordinator
    )
    problem(empty, 422, "validation_error")
    bogus = client.put(
        url, json={"status": "beloved", "decision_reference": "AG"}, headers=coordinator
    )
    problem(bogus, 422, "validation_error")
    # An applicant is what an outlet becomes by applying, not what a meeting decides.
    demoted = client.put(
        url, json={"status": "applicant", "decision_reference": "AG"}, headers=coordinator
    )
    problem(demoted, 422, "validation_error")
    assert demoted.json()["errors"][0]["loc"] == ["body", "status"]
    problem(
        decide(client, people.as_(("treasurer", fund.id)), fund, outlet["id"], "accredited"),
        403,
        "forbidden",
    )
    assert (
        decide(client, coordinator, fund, outlet["id"], "accredited", "AG 2026-02").json()["status"]
        == "accredited"
    )
    assert (
        decide(client, coordinator, fund, outlet["id"], "suspended", "CA 2026-03").json()["status"]
        == "suspended"
    )
    history = client.get(
        f"/api/v1/funds/{fund.id}/outlets/{outlet['id']}/history", headers=coordinator
    )
    assert history.status_code == 200, history.text
    assert history.json()["next_cursor"] is None
    items = history.json()["items"]
    steps = [(h["from_status"], h["to_status"], h["decision_reference"]) for h in items]
    assert steps == [(None, "accredited", "AG 2026-02"), ("accredited", "suspended", "CA 2026-03")]
    assert all(h["actor"].startswith("user:") for h in items)
    log = client.get(f"/api/v1/funds/{fund.id}/audit-log", headers=coordinator).json()["items"]
    changes = [e for e in log if e["action"] == "outlet.status" and e["target_id"] == outlet["id"]]
    assert len(changes) == 2
    latest = changes[0]
    assert latest["before"] == {"status": "accredited"}
    assert latest["after"]["status"] == "suspended"
    assert latest["after"]["decision_reference"] == "CA 2026-03"
    # Another fund's coordinator neither decides nor reads the history here.
    stranger = people.as_(("coordinator", make_fund(engine).id))
    problem(decide(client, stranger, fund, outlet["id"], "accredited"), 403, "forbidden")
    problem(
        client.get(f"/api/v1/funds/{fund.id}/outlets/{outlet['id']}/history", headers=stranger),
        403,
        "forbidden",
    )
    # A list as the contract has them: pages of `limit`, then `next_cursor`.
    decide(client, coordinator, fund, outlet["id"], "accredited", "AG 2026-04")
    base = f"/api/v1/funds/{fund.id}/outlets/{outlet['id']}/history?limit=2"
    first = client.get(base, headers=coordinator).json()
    assert [h["decision_reference"] for h in first["items"]] == ["AG 2026-02", "CA 2026-03"]
    assert first["next_cursor"]
    second = client.get(f"{base}&cursor={first['next_cursor']}", headers=coordinator).json()
    assert [h["decision_reference"] for h in second["items"]] == ["AG 2026-04"]
    assert second["next_cursor"] is None
    problem(client.get(f"{base}&cursor=forged", headers=coordinator), 422, "validation_error")
    # A time at the calendar's edge has no UTC equivalent: refused as any forged cursor.
    for edge in ("0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "2026-01-01T00:00"):
        cursor = encode_cursor(edge, str(uuid.uuid4()))
        problem(client.get(f"{base}&cursor={cursor}", headers=coordinator), 422, "validation_error")


# --- Public lists ------------------------------------------------------------------------


def test_the_accredited_list_is_public_and_says_little(
    client: TestClient, coordinator: dict[str, str], fund: Fund, people: People
) -> None:
    shown = accredited(client, coordinator, fund, name="A — Boulangerie", category="bakery")
    client.post(
        f"/api/v1/funds/{fund.id}/outlets/{shown['id']}/application",
        json={"criteria": {"accessibility": {"score": 3, "note": "step-free"}}},
        headers=coordinator,
    )
    applicant = register(client, coordinator, name="B — Applicant")
    client.post(
        f"/api/v1/funds/{fund.id}/outlets/{applicant['id']}/application",
        json={"criteria": {"accessibility": {"score": 1}}},
        headers=coordinator,
    )
    suspended = accredited(client, coordinator, fund, name="C — Suspended")
    decide(client, coordinator, fund, suspended["id"], "suspended")
    public = client.get(f"/api/v1/funds/{fund.id}/outlets", params={"status": "accredited"})
    assert public.status_code == 200, public.text
    items = public.json()["items"]
    assert [i["id"] for i in items] == [shown["id"]]
    item = items[0]
    assert item["name"] == "A — Boulangerie"
    assert item["category"] == "bakery"
    assert item["address"]["city"] == "Langon"
    assert item["latitude"] == pytest.approx(44.553)
    assert item["longitude"] == pytest.approx(-0.249)
    assert not item.get("criteria")
    for secret in ("siret", "iban", "bic"):
        assert secret not in item
    assert shown["siret"] not in public.text
    assert IBAN not in public.text
    assert "step-free" not in public.text
    # Other statuses, and all of them, are for the fund's staff.
    for params in ({"status": "applicant"}, {"status": "suspended"}, {}):
        anonymous = client.get(f"/api/v1/funds/{fund.id}/outlets", params=params)
        assert anonymous.status_code in (401, 403), anonymous.text
        outsider = client.get(
            f"/api/v1/funds/{fund.id}/outlets", params=params, headers=people.as_()
        )
        assert outsider.status_code == 403
    staff = client.get(
        f"/api/v1/funds/{fund.id}/outlets", params={"status": "suspended"}, headers=coordinator
    )
    assert [i["id"] for i in staff.json()["items"]] == [suspended["id"]]
    every = client.get(f"/api/v1/funds/{fund.id}/outlets", headers=coordinator).json()["items"]
    assert {i["id"]: i["status"] for i in every} == {
        shown["id"]: "accredited",
        applicant["id"]: "applicant",
        suspended["id"]: "suspended",
    }
    # An outlet's full record (SIRET, IBAN) is not public either.
    assert client.get(f"/api/v1/outlets/{shown['id']}").status_code == 401
    # No such fund: a 404, not an empty list (nor an empty map).
    nowhere = uuid.uuid4()
    for path in ("outlets?status=accredited", "outlets.geojson"):
        problem(client.get(f"/api/v1/funds/{nowhere}/{path}"), 404, "not_found")


def test_the_geojson_map_of_accredited_outlets(
    client: TestClient, coordinator: dict[str, str], fund: Fund
) -> None:
    placed = accredited(client, coordinator, fund, latitude=44.8378, longitude=-0.5792)
    accredited(client, coordinator, fund, latitude=None, longitude=None)  # not on the map
    register(client, coordinator)  # not accredited here
    response = client.get(f"/api/v1/funds/{fund.id}/outlets.geojson")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/geo+json")
    collection = response.json()
    assert collection["type"] == "FeatureCollection"
    assert len(collection["features"]) == 1
    feature = collection["features"][0]
    assert feature["type"] == "Feature"
    assert feature["geometry"] == {"type": "Point", "coordinates": [-0.5792, 44.8378]}
    lon, lat = feature["geometry"]["coordinates"]
    assert -180 <= lon <= 180
    assert -90 <= lat <= 90
    assert feature["properties"]["id"] == placed["id"]
    assert "siret" not in feature["properties"]
    assert "iban" not in feature["properties"]
    assert placed["siret"] not in response.text


# --- Staff and terminals -----------------------------------------------------------------


def test_the_manager_or_the_funds_coordinator_adds_staff(
    client: TestClient, coordinator: dict[str, str], people: People, fund: Fund, engine: Engine
) -> None:
    outlet = accredited(client, coordinator, fund)
    url = f"/api/v1/outlets/{outlet['id']}/staff"
    newcomer = people.user()
    manager = people.as_(("manager", uuid.UUID(outlet["id"])))
    cashier = people.as_(("cashier", uuid.UUID(outlet["id"])))
    other_manager = people.as_(("manager", uuid.UUID(register(client, coordinator)["id"])))
    with Session(engine) as session:
        elsewhere = create_fund(db_session=session, slug=f"{fund.slug}-e", name="Elsewhere")
        session.commit()
        elsewhere_id = elsewhere.id
    stranger = people.as_(("coordinator", elsewhere_id))
    # The first manager comes from the coordinator of a fund where the outlet stands.
    first = client.post(
        url, json={"user_id": str(people.user()), "role": "manager"}, headers=coordinator
    )
    assert first.status_code == 201, first.text
    for headers in (cashier, other_manager, stranger):
        problem(
            client.post(url, json={"user_id": str(newcomer), "role": "cashier"}, headers=headers),
            403,
            "forbidden",
        )
    problem(
        client.post(url, json={"user_id": str(newcomer), "role": "owner"}, headers=manager),
        422,
        "validation_error",
    )
    added = client.post(url, json={"user_id": str(newcomer), "role": "cashier"}, headers=manager)
    assert added.status_code == 201, added.text
    assert added.json()["role"] == "cashier"
    assert added.json()["outlet_id"] == outlet["id"]
    me = client.get("/api/v1/me", headers=people.headers(newcomer)).json()
    assert {"role": "cashier", "outlet_id": outlet["id"]}.items() <= me["roles"][0].items()


def test_a_coordinator_cannot_take_over_another_funds_outlet_by_applying(
    client: TestClient, coordinator: dict[str, str], people: People, fund: Fund, engine: Engine
) -> None:
    """An outlet of fund A: a coordinator of fund B may file its application in B, but
    not then name themselves its manager or open a till, which would take (and refund) A's
    payments and see its takings."""
    outlet = accredited(client, coordinator, fund)
    other = make_fund(engine)
    intruder = people.user(("coordinator", other.id))
    other_coordinator = people.headers(intruder)
    filed = client.post(
        f"/api/v1/funds/{other.id}/outlets/{outlet['id']}/application",
        json={"criteria": {}},
        headers=other_coordinator,
    )
    assert filed.status_code == 201, filed.text
    problem(
        client.post(
            f"/api/v1/outlets/{outlet['id']}/staff",
            json={"user_id": str(intruder), "role": "manager"},
            headers=other_coordinator,
        ),
        403,
        "forbidden",
    )
    problem(
        client.post(
            f"/api/v1/outlets/{outlet['id']}/terminals",
            json={"label": "Till 9"},
            headers=other_coordinator,
        ),
        403,
        "forbidden",
    )
    # The fund that accredited it keeps its hand: another fund's application (refused
    # there or not) does not lock its coordinators out; the administrator may too.
    for allowed in (coordinator, people.as_(("admin", None))):
        named = client.post(
            f"/api/v1/outlets/{outlet['id']}/staff",
            json={"user_id": str(people.user()), "role": "manager"},
            headers=allowed,
        )
        assert named.status_code == 201, named.text
        till = client.post(
            f"/api/v1/outlets/{outlet['id']}/terminals", json={"label": "T"}, headers=allowed
        )
        assert till.status_code == 201, till.text
    # Accredited by both funds: a coordinator of both, not of one.
    assert decide(client, other_coordinator, other, outlet["id"], "accredited").status_code == 200
    problem(
        client.post(
            f"/api/v1/outlets/{outlet['id']}/terminals", json={"label": "T"}, headers=coordinator
        ),
        403,
        "forbidden",
    )
    both = people.as_(("coordinator", fund.id), ("coordinator", other.id))
    named = client.post(
        f"/api/v1/outlets/{outlet['id']}/staff",
        json={"user_id": str(people.user()), "role": "manager"},
        headers=both,
    )
    assert named.status_code == 201, named.text


def test_a_terminal_secret_is_shown_once_stored_hashed_and_revocable(
    client: TestClient, coordinator: dict[str, str], people: People, fund: Fund, engine: Engine
) -> None:
    outlet = accredited(client, coordinator, fund)
    url = f"/api/v1/outlets/{outlet['id']}/terminals"
    manager = people.as_(("manager", uuid.UUID(outlet["id"])))
    problem(
        client.post(
            url, json={"label": "Till"}, headers=people.as_(("cashier", uuid.UUID(outlet["id"])))
        ),
        403,
        "forbidden",
    )
    by_coordinator = client.post(url, json={"label": "Till A"}, headers=coordinator)
    assert by_coordinator.status_code == 201, by_coordinator.text
    made = client.post(url, json={"label": "Till B"}, headers=manager)
    assert made.status_code == 201, made.text
    terminal = made.json()
    secret = terminal["client_secret"]
    assert len(secret) >= 32
    with Session(engine) as session:
        row = session.exec(
            select(OAuthClient).where(col(OAuthClient.client_id) == terminal["client_id"])
        ).one()
        assert row.client_secret_hash != secret
        assert secret not in row.client_secret_hash
        assert row.outlet_id == uuid.UUID(outlet["id"])
        dumped = session.exec(
            text("SELECT * FROM oauth_client WHERE client_id = :c").bindparams(
                c=terminal["client_id"]
            )
        ).one()
        assert all(secret not in str(value) for value in dumped)
    # The outlet's record never shows it again.
    assert secret not in client.get(f"/api/v1/outlets/{outlet['id']}", headers=manager).text
    credentials = {
        "grant_type": "client_credentials",
        "client_id": terminal["client_id"],
        "client_secret": secret,
    }
    token = client.post("/api/v1/auth/token", data=credentials)
    assert token.status_code == 200, token.text
    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
    wrong = client.post("/api/v1/auth/token", data={**credentials, "client_secret": "x" * 43})
    assert wrong.status_code == 401
    assert (
        client.get(f"/api/v1/outlets/{outlet['id']}/payments", headers=headers).status_code == 200
    )
    # Who the token is: the contract's members (no person behind it), its label, its outlet.
    me = client.get("/api/v1/me", headers=headers).json()
    assert {"user_id", "email", "display_name", "roles"} <= set(me)
    assert (me["user_id"], me["email"], me["display_name"]) == (None, None, "Till B")
    assert [(r["role"], r["outlet_id"]) for r in me["roles"]] == [("terminal", outlet["id"])]
    revoke = f"{url}/{terminal['client_id']}/revoke"
    problem(client.post(revoke, headers=people.as_()), 403, "forbidden")
    assert client.post(revoke, headers=manager).status_code == 204
    assert client.post(revoke, headers=manager).status_code == 204  # idempotent
    problem(
        client.get(f"/api/v1/outlets/{outlet['id']}/payments", headers=headers),
        401,
        "unauthenticated",
    )
    again = client.post("/api/v1/auth/token", data=credentials)
    assert again.status_code in (400, 401)
    problem(client.post(f"{url}/till_unknown/revoke", headers=manager), 404, "not_found")


def test_outlet_routes_refuse_malformed_ids(
    client: TestClient, coordinator: dict[str, str], fund: Fund, app: FastAPI
) -> None:
    for path in ("/api/v1/outlets/not-an-id", f"/api/v1/funds/{fund.id}/outlets/x/history"):
        response = client.get(path, headers=coordinator)
        assert response.status_code in (403, 404, 422), response.text
        assert response.status_code < 500
