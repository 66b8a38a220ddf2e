"""Demo data: a Gironde-like installation to try ssa on (`ssa demo`, run by `make run`).

Four local funds with the Gironde preset, opened five months ago with a grant each, and
193 households (about 400 persons) of realistic sizes and resources, who joined over
those months; a PIN per household, and logins for staff and a few household members.
Outlets of every category in every fund (most accredited by an assembly on the fund's
criteria, a few applicants, one suspended per fund; a market stall accredited by two
funds), a manager, a cashier and a till terminal for that stall. The funds' past months,
each step through the services on its day (the clock set with `ssa.timeutil.clock_at`):
the month's credits issued (`issue_period`, in month order, and again for the month's
newcomers), the contributions received (a few late or unpaid, a waiver now and then),
the payments taken (`charge_household`: most households spend most of their credits, one
demo member all of them), the month closed with the fund's rollover policy at the start
of the next (all but last month, left for the staff to close): the staff's dashboard
and reports have a history. Then this month, on today's clock: the newcomers, the
contributions so far, this month's credits, the payments so far and a few refunds. The
assembly: in every fund a vote that accredited an outlet last week and an open vote with
some ballots cast, and a committee drawn by lot in Haute-Gironde (its open vote is the
committee's). Everything goes through the services, as the API would; the data is drawn
from a fixed seed (the past months from their own), so every load looks the same: this
month's households, logins, outlets and votes are those drawn before the past months
were added. Loading again changes nothing: it only prints the outlets, the assembly's
votes, the till terminal's client id and the logins (the terminal's secret is shown
once, on the first load, as the API does; only its hash is kept).
"""

import random
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from schwifty import IBAN
from sqlalchemy import func
from sqlmodel import Session, col, select
from stdnum import luhn
from stdnum.fr import siret as siret_number

from ssa.auth.models import OAuthClient, RoleGrant, User
from ssa.auth.roles import Role
from ssa.auth.service import create_user, find_user_by_email, grant_role, set_password
from ssa.funds.models import Fund, FundPolicy
from ssa.funds.service import FUND_TIMEZONE, create_fund, current_period, policy_for
from ssa.households import rules
from ssa.households.contributions import record_contribution, record_grant, waive
from ssa.households.direct_debit import collections
from ssa.households.mandates import set_mandate
from ssa.households.models import (
    ContributionMethod,
    DirectDebitMandate,
    Household,
    MandateStatus,
    Person,
)
from ssa.households.schemas import AddressIn, DeclaredIn, HouseholdIn, MandateIn, PersonIn
from ssa.households.service import register, set_pin
from ssa.issuance import periods
from ssa.issuance.close import close_period
from ssa.issuance.service import IssuanceSummary, issue_period
from ssa.ledger.models import LedgerAccount
from ssa.outlets import schemas as outlet_schemas
from ssa.outlets.models import Outlet, OutletCategory, OutletFund, OutletStatus
from ssa.outlets.service import apply, create_terminal, register_outlet, set_status
from ssa.payments.models import Payment, Refund
from ssa.payments.service import accredited_standing, charge_household, refund
from ssa.settings import Settings, get_settings
from ssa.timeutil import clock_at, utcnow

SEED = 2024  # the year of the Gironde pilot
ACTOR = "system:demo"
PASSWORD = "demo-password-2026"  # noqa: S105 (printed on purpose: demo logins)
MEMBER_PIN = "1234"  # the PIN of the households whose members' logins are printed
EMAIL_DOMAIN = "demo.ssa.example"
ADMIN_EMAIL = f"admin@{EMAIL_DOMAIN}"
FUNDER = "Département de la Gironde"


@dataclass(frozen=True)
class DemoFund:
    slug: str
    name: str
    iban: str  # valid French IBANs (bank codes of real banks, made-up accounts)
    grant_cents: int
    households: int
    places: tuple[tuple[str, str], ...]  # (postcode, city)
    sepa_creditor_id: str  # the ICS the fund's bank gave it, for direct debits


DEMO_FUNDS = (
    DemoFund(
        "bordeaux",
        "Caisse locale de Bordeaux",
        "FR7642559100000801234567812",
        12_000_000,
        90,
        (
            ("33000", "Bordeaux"),
            ("33100", "Bordeaux"),
            ("33300", "Bordeaux"),
            ("33800", "Bordeaux"),
            ("33150", "Cenon"),
            ("33130", "Bègles"),
        ),
        "FR72ZZZ123456",
    ),
    DemoFund(
        "libourne",
        "Caisse locale du Libournais",
        "FR7613306000123350001234550",
        6_000_000,
        45,
        (("33500", "Libourne"), ("33330", "Saint-Émilion"), ("33910", "Saint-Denis-de-Pile")),
        "FR19ZZZ654321",
    ),
    DemoFund(
        "haute-gironde",
        "Caisse locale de Haute-Gironde",
        "FR7613335000400812345678996",
        4_500_000,
        30,
        (("33390", "Blaye"), ("33240", "Saint-André-de-Cubzac"), ("33710", "Bourg")),
        "FR98ZZZ533201",
    ),
    DemoFund(
        "sud-gironde",
        "Caisse locale du Sud-Gironde",
        "FR7610278036500002004560119",
        5_500_000,
        28,
        (("33210", "Langon"), ("33190", "La Réole"), ("33430", "Bazas")),
        "FR96ZZZ481730",
    ),
)

# Household sizes of the 193 households (406 persons): mostly one to three persons.
SIZES = {1: 80, 2: 55, 3: 30, 4: 18, 5: 6, 6: 4}

# Per fund: households that paid only the previous period (still within the one-period
# grace), that paid neither (their credits stop), that had the current period waived
# for hardship, and that joined this month.
LATE = {"bordeaux": 4, "libourne": 2, "haute-gironde": 1, "sud-gironde": 1}
UNPAID = {"bordeaux": 2, "libourne": 1, "haute-gironde": 1, "sud-gironde": 1}
WAIVED = {"bordeaux": 2, "libourne": 1, "haute-gironde": 0, "sud-gironde": 0}
NEW = {"bordeaux": 3, "libourne": 2, "haute-gironde": 1, "sud-gironde": 1}

# The funds' history: they opened HISTORY_MONTHS months before this one, and by the end of
# each of those months this share of their households (other than this month's
# newcomers) had joined, on one of the month's first JOIN_DAYS days.
HISTORY_MONTHS = 5
JOINED_BY = (0.4, 0.6, 0.75, 0.9, 1.0)
JOIN_DAYS = 20
# In each past month before the last: the households that paid late (after the 15th) or
# not at all, the chance that a fund waived one household's month, those who did not
# shop, and the share of their credits the others spent.
PAST_LATE = 0.04
PAST_UNPAID = 0.015
PAST_WAIVER = 0.15
PAST_WAIVER_REASONS = (
    "Hospitalisation : exonération d'un mois",
    "Perte d'emploi : exonération d'un mois",
    "Sinistre au logement : exonération d'un mois",
)
PAST_IDLE = 0.05
PAST_SPENT = (0.6, 0.95)
PAST_BASKET = (2000, 12000)  # a past month's payments, in cents: the weekly shop and more

# Staff of the Bordeaux fund: (email, display name, role).
STAFF = (
    (f"coordination.bordeaux@{EMAIL_DOMAIN}", "Nadia Benali", Role.coordinator),
    (f"tresorerie.bordeaux@{EMAIL_DOMAIN}", "Julien Lacoste", Role.treasurer),
    (f"audit.bordeaux@{EMAIL_DOMAIN}", "Hélène Darrieux", Role.auditor),
)
# The household members of Bordeaux who get a login, by household size; the one of
# SPENDS_ALL_SIZE spends all its credits every month (no credits left this month).
MEMBER_SIZES = (1, 2, 4)
SPENDS_ALL_SIZE = 1

FEMALE = [
    "Camille",
    "Léa",
    "Manon",
    "Chloé",
    "Emma",
    "Inès",
    "Sarah",
    "Jade",
    "Louise",
    "Alice",
    "Julie",
    "Marie",
    "Nathalie",
    "Isabelle",
    "Sandrine",
    "Sophie",
    "Céline",
    "Aurélie",
    "Fatima",
    "Aïcha",
    "Amina",
    "Yasmine",
    "Nadia",
    "Sylvie",
    "Christine",
    "Monique",
    "Françoise",
    "Martine",
    "Josiane",
    "Élodie",
    "Laura",
    "Pauline",
    "Océane",
    "Mathilde",
    "Clémence",
    "Lucie",
    "Anaïs",
    "Zoé",
]
MALE = [
    "Lucas",
    "Hugo",
    "Louis",
    "Gabriel",
    "Arthur",
    "Jules",
    "Nathan",
    "Théo",
    "Thomas",
    "Nicolas",
    "Julien",
    "Sébastien",
    "David",
    "Christophe",
    "Stéphane",
    "Laurent",
    "Philippe",
    "Pierre",
    "Jean",
    "Michel",
    "Alain",
    "Bernard",
    "Karim",
    "Mohamed",
    "Youssef",
    "Mehdi",
    "Rachid",
    "Kevin",
    "Maxime",
    "Antoine",
    "Romain",
    "Baptiste",
    "Adrien",
    "Léo",
    "Paul",
    "Sacha",
    "Noah",
    "Enzo",
]
FAMILY = [
    "Martin",
    "Bernard",
    "Dubois",
    "Thomas",
    "Robert",
    "Richard",
    "Petit",
    "Durand",
    "Leroy",
    "Moreau",
    "Simon",
    "Laurent",
    "Lefebvre",
    "Michel",
    "Garcia",
    "David",
    "Bertrand",
    "Roux",
    "Vincent",
    "Fournier",
    "Morel",
    "Girard",
    "André",
    "Mercier",
    "Dupont",
    "Lambert",
    "Bonnet",
    "François",
    "Martinez",
    "Legrand",
    "Garnier",
    "Faure",
    "Rousseau",
    "Blanc",
    "Guerin",
    "Muller",
    "Henry",
    "Roussel",
    "Nicolas",
    "Perrin",
    "Morin",
    "Mathieu",
    "Clément",
    "Gauthier",
    "Dumont",
    "Lopez",
    "Fontaine",
    "Chevalier",
    "Robin",
    "Lacoste",
    "Darrieux",
    "Labat",
    "Dufau",
    "Larrieu",
    "Lafargue",
    "Castaing",
    "Duprat",
    "Barbe",
    "Lamarque",
    "Soulé",
    "Dupuy",
    "Cazenave",
    "Lalanne",
    "Benali",
    "Haddad",
    "Diallo",
    "Traoré",
    "Nguyen",
    "Da Silva",
    "Ferreira",
]
STREETS = (
    "rue Sainte-Catherine",
    "cours de la Marne",
    "rue de la République",
    "avenue Thiers",
    "rue du Général-de-Gaulle",
    "place du Marché",
    "rue des Vignes",
    "chemin de la Garonne",
    "allée des Tilleuls",
    "rue Victor-Hugo",
    "rue Jean-Jaurès",
    "impasse des Lilas",
    "route de Libourne",
    "rue de l'Église",
    "avenue de la Libération",
)


# --- Outlets --------------------------------------------------------------------------

# Where the towns are (latitude, longitude): outlets are placed a few hundred metres
# around them.
TOWNS: dict[str, tuple[float, float]] = {
    "Bordeaux": (44.8378, -0.5792),
    "Cenon": (44.8572, -0.5317),
    "Bègles": (44.8086, -0.5478),
    "Libourne": (44.9153, -0.2439),
    "Saint-Émilion": (44.8937, -0.1556),
    "Saint-Denis-de-Pile": (44.9936, -0.2033),
    "Blaye": (45.1277, -0.6624),
    "Saint-André-de-Cubzac": (44.9953, -0.4456),
    "Bourg": (45.0413, -0.5590),
    "Langon": (44.5531, -0.2494),
    "La Réole": (44.5839, -0.0381),
    "Bazas": (44.4318, -0.2133),
}
# Banks of the outlets' accounts (real bank codes, made-up accounts): Crédit Agricole
# d'Aquitaine, Caisse d'Épargne Aquitaine Poitou-Charentes, Banque Populaire Aquitaine
# Centre Atlantique, La Banque Postale, Crédit Coopératif, BNP Paribas, LCL, CIC.
BANK_CODES = ("13306", "13335", "10907", "20041", "42559", "30004", "30002", "10057")

ACCREDITED = OutletStatus.accredited
APPLICANT = OutletStatus.applicant
SUSPENDED = OutletStatus.suspended


@dataclass(frozen=True)
class DemoOutlet:
    name: str
    category: OutletCategory
    line1: str
    postcode: str
    city: str
    funds: tuple[tuple[str, OutletStatus], ...]  # (fund slug, status)


C = OutletCategory
# In each fund, an accredited outlet of every category, two or three applicants and one
# suspended outlet. The first is the till stall, sold at the Capucins and at Libourne.
DEMO_OUTLETS = (
    DemoOutlet(
        "Primeurs Dufau – Marché des Capucins",
        C.market_stall,
        "place des Capucins",
        "33800",
        "Bordeaux",
        (("bordeaux", ACCREDITED), ("libourne", ACCREDITED)),
    ),
    DemoOutlet(
        "Maraîchers Labat – Marché des Chartrons",
        C.market_stall,
        "quai des Chartrons",
        "33300",
        "Bordeaux",
        (("bordeaux", ACCREDITED),),
    ),
    DemoOutlet(
        "Ferme urbaine du Grand Cenon",
        C.farm_shop,
        "18 avenue Jean-Jaurès",
        "33150",
        "Cenon",
        (("bordeaux", ACCREDITED),),
    ),
    DemoOutlet(
        "Épicerie coopérative Le Local",
        C.cooperative,
        "27 rue des Douves",
        "33800",
        "Bordeaux",
        (("bordeaux", ACCREDITED),),
    ),
    DemoOutlet(
        "Épicerie du Tondu",
        C.grocer,
        "64 rue du Tondu",
        "33000",
        "Bordeaux",
        (("bordeaux", ACCREDITED),),
    ),
    DemoOutlet(
        "Boulangerie Castaing",
        C.bakery,
        "112 cours Victor-Hugo",
        "33000",
        "Bordeaux",
        (("bordeaux", ACCREDITED),),
    ),
    DemoOutlet(
        "Boucherie Lalanne",
        C.butcher,
        "45 rue Calixte-Camelle",
        "33130",
        "Bègles",
        (("bordeaux", ACCREDITED),),
    ),
    DemoOutlet(
        "Poissonnerie des Chartrons",
        C.fishmonger,
        "38 rue Notre-Dame",
        "33000",
        "Bordeaux",
        (("bordeaux", ACCREDITED),),
    ),
    DemoOutlet(
        "Cantine solidaire La Bonne Mine",
        C.restaurant,
        "5 quai de Queyries",
        "33100",
        "Bordeaux",
        (("bordeaux", ACCREDITED),),
    ),
    DemoOutlet(
        "Légumerie solidaire de la Benauge",
        C.other,
        "21 rue de la Benauge",
        "33100",
        "Bordeaux",
        (("bordeaux", ACCREDITED),),
    ),
    DemoOutlet(
        "Vrac & Co Saint-Michel",
        C.grocer,
        "3 rue Camille-Sauvageau",
        "33800",
        "Bordeaux",
        (("bordeaux", APPLICANT),),
    ),
    DemoOutlet(
        "Fournil de Bègles",
        C.bakery,
        "17 rue Ferdinand-Buisson",
        "33130",
        "Bègles",
        (("bordeaux", APPLICANT),),
    ),
    DemoOutlet(
        "Le Comptoir de Cenon",
        C.restaurant,
        "2 place Voltaire",
        "33150",
        "Cenon",
        (("bordeaux", APPLICANT),),
    ),
    DemoOutlet(
        "Supérette du Cours",
        C.grocer,
        "150 cours de la Marne",
        "33800",
        "Bordeaux",
        (("bordeaux", SUSPENDED),),
    ),
    DemoOutlet(
        "Maraîchage Duprat – Marché de Libourne",
        C.market_stall,
        "place Abel-Surchamp",
        "33500",
        "Libourne",
        (("libourne", ACCREDITED),),
    ),
    DemoOutlet(
        "Ferme du Moulin Blanc",
        C.farm_shop,
        "lieu-dit Moulin Blanc",
        "33910",
        "Saint-Denis-de-Pile",
        (("libourne", ACCREDITED),),
    ),
    DemoOutlet(
        "Coop'Libournaise",
        C.cooperative,
        "14 rue Gambetta",
        "33500",
        "Libourne",
        (("libourne", ACCREDITED),),
    ),
    DemoOutlet(
        "Épicerie Montesquieu",
        C.grocer,
        "22 rue Montesquieu",
        "33500",
        "Libourne",
        (("libourne", ACCREDITED),),
    ),
    DemoOutlet(
        "Au Pain de Saint-Émilion",
        C.bakery,
        "4 rue Guadet",
        "33330",
        "Saint-Émilion",
        (("libourne", ACCREDITED),),
    ),
    DemoOutlet(
        "Boucherie Larrieu",
        C.butcher,
        "36 rue Thiers",
        "33500",
        "Libourne",
        (("libourne", ACCREDITED),),
    ),
    DemoOutlet(
        "Poissonnerie du Priourat",
        C.fishmonger,
        "10 quai du Priourat",
        "33500",
        "Libourne",
        (("libourne", ACCREDITED),),
    ),
    DemoOutlet(
        "Le Jardin de l'Isle, restaurant d'insertion",
        C.restaurant,
        "2 quai Souchet",
        "33500",
        "Libourne",
        (("libourne", ACCREDITED),),
    ),
    DemoOutlet(
        "Jardins de Cocagne du Libournais",
        C.other,
        "route de Guîtres",
        "33910",
        "Saint-Denis-de-Pile",
        (("libourne", ACCREDITED),),
    ),
    DemoOutlet(
        "Chèvrerie des Coteaux",
        C.farm_shop,
        "chemin de Mazerat",
        "33330",
        "Saint-Émilion",
        (("libourne", APPLICANT),),
    ),
    DemoOutlet(
        "Primeurs de la Bastide",
        C.grocer,
        "9 rue Fonneuve",
        "33500",
        "Libourne",
        (("libourne", APPLICANT),),
    ),
    DemoOutlet(
        "Crêperie des Cordeliers",
        C.restaurant,
        "2 rue des Cordeliers",
        "33330",
        "Saint-Émilion",
        (("libourne", SUSPENDED),),
    ),
    DemoOutlet(
        "Maraîcher Barbe – Marché de Blaye",
        C.market_stall,
        "cours Vauban",
        "33390",
        "Blaye",
        (("haute-gironde", ACCREDITED),),
    ),
    DemoOutlet(
        "Ferme des Rives de l'Estuaire",
        C.farm_shop,
        "route de l'Estuaire",
        "33390",
        "Blaye",
        (("haute-gironde", ACCREDITED),),
    ),
    DemoOutlet(
        "La Cubzaguaise, épicerie coopérative",
        C.cooperative,
        "9 rue Nationale",
        "33240",
        "Saint-André-de-Cubzac",
        (("haute-gironde", ACCREDITED),),
    ),
    DemoOutlet(
        "Épicerie du Port de Bourg",
        C.grocer,
        "place de la Libération",
        "33710",
        "Bourg",
        (("haute-gironde", ACCREDITED),),
    ),
    DemoOutlet(
        "Boulangerie Lamarque",
        C.bakery,
        "25 rue Nationale",
        "33240",
        "Saint-André-de-Cubzac",
        (("haute-gironde", ACCREDITED),),
    ),
    DemoOutlet(
        "Boucherie de la Citadelle",
        C.butcher,
        "12 cours de la République",
        "33390",
        "Blaye",
        (("haute-gironde", ACCREDITED),),
    ),
    DemoOutlet(
        "Poissonnerie de l'Estuaire",
        C.fishmonger,
        "quai Sainte-Ursule",
        "33390",
        "Blaye",
        (("haute-gironde", ACCREDITED),),
    ),
    DemoOutlet(
        "Auberge du Bourgeais",
        C.restaurant,
        "6 place de l'Éperon",
        "33710",
        "Bourg",
        (("haute-gironde", ACCREDITED),),
    ),
    DemoOutlet(
        "Épicerie solidaire du Cubzaguais",
        C.other,
        "40 avenue de Paris",
        "33240",
        "Saint-André-de-Cubzac",
        (("haute-gironde", ACCREDITED),),
    ),
    DemoOutlet(
        "Vergers de Cubzac",
        C.farm_shop,
        "chemin des Vergers",
        "33240",
        "Saint-André-de-Cubzac",
        (("haute-gironde", APPLICANT),),
    ),
    DemoOutlet(
        "Fournil du Bourgeais",
        C.bakery,
        "rue de la Halle",
        "33710",
        "Bourg",
        (("haute-gironde", APPLICANT),),
    ),
    DemoOutlet(
        "Supérette de la Citadelle",
        C.grocer,
        "8 rue Saint-Simon",
        "33390",
        "Blaye",
        (("haute-gironde", SUSPENDED),),
    ),
    DemoOutlet(
        "Maraîchage Lafargue – Marché de Langon",
        C.market_stall,
        "allées Jean-Jaurès",
        "33210",
        "Langon",
        (("sud-gironde", ACCREDITED),),
    ),
    DemoOutlet(
        "Ferme Cazenave, bœuf de Bazas",
        C.farm_shop,
        "route de Captieux",
        "33430",
        "Bazas",
        (("sud-gironde", ACCREDITED),),
    ),
    DemoOutlet(
        "Le Panier réolais",
        C.cooperative,
        "10 rue Armand-Caduc",
        "33190",
        "La Réole",
        (("sud-gironde", ACCREDITED),),
    ),
    DemoOutlet(
        "Épicerie des Carmes",
        C.grocer,
        "7 rue des Carmes",
        "33210",
        "Langon",
        (("sud-gironde", ACCREDITED),),
    ),
    DemoOutlet(
        "Boulangerie Soulé",
        C.bakery,
        "5 place de la Cathédrale",
        "33430",
        "Bazas",
        (("sud-gironde", ACCREDITED),),
    ),
    DemoOutlet(
        "Boucherie Dupuy",
        C.butcher,
        "14 rue Fondespan",
        "33430",
        "Bazas",
        (("sud-gironde", ACCREDITED),),
    ),
    DemoOutlet(
        "Poissonnerie de la Garonne",
        C.fishmonger,
        "31 cours du Général-Leclerc",
        "33210",
        "Langon",
        (("sud-gironde", ACCREDITED),),
    ),
    DemoOutlet(
        "Le Quai, restaurant d'insertion",
        C.restaurant,
        "3 quai Lucien-Faure",
        "33190",
        "La Réole",
        (("sud-gironde", ACCREDITED),),
    ),
    DemoOutlet(
        "Jardins partagés du Langonnais",
        C.other,
        "chemin de Toulenne",
        "33210",
        "Langon",
        (("sud-gironde", ACCREDITED),),
    ),
    DemoOutlet(
        "Miellerie du Bazadais",
        C.other,
        "lieu-dit Castagnet",
        "33430",
        "Bazas",
        (("sud-gironde", APPLICANT),),
    ),
    DemoOutlet(
        "Fromagerie réolaise",
        C.grocer,
        "12 rue Gambetta",
        "33190",
        "La Réole",
        (("sud-gironde", APPLICANT),),
    ),
    DemoOutlet(
        "Pizzeria du Marché",
        C.restaurant,
        "4 place du Marché",
        "33210",
        "Langon",
        (("sud-gironde", SUSPENDED),),
    ),
)
TILL_OUTLET = DEMO_OUTLETS[0]
TILL_LABEL = "Caisse du stand"
# The stall's staff: (email, display name, role).
OUTLET_STAFF = (
    (f"primeurs.dufau@{EMAIL_DOMAIN}", "Mathieu Dufau", Role.manager),
    (f"caisse.dufau@{EMAIL_DOMAIN}", "Inès Haddad", Role.cashier),
)
# The application notes, by criterion and score (0 to 3).
CRITERION_NOTES: dict[str, tuple[str, str, str, str]] = {
    "accessibility": (
        "Étage sans ascenseur, horaires très réduits",
        "Ouvert trois matinées par semaine",
        "Accès de plain-pied, ouvert six jours sur sept",
        "Accès de plain-pied, ouvert le samedi et en soirée, proche du tram",
    ),
    "working_conditions": (
        "Pas de contrat écrit pour les saisonniers",
        "Salariés au SMIC, horaires fractionnés",
        "Salariés en CDI, convention collective appliquée",
        "SCOP : salaires au-dessus de la convention, décisions partagées",
    ),
    "local_origin": (
        "Produits surtout d'importation",
        "Un tiers des produits de Nouvelle-Aquitaine",
        "Plus de la moitié des produits de Gironde",
        "Production propre ou producteurs à moins de 50 km",
    ),
    "price_transparency": (
        "Prix non affichés",
        "Prix affichés, marges non communiquées",
        "Prix affichés et prix payé au producteur indiqué",
        "Marges publiées, prix d'achat affichés",
    ),
    "sustainable_practices": (
        "Pas de démarche engagée",
        "Réduction des emballages en cours",
        "Agriculture raisonnée, vrac, invendus donnés",
        "Agriculture biologique certifiée, zéro emballage jetable",
    ),
}
SUSPENSION_REASON = "prix non affichés au contrôle du comité"
REFUND_REASONS = (
    "Erreur de montant à la caisse",
    "Article manquant dans le panier",
    "Produit abîmé rapporté",
)


@dataclass
class _Draft:
    """One household to register, and what it pays."""

    size: int
    payment: str = "both"  # both | late | unpaid | waived | new
    member_login: bool = False
    spends_all: bool = False  # spends all its credits every month (the demo's "none left")
    household_in: HouseholdIn | None = None
    household_id: uuid.UUID | None = None
    emails: list[str] = field(default_factory=list)
    pin: str = ""
    joined: date | None = None
    method: ContributionMethod = ContributionMethod.transfer
    paid: list[tuple[str, date]] = field(default_factory=list)  # (period, received on)


def load_demo(*, db_session: Session, settings: Settings | None = None) -> list[str]:
    """Load the demo unless it is there; say what was done, and the logins, line by line."""
    settings = settings or get_settings()
    there = db_session.exec(
        select(Fund.slug).where(col(Fund.slug).in_([f.slug for f in DEMO_FUNDS]))
    ).all()
    if there or find_user_by_email(db_session=db_session, email=ADMIN_EMAIL) is not None:
        found = ", ".join(sorted(there)) or ADMIN_EMAIL
        return [
            f"demo: already there ({found}); nothing changed",
            *_outlet_lines(db_session, current_period()),
            *_till_lines(db_session, secret=None),
            *_assembly_lines(db_session),
            *_login_lines(db_session),
        ]
    rng = random.Random(SEED)
    history = random.Random(SEED + 7)  # the past months: drawn apart from this month's
    today = utcnow().astimezone(FUND_TIMEZONE).date()
    period = current_period()
    previous = periods.shift(period, -1)
    opened = periods.shift(period, -HISTORY_MONTHS)
    past = [periods.shift(opened, back) for back in range(HISTORY_MONTHS)]
    drafts = _plan(rng)
    lines = [f"demo: Gironde-like installation, period {period}"]
    totals: Counter[str] = Counter()
    funds: dict[str, uuid.UUID] = {}
    # The funds opened on the first day of `opened`, with the Département's grant.
    with clock_at(_at(periods.first_day(opened), 9)):
        for demo_fund in DEMO_FUNDS:
            fund = create_fund(
                db_session=db_session,
                slug=demo_fund.slug,
                name=demo_fund.name,
                iban=demo_fund.iban,
                sepa_creditor_id=demo_fund.sepa_creditor_id,
                actor=ACTOR,
            )
            funds[demo_fund.slug] = fund.id
            record_grant(
                db_session=db_session,
                fund_id=fund.id,
                funder=FUNDER,
                amount_cents=demo_fund.grant_cents,
                received_on=periods.first_day(opened),
                reference=f"Convention SSA {opened[:4]}",
                actor=ACTOR,
            )
    # Every household drawn first (the same draws, in the same order, as ever), then
    # the outlets: the households' names, PINs and payments this month stay the same.
    for demo_fund in DEMO_FUNDS:
        policy = policy_for(db_session=db_session, fund_id=funds[demo_fund.slug], period=period)
        joins = _join_days(history, drafts[demo_fund.slug], past)
        for draft, joined in zip(drafts[demo_fund.slug], joins, strict=True):
            draft.household_in = _household(rng, draft, demo_fund, policy, period, today)
            if joined is None:
                draft.joined = periods.first_day(period)
            else:
                rng.randrange(20)  # the draw of the joining day when all joined last month
                draft.joined = joined
            draft.pin = MEMBER_PIN if draft.member_login else f"{rng.randrange(10_000):04d}"
            _pay(rng, draft, previous, period, today)
    till_outlet_id = _outlets(rng, db_session, funds, period, opened)
    staff = _outlet_staff(db_session, till_outlet_id)
    till, secret = create_terminal(
        db_session=db_session,
        outlet_id=till_outlet_id,
        label=TILL_LABEL,
        actor=ACTOR,
        request_id=None,
    )
    # The past months, one after the other, as the funds lived them.
    closed = 0
    for month in past:
        for demo_fund in DEMO_FUNDS:
            fund_id, fund_drafts = funds[demo_fund.slug], drafts[demo_fund.slug]
            closes, issued_on = _past_month(
                history,
                db_session,
                fund_id,
                fund_drafts,
                month,
                settings,
                first_month=month == opened,
                last_month=month == previous,
            )
            closed += closes
            _past_payments(history, db_session, fund_id, fund_drafts, month, issued_on, till)
    # This month: the newcomers, the contributions so far, and this month's credits.
    for demo_fund in DEMO_FUNDS:
        fund_id = funds[demo_fund.slug]
        persons = 0
        for draft in drafts[demo_fund.slug]:
            persons += draft.size
            if draft.payment == "new":
                _join(db_session, fund_id, draft, settings)
            _contributions(db_session, fund_id, draft, period)
            if draft.payment == "waived":
                assert draft.household_id is not None
                waive(
                    db_session=db_session,
                    fund_id=fund_id,
                    household_id=draft.household_id,
                    period=period,
                    reason="Perte d'emploi : exonération d'un mois",
                    actor=ACTOR,
                )
        summary = issue_period(db_session=db_session, fund_id=fund_id, period=period, actor=ACTOR)
        households = len(drafts[demo_fund.slug])
        totals.update(households=households, persons=persons, issued=summary.households_issued)
        lines.append(_fund_line(demo_fund, households, persons, summary))
    _users(db_session, drafts["bordeaux"])
    _payments(rng, db_session, drafts, funds, period, till, staff)
    _assembly(db_session, funds, settings)
    lines.append(_direct_debit_line(db_session, funds["bordeaux"], period))
    lines.insert(
        1,
        f"  {len(DEMO_FUNDS)} funds, {totals['households']} households,"
        f" {totals['persons']} persons; credits of {period} issued to"
        f" {totals['issued']} households",
    )
    lines.insert(
        2,
        f"  funds opened in {opened}: credits issued and spent every month since, months"
        f" {past[0]} to {periods.shift(previous, -1)} closed ({closed} closes), {previous}"
        " left to close",
    )
    return [
        *lines,
        *_outlet_lines(db_session, period),
        *_till_lines(db_session, secret=secret),
        *_assembly_lines(db_session),
        *_login_lines(db_session),
    ]


# --- The past months ------------------------------------------------------------------


def _at(day: date, hour: int, minute: int = 0) -> datetime:
    """A moment of `day` in the funds' time zone."""
    return datetime.combine(day, time(hour, minute), FUND_TIMEZONE)


def _join_days(rng: random.Random, drafts: list[_Draft], past: list[str]) -> list[date | None]:
    """The day each household joined (None: this month's newcomers): the fund grew over
    its first months, the households of the list in its order, so that the member
    numbers follow the list."""
    waiting = [d for d in drafts if d.payment != "new"]
    months = [
        past[next(i for i, s in enumerate(JOINED_BY) if (index + 0.5) / len(waiting) <= s)]
        for index in range(len(waiting))
    ]
    days = iter(
        sorted(periods.first_day(m) + timedelta(days=rng.randrange(JOIN_DAYS)) for m in months)
    )
    return [None if d.payment == "new" else next(days) for d in drafts]


def _join(db_session: Session, fund_id: uuid.UUID, draft: _Draft, settings: Settings) -> None:
    """Register the household on the day it joined, with its PIN."""
    assert draft.household_in is not None
    assert draft.joined is not None
    household, _tokens = register(
        db_session=db_session,
        fund_id=fund_id,
        household_in=draft.household_in,
        actor=ACTOR,
        settings=settings,
        today=draft.joined,
    )
    draft.household_id = household.id
    set_pin(
        db_session=db_session, household=household, pin=draft.pin, settings=settings, actor=ACTOR
    )
    if draft.method == ContributionMethod.direct_debit:
        _mandate(db_session, household, draft.household_in.persons[0], draft.joined)


def _mandate(db_session: Session, household: Household, holder: PersonIn, signed_on: date) -> None:
    """The SEPA mandate of a household that pays by direct debit, signed the day it joined;
    its account drawn from its member number (the demo's other draws stay the same)."""
    set_mandate(
        db_session=db_session,
        household_id=household.id,
        mandate_in=MandateIn(
            debtor_name=f"{holder.given_name} {holder.family_name}",
            iban=str(_iban(random.Random(household.member_number))),
            signed_on=signed_on,
        ),
        actor=ACTOR,
    )


def _contributions(db_session: Session, fund_id: uuid.UUID, draft: _Draft, month: str) -> None:
    """Record what the household paid for `month`, on the day it was received."""
    household = db_session.get(Household, draft.household_id)
    assert household is not None
    for paid, received in draft.paid:
        if paid != month:
            continue
        record_contribution(
            db_session=db_session,
            fund_id=fund_id,
            household_id=household.id,
            period=paid,
            amount_cents=household.chosen_contribution_cents,
            method=draft.method,
            received_on=received,
            actor=ACTOR,
        )


def _past_month(
    rng: random.Random,
    db_session: Session,
    fund_id: uuid.UUID,
    drafts: list[_Draft],
    month: str,
    settings: Settings,
    *,
    first_month: bool,
    last_month: bool,
) -> tuple[int, date]:
    """One past month of a fund, through the services, each on its day: the month before
    closed with the fund's rollover policy (on the 1st, at 6), the month's credits issued
    (at 7), the newcomers registered, the contributions received (a few late, a few
    unpaid, a waiver now and then), the newcomers' credits issued the day after the last
    joined. Last month's contributions are those drawn with this month's (`_pay`), and
    last month is left for the staff to close. Return the number of months closed (0 or
    1) and the day the newcomers' credits were issued.

    The clock is set (`clock_at`) to each step's moment: within these steps, `utcnow`
    and `current_period` are that moment's, not today's."""
    first = periods.first_day(month)
    closed = 0
    if not first_month:
        with clock_at(_at(first, 6)):
            close_period(
                db_session=db_session, fund_id=fund_id, period=periods.shift(month, -1), actor=ACTOR
            )
        closed = 1
    with clock_at(_at(first, 7)):
        issue_period(db_session=db_session, fund_id=fund_id, period=month, actor=ACTOR)
    members = [d for d in drafts if d.household_id is not None]
    newcomers = [
        d for d in drafts if d.household_id is None and d.joined and d.joined <= _last(month)
    ]
    for draft in newcomers:
        assert draft.joined is not None
        with clock_at(_at(draft.joined, 10, rng.randrange(60))):
            _join(db_session, fund_id, draft, settings)
        if not last_month:
            draft.paid.append((month, draft.joined))
    waiver = None
    if members and not last_month and rng.random() < PAST_WAIVER:
        waiver = rng.choice(members)
    for draft in members:
        if draft is waiver:
            with clock_at(_at(first + timedelta(days=rng.randrange(2, 8)), 15)):
                assert draft.household_id is not None
                waive(
                    db_session=db_session,
                    fund_id=fund_id,
                    household_id=draft.household_id,
                    period=month,
                    reason=rng.choice(PAST_WAIVER_REASONS),
                    actor=ACTOR,
                )
            continue
        chance = rng.random()
        if chance < PAST_UNPAID:
            continue
        late = chance < PAST_UNPAID + PAST_LATE
        received = first + timedelta(days=rng.randrange(15, 26) if late else rng.randrange(9))
        if not last_month:
            draft.paid.append((month, received))
    for draft in [*newcomers, *members]:
        if any(paid == month for paid, _ in draft.paid):
            received = next(day for paid, day in draft.paid if paid == month)
            with clock_at(_at(received, 12, rng.randrange(60))):
                _contributions(db_session, fund_id, draft, month)
    issued_on = first
    if newcomers:
        issued_on = max(d.joined for d in newcomers if d.joined is not None) + timedelta(days=1)
        with clock_at(_at(issued_on, 7)):
            issue_period(db_session=db_session, fund_id=fund_id, period=month, actor=ACTOR)
    return closed, issued_on


def _last(month: str) -> date:
    return periods.first_day(month) + timedelta(days=periods.days_in(month) - 1)


def _past_payments(
    rng: random.Random,
    db_session: Session,
    fund_id: uuid.UUID,
    drafts: list[_Draft],
    month: str,
    issued_on: date,
    till: OAuthClient,
) -> None:
    """A past month's payments: most households spend most of their credits (what is
    left carries over, or not, as the rollover policy says), a few do not shop that
    month; one of the demo members spends them all, every month. Each payment is taken
    through the payment service, dated in the month."""
    outlets = list(
        db_session.exec(
            select(OutletFund.outlet_id)
            .join(Outlet, col(Outlet.id) == col(OutletFund.outlet_id))
            .where(col(OutletFund.fund_id) == fund_id, col(OutletFund.status) == ACCREDITED.value)
            .order_by(col(Outlet.name))
        ).all()
    )
    weights = [5 if outlet_id == till.outlet_id else 1 for outlet_id in outlets]
    standings: dict[uuid.UUID, OutletFund] = {}  # the outlets' standings in the fund
    end = _at(_last(month), 19)
    for draft in drafts:
        if draft.household_id is None:
            continue
        household = db_session.get(Household, draft.household_id)
        assert household is not None
        assert draft.joined is not None
        balance = db_session.exec(
            select(LedgerAccount.balance_cents).where(col(LedgerAccount.id) == household.account_id)
        ).one()
        if balance < 500 or (not draft.spends_all and rng.random() < PAST_IDLE):
            continue
        left = balance if draft.spends_all else int(balance * rng.uniform(*PAST_SPENT)) // 5 * 5
        amounts = []
        while left >= 500:
            basket = rng.randrange(PAST_BASKET[0], PAST_BASKET[1] + 1, 5)
            amounts.append(_payable(basket, left, PAST_BASKET[1]))
            left -= amounts[-1]
        newcomer = draft.joined >= periods.first_day(month)  # credited with the newcomers
        start = _at(issued_on if newcomer else periods.first_day(month), 8)
        span = (end - start).total_seconds()
        moments = sorted(
            _opening(rng, start + timedelta(seconds=rng.uniform(0, span))) for _ in amounts
        )
        for moment, amount in zip(moments, amounts, strict=True):
            outlet_id = rng.choices(outlets, weights)[0]
            at_till = outlet_id == till.outlet_id
            if outlet_id not in standings:  # checked once a month per outlet
                standings[outlet_id] = accredited_standing(db_session, household, outlet_id)
            with clock_at(moment):
                charge_household(
                    db_session,
                    household=household,
                    standing=standings[outlet_id],
                    amount_cents=amount,
                    reference=f"Ticket {rng.randrange(1000, 10000)}" if at_till else None,
                    taken_by=f"client:{till.client_id}" if at_till else ACTOR,
                    now=moment,
                )


def _opening(rng: random.Random, moment: datetime) -> datetime:
    """The moment's day, in opening hours (8:00 to 19:59)."""
    local = moment.astimezone(FUND_TIMEZONE)
    return _at(local.date(), rng.randint(8, 19), rng.randrange(60)).astimezone(UTC)


# --- Drawing the households -----------------------------------------------------------


def _plan(rng: random.Random) -> dict[str, list[_Draft]]:
    """The households of each fund: sizes shuffled, payments and logins assigned."""
    sizes = [size for size, count in SIZES.items() for _ in range(count)]
    rng.shuffle(sizes)
    plan: dict[str, list[_Draft]] = {}
    start = 0
    for demo_fund in DEMO_FUNDS:
        drafts = [_Draft(size) for size in sizes[start : start + demo_fund.households]]
        start += demo_fund.households
        logins = []
        if demo_fund.slug == "bordeaux":
            for size in MEMBER_SIZES:
                chosen = next(d for d in drafts if d.size == size and not d.member_login)
                chosen.member_login = True
                chosen.spends_all = size == SPENDS_ALL_SIZE
                logins.append(chosen)
        others = [d for d in drafts if not d.member_login]
        picked = rng.sample(
            others,
            LATE[demo_fund.slug]
            + UNPAID[demo_fund.slug]
            + WAIVED[demo_fund.slug]
            + NEW[demo_fund.slug],
        )
        for kind, count in (
            ("late", LATE),
            ("unpaid", UNPAID),
            ("waived", WAIVED),
            ("new", NEW),
        ):
            for _ in range(count[demo_fund.slug]):
                picked.pop().payment = kind
        plan[demo_fund.slug] = drafts
    return plan


def _birth(rng: random.Random, today: date, low: int, high: int) -> date:
    """A birth date of someone aged `low` to `high` today."""
    age = rng.randint(low, high)
    # At least a day old: the Paris date may be a day ahead of the server's.
    return today - timedelta(days=1 + age * 365 + rng.randrange(365) + age // 4)


def _household(
    rng: random.Random,
    draft: _Draft,
    demo_fund: DemoFund,
    policy: FundPolicy,
    period: str,
    today: date,
) -> HouseholdIn:
    size = draft.size
    family = rng.choice(FAMILY)
    if size == 1:
        adults = 1
    elif size == 2:
        adults = 2 if rng.random() < 0.7 else 1
    else:
        adults = 2 if rng.random() < 0.75 else 1
    first_female = rng.random() < 0.6
    persons: list[PersonIn] = []
    first_birth = _birth(rng, today, 20, 84) if size == 1 else _birth(rng, today, 26, 52)
    first_name = rng.choice(FEMALE if first_female else MALE)
    persons.append(PersonIn(given_name=first_name, family_name=family, birth_date=first_birth))
    if adults == 2:
        second_family = family if rng.random() < 0.6 else rng.choice(FAMILY)
        persons.append(
            PersonIn(
                given_name=rng.choice(MALE if first_female else FEMALE),
                family_name=second_family,
                birth_date=_birth(rng, today, 24, 55) if size > 2 else _birth(rng, today, 22, 80),
            )
        )
    parent_age = (today - first_birth).days // 365
    for _ in range(size - adults):
        persons.append(
            PersonIn(
                given_name=rng.choice(FEMALE if rng.random() < 0.5 else MALE),
                family_name=family,
                birth_date=_birth(rng, today, 0, max(0, min(19, parent_age - 19))),
            )
        )
    if draft.member_login:
        email = f"{_ascii(first_name)}.{_ascii(family)}@{EMAIL_DOMAIN}".lower()
        persons[0] = persons[0].model_copy(update={"email": email})
        draft.emails.append(email)
    members = [
        rules.Member(person_id=str(i), birth_date=p.birth_date) for i, p in enumerate(persons)
    ]
    units = rules.consumption_units_tenths(members, today)
    # Monthly income per consumption unit: from RSA level to about the median.
    band = rng.random()
    if band < 0.35:
        per_unit = rng.randint(560, 800)
    elif band < 0.75:
        per_unit = rng.randint(800, 1400)
    else:
        per_unit = rng.randint(1400, 2100)
    income = round(per_unit * units / 10, -1) * 100
    social_housing = rng.random() < 0.5
    housing = (
        (rng.randint(250, 420) + 60 * (size - 1)) * 100
        if social_housing
        else round(income * rng.uniform(0.25, 0.40), -2)
    )
    other_fixed = rng.randint(60, 220) * 100
    food = round(rng.randint(130, 220) * size**0.8, -1) * 100
    minimum = rules.contribution_minimum(policy, size)
    recommended = rules.contribution_recommended(
        policy,
        members,
        income_cents=int(income),
        housing_cents=int(housing),
        other_fixed_cents=other_fixed,
        day=rules.period_start(period),
    )
    choice = rng.random()
    if choice < 0.45:
        chosen = minimum
    elif choice < 0.85:
        chosen = max(minimum, round(recommended, -2))
    else:  # well above: some pay for others
        chosen = max(minimum, round(recommended, -2)) + rng.choice((1000, 2000, 3000, 5000))
    postcode, city = rng.choice(demo_fund.places)
    return HouseholdIn(
        persons=persons,
        address=AddressIn(
            line1=f"{rng.randint(1, 180)} {rng.choice(STREETS)}", postcode=postcode, city=city
        ),
        declared=DeclaredIn(
            monthly_income_cents=int(income),
            housing_costs_cents=int(housing),
            other_fixed_costs_cents=other_fixed,
            food_budget_cents=int(food),
        ),
        chosen_contribution_cents=int(chosen),
    )


def _ascii(name: str) -> str:
    plain = name.translate(str.maketrans("éèëêïîôöàâçÉ", "eeeeiiooaacE"))
    return "".join(c for c in plain if c.isalnum())


def _pay(rng: random.Random, draft: _Draft, previous: str, period: str, today: date) -> None:
    """Draw what the household paid for the previous and the current period, and when."""
    assert draft.joined is not None
    draft.method = rng.choice(list(ContributionMethod))
    paid_periods = {
        "both": (previous, period),
        "late": (previous,),
        "unpaid": (),
        "waived": (previous,),
        "new": (period,),
    }[draft.payment]
    for paid in paid_periods:
        if paid == previous:
            start = periods.first_day(previous) + timedelta(days=rng.randrange(25))
            received = max(draft.joined, start)
        else:
            received = periods.first_day(period) + timedelta(days=rng.randrange(today.day))
        draft.paid.append((paid, received))


def _payable(amount: int, left: int, most: int = 6000) -> int:
    """`amount` (at most `most`), or less, so that what is left is nothing or at least
    5 EUR: no payment is below 5 EUR."""
    amount = min(amount, left)
    if 0 < left - amount < 500:
        amount = left if left <= most else left - 500
    return amount


def _fund_line(demo_fund: DemoFund, households: int, persons: int, summary: IssuanceSummary) -> str:
    reasons = Counter(s["reason"] for s in summary.skipped)
    skipped = ", ".join(f"{reason} {count}" for reason, count in sorted(reasons.items()))
    return (
        f"  fund {demo_fund.slug} ({demo_fund.name}): {households} households, {persons} persons,"
        f" grant {demo_fund.grant_cents / 100:,.2f} EUR; {summary.period} credits issued to"
        f" {summary.households_issued} households, {summary.total_cents / 100:,.2f} EUR"
        + (f" (skipped: {skipped})" if skipped else "")
    )


def _direct_debit_line(db_session: Session, fund_id: uuid.UUID, period: str) -> str:
    """Bordeaux's direct debit: its households under mandate, and how many of them next
    month's file would debit (the other funds' mandates are not counted)."""
    mandates = db_session.exec(
        select(func.count()).where(
            col(DirectDebitMandate.fund_id) == fund_id,
            col(DirectDebitMandate.status) == MandateStatus.active.value,
        )
    ).one()
    following = periods.shift(period, 1)
    debits = collections(db_session=db_session, fund_id=fund_id, period=following)
    return (
        f"  direct debit in bordeaux: {mandates} households under a SEPA mandate; its file"
        f" for {following} would debit {len(debits)} of them (treasurer, GET /api/v1/funds/"
        f"{fund_id}/contributions/direct-debit.xml?period={following}&collection_date=...)"
    )


# --- Outlets, the stall's staff and till, payments ------------------------------------


def _saturday(period: str, nth: int) -> date:
    """The `nth` (0-based) Saturday of the period: the day of a fund's assembly."""
    first = periods.first_day(period)
    return first + timedelta(days=(5 - first.weekday()) % 7 + 7 * nth)


def _register(
    db_session: Session, rng: random.Random, demo_outlet: DemoOutlet, sirets: set[str]
) -> Outlet:
    """Register a demo outlet with a fresh SIRET, an IBAN and a spot near its town."""
    latitude, longitude = TOWNS[demo_outlet.city]
    iban = _iban(rng)
    return register_outlet(
        db_session=db_session,
        outlet_in=outlet_schemas.OutletIn(
            name=demo_outlet.name,
            siret=_siret(rng, sirets),
            iban=str(iban),
            bic=str(iban.bic) if iban.bic else None,
            address=outlet_schemas.AddressIn(
                line1=demo_outlet.line1, postcode=demo_outlet.postcode, city=demo_outlet.city
            ),
            category=demo_outlet.category,
            latitude=round(latitude + rng.uniform(-0.006, 0.006), 5),
            longitude=round(longitude + rng.uniform(-0.008, 0.008), 5),
        ),
        actor=ACTOR,
        request_id=None,
    )


def _siret(rng: random.Random, taken: set[str]) -> str:
    """A valid SIRET: a Luhn-valid SIREN, an establishment number, and the Luhn key."""
    while True:
        siren = f"{rng.randrange(10**8):08d}"
        siren += luhn.calc_check_digit(siren)
        body = f"{siren}{rng.randrange(1, 60):04d}"
        siret = body + luhn.calc_check_digit(body)
        if siret not in taken and siret_number.is_valid(siret):
            taken.add(siret)
            return siret


def _iban(rng: random.Random) -> IBAN:
    """A valid French IBAN (and its RIB key) at a real bank, for a made-up account."""
    iban = IBAN.generate(
        "FR",
        bank_code=rng.choice(BANK_CODES),
        branch_code=f"{rng.randrange(10**5):05d}",
        account_code=f"{rng.randrange(10**11):011d}",
    )
    return IBAN(str(iban), validate_bban=True)


def _scores(rng: random.Random, criteria: list[str], status: OutletStatus) -> dict[str, int]:
    if status is APPLICANT:  # under review: some criteria weak
        return {name: rng.choices((0, 1, 2, 3), (1, 3, 3, 1))[0] for name in criteria}
    return {name: rng.choices((1, 2, 3), (1, 4, 4))[0] for name in criteria}


def _outlets(
    rng: random.Random,
    db_session: Session,
    funds: dict[str, uuid.UUID],
    period: str,
    opened: str,
) -> uuid.UUID:
    """Register the outlets, file their applications, record the assemblies' decisions;
    return the till stall's id."""
    criteria = {
        slug: list(
            policy_for(db_session=db_session, fund_id=fund_id, period=period).accreditation_criteria
        )
        for slug, fund_id in funds.items()
    }
    # Each fund's founding assembly accredited its outlets the month before the fund
    # opened, on its own Saturday; its assembly suspended one last month.
    accredited_on = {
        d.slug: _saturday(periods.shift(opened, -1), i) for i, d in enumerate(DEMO_FUNDS)
    }
    suspended_on = {
        d.slug: _saturday(periods.shift(period, -1), i) for i, d in enumerate(DEMO_FUNDS)
    }
    sirets: set[str] = set()
    ids: dict[str, uuid.UUID] = {}
    for demo_outlet in DEMO_OUTLETS:
        outlet = _register(db_session, rng, demo_outlet, sirets)
        ids[demo_outlet.name] = outlet.id
        for slug, status in demo_outlet.funds:
            scores = _scores(rng, criteria[slug], status)
            application = outlet_schemas.ApplicationIn(
                criteria={
                    name: outlet_schemas.CriterionScore(
                        score=score, note=CRITERION_NOTES.get(name, ("", "", "", ""))[score]
                    )
                    for name, score in scores.items()
                }
            )
            apply(
                db_session=db_session,
                fund_id=funds[slug],
                outlet_id=outlet.id,
                application=application,
                actor=ACTOR,
                request_id=None,
            )
            if status is APPLICANT:
                continue
            set_status(
                db_session=db_session,
                fund_id=funds[slug],
                outlet_id=outlet.id,
                status=ACCREDITED,
                actor=ACTOR,
                decision_reference=f"AG du {accredited_on[slug].isoformat()}",
            )
            if status is SUSPENDED:
                set_status(
                    db_session=db_session,
                    fund_id=funds[slug],
                    outlet_id=outlet.id,
                    status=SUSPENDED,
                    actor=ACTOR,
                    decision_reference=(
                        f"AG du {suspended_on[slug].isoformat()} : {SUSPENSION_REASON}"
                    ),
                )
    return ids[TILL_OUTLET.name]


def _outlet_staff(db_session: Session, outlet_id: uuid.UUID) -> dict[Role, uuid.UUID]:
    staff = {}
    for email, name, role in OUTLET_STAFF:
        user = create_user(db_session=db_session, email=email, display_name=name, password=PASSWORD)
        grant_role(
            db_session=db_session, actor=ACTOR, user_id=user.id, role=role, outlet_id=outlet_id
        )
        staff[role] = user.id
    return staff


def _moment(rng: random.Random, start: datetime, now: datetime) -> datetime:
    """A moment of the period so far, in opening hours when it can be."""
    moment = start + timedelta(
        days=rng.randrange(now.day), hours=rng.randint(8, 19), minutes=rng.randrange(60)
    )
    if moment > now:  # later today: a little earlier instead
        moment = max(start, now - timedelta(minutes=rng.randint(1, 120)))
    return moment.astimezone(UTC)


def _payments(
    rng: random.Random,
    db_session: Session,
    drafts: dict[str, list[_Draft]],
    funds: dict[str, uuid.UUID],
    period: str,
    till: OAuthClient,
    staff: dict[Role, uuid.UUID],
) -> None:
    """The period's payments so far: most households with credits paid one to six times,
    5 to 60 EUR each, never more than their credits; then a few refunds."""
    now = utcnow().astimezone(FUND_TIMEZONE)
    start = datetime.combine(periods.first_day(period), time(), FUND_TIMEZONE)
    assert till.outlet_id is not None
    taken: list[Payment] = []
    for demo_fund in DEMO_FUNDS:
        outlets = list(
            db_session.exec(
                select(OutletFund.outlet_id)
                .join(Outlet, col(Outlet.id) == col(OutletFund.outlet_id))
                .where(
                    col(OutletFund.fund_id) == funds[demo_fund.slug],
                    col(OutletFund.status) == ACCREDITED.value,
                )
                .order_by(col(Outlet.name))
            ).all()
        )
        weights = [5 if outlet_id == till.outlet_id else 1 for outlet_id in outlets]
        for draft in drafts[demo_fund.slug]:
            household = db_session.get(Household, draft.household_id)
            assert household is not None
            balance = db_session.exec(
                select(LedgerAccount.balance_cents).where(
                    col(LedgerAccount.id) == household.account_id
                )
            ).one()
            if balance < 500 or (rng.random() < 0.12 and not draft.spends_all):  # not shopped yet
                continue
            for moment in sorted(_moment(rng, start, now) for _ in range(rng.randint(1, 6))):
                if balance < 500:
                    break
                outlet_id = rng.choices(outlets, weights)[0]
                at_till = outlet_id == till.outlet_id
                if not at_till:
                    taken_by = ACTOR
                elif rng.random() < 0.8:
                    taken_by = f"client:{till.client_id}"
                else:
                    taken_by = f"user:{staff[Role.cashier]}"
                amount = rng.randrange(500, 6001, 5)
                charged = charge_household(
                    db_session,
                    household=household,
                    standing=accredited_standing(db_session, household, outlet_id),
                    amount_cents=_payable(amount, balance)
                    if draft.spends_all
                    else min(amount, balance),
                    reference=f"Ticket {rng.randrange(1000, 10000)}" if at_till else None,
                    taken_by=taken_by,
                    now=moment,
                )
                balance = charged.remaining_cents
                taken.append(charged.payment)
            while draft.spends_all and balance >= 500:  # all of it, this month too
                outlet_id = rng.choices(outlets, weights)[0]
                charged = charge_household(
                    db_session,
                    household=household,
                    standing=accredited_standing(db_session, household, outlet_id),
                    amount_cents=_payable(rng.randrange(500, 6001, 5), balance),
                    reference=None,
                    taken_by=ACTOR if outlet_id != till.outlet_id else f"client:{till.client_id}",
                    now=_moment(rng, start, now),
                )
                balance = charged.remaining_cents
                taken.append(charged.payment)
    at_stall = [p for p in taken if p.outlet_id == till.outlet_id]
    elsewhere = [p for p in taken if p.outlet_id != till.outlet_id]
    chosen = [rng.choice(at_stall), *rng.sample(elsewhere, 2)] if at_stall else []
    for index, (payment, reason) in enumerate(zip(chosen, REFUND_REASONS, strict=False)):
        whole = index == len(REFUND_REASONS) - 1  # the damaged product: all of it back
        refund(
            db_session=db_session,
            outlet_id=payment.outlet_id,
            payment_id=payment.id,
            amount_cents=payment.amount_cents
            if whole
            else max(100, payment.amount_cents // 30 * 10),
            reason=reason,
            refunded_by=(
                f"user:{staff[Role.manager]}" if payment.outlet_id == till.outlet_id else ACTOR
            ),
        )


def _outlet_lines(db_session: Session, period: str) -> list[str]:
    """Per fund: its outlets by status, the period's payments and refunds."""
    funds = dict(
        db_session.exec(
            select(Fund.slug, Fund.id).where(col(Fund.slug).in_([f.slug for f in DEMO_FUNDS]))
        ).all()
    )
    lines = []
    for slug in (d.slug for d in DEMO_FUNDS if d.slug in funds):
        fund_id = funds[slug]
        statuses = Counter(
            {
                str(status): int(count)
                for status, count in db_session.exec(
                    select(OutletFund.status, func.count())
                    .where(col(OutletFund.fund_id) == fund_id)
                    .group_by(col(OutletFund.status))
                ).all()
            }
        )
        if not statuses:
            continue
        paid, paid_cents = db_session.exec(
            select(func.count(), func.coalesce(func.sum(col(Payment.amount_cents)), 0)).where(
                col(Payment.fund_id) == fund_id, col(Payment.period) == period
            )
        ).one()
        refunds, refunded_cents = db_session.exec(
            select(func.count(), func.coalesce(func.sum(col(Refund.amount_cents)), 0))
            .join(Payment, col(Payment.id) == col(Refund.payment_id))
            .where(col(Refund.fund_id) == fund_id, col(Payment.period) == period)
        ).one()
        by_status = ", ".join(
            f"{status.value} {statuses[status.value]}"
            for status in (ACCREDITED, APPLICANT, SUSPENDED, OutletStatus.revoked)
            if statuses[status.value]
        )
        lines.append(
            f"  outlets of fund {slug}: {statuses.total()} ({by_status}); {period} payments:"
            f" {paid}, {int(paid_cents) / 100:,.2f} EUR"
            + (f"; refunds: {refunds}, {int(refunded_cents) / 100:,.2f} EUR" if refunds else "")
        )
    return lines


def _till_lines(db_session: Session, secret: str | None) -> list[str]:
    """The stall's till terminal: its credentials when just made, else where to get some."""
    row = db_session.exec(
        select(Outlet, OAuthClient)
        .join(OAuthClient, col(OAuthClient.outlet_id) == col(Outlet.id))
        .join(RoleGrant, col(RoleGrant.outlet_id) == col(Outlet.id))
        .join(User, col(User.id) == col(RoleGrant.user_id))
        .where(col(User.email) == OUTLET_STAFF[0][0], col(OAuthClient.label) == TILL_LABEL)
        .order_by(col(OAuthClient.created_at))
    ).first()
    if row is None:
        return []
    outlet, client = row
    head = f"till terminal of {outlet.name} (fund bordeaux, outlet {outlet.id}):"
    if secret is not None:
        return [
            head,
            f"  client_id {client.client_id} client_secret {secret}",
            "  (the secret is shown this once: only its hash is kept)",
        ]
    return [
        head,
        f"  client_id {client.client_id}; its client_secret was printed when the demo was"
        " first loaded and only its hash is kept:",
        f"  for a new one, the stall's manager posts to /api/v1/outlets/{outlet.id}/terminals",
    ]


# --- Logins ---------------------------------------------------------------------------


def _users(db_session: Session, bordeaux: list[_Draft]) -> None:
    admin = create_user(
        db_session=db_session, email=ADMIN_EMAIL, display_name="Admin démo", password=PASSWORD
    )
    grant_role(db_session=db_session, actor=ACTOR, user_id=admin.id, role=Role.admin)
    fund = db_session.exec(select(Fund).where(col(Fund.slug) == "bordeaux")).one()
    for email, name, role in STAFF:
        user = create_user(db_session=db_session, email=email, display_name=name, password=PASSWORD)
        grant_role(db_session=db_session, actor=ACTOR, user_id=user.id, role=role, fund_id=fund.id)
    for draft in bordeaux:
        for email in draft.emails:
            member = find_user_by_email(db_session=db_session, email=email)
            if member is not None:  # created by the registration, with an invitation
                set_password(db_session=db_session, user=member, password=PASSWORD)


def _login_lines(db_session: Session) -> list[str]:
    """The demo logins that exist, with their roles (and member numbers and PINs)."""
    found = db_session.exec(select(User).where(col(User.email).like(f"%@{EMAIL_DOMAIN}"))).all()
    if not found:
        return []
    order = [ADMIN_EMAIL, *(s[0] for s in STAFF), *(s[0] for s in OUTLET_STAFF)]
    users = sorted(
        found, key=lambda u: (order.index(u.email) if u.email in order else len(order), u.email)
    )
    lines = [f"logins (password {PASSWORD}):"]
    for user in users:
        if user.email == ADMIN_EMAIL:
            lines.append(f"  {user.email:<44} administrator")
            continue
        staff = next((s for s in STAFF if s[0] == user.email), None)
        if staff is not None:
            lines.append(f"  {user.email:<44} {staff[2].value}, fund bordeaux")
            continue
        outlet_staff = next((s for s in OUTLET_STAFF if s[0] == user.email), None)
        if outlet_staff is not None:
            lines.append(f"  {user.email:<44} {outlet_staff[2].value}, outlet {TILL_OUTLET.name}")
            continue
        row = db_session.exec(
            select(Household.member_number, Household.id)
            .join(Person, col(Person.household_id) == col(Household.id))
            .where(col(Person.user_id) == user.id)
        ).first()
        if row is None:
            continue
        size = len(
            db_session.exec(
                select(Person.id).where(
                    col(Person.household_id) == row[1], col(Person.left_on).is_(None)
                )
            ).all()
        )
        lines.append(
            f"  {user.email:<44} member, household {row[0]}"
            f" ({size} person{'s' if size > 1 else ''}), PIN {MEMBER_PIN} at the till"
        )
    return lines


# --- The assembly ---------------------------------------------------------------------

# Per fund, an outlet its assembly accredited by an in-app vote that closed last week.
VOTED_OUTLETS = {
    "bordeaux": DemoOutlet(
        "AMAP des Chartrons", C.cooperative, "12 rue Notre-Dame", "33300", "Bordeaux", ()
    ),
    "libourne": DemoOutlet(
        "Fromagerie Lavergne", C.grocer, "9 rue Gambetta", "33500", "Libourne", ()
    ),
    "haute-gironde": DemoOutlet(
        "Fournil paysan de la Citadelle", C.bakery, "4 rue Saint-Simon", "33390", "Blaye", ()
    ),
    "sud-gironde": DemoOutlet(
        "Ferme des Coteaux réolais",
        C.farm_shop,
        "lieu-dit Gironde-sur-Dropt",
        "33190",
        "La Réole",
        (),
    ),
}
# Haute-Gironde works with a committee drawn by lot in a public meeting.
COMMITTEE_FUND = "haute-gironde"
COMMITTEE_SEED = "Tirage public du samedi, boules 03 18 22 35 41"
COMMITTEE_SIZE = 9


def _assembly(db_session: Session, funds: dict[str, uuid.UUID], settings: Settings) -> None:
    """In every fund: a vote that accredited an outlet (closed by the timer last week) and
    an open vote on one of its applicants with some ballots cast; Haute-Gironde's open
    vote is its committee's. Drawn from a seed of its own, so the rest of the demo stays
    as it was."""
    from ssa.assembly.committee import draw_committee
    from ssa.assembly.models import ProposalKind
    from ssa.assembly.schemas import CommitteeDrawIn, ProposalIn
    from ssa.assembly.service import close_if_due, open_proposal

    rng = random.Random(SEED + 6)
    now = utcnow()
    sirets = set(db_session.exec(select(Outlet.siret)).all())
    for slug, fund_id in funds.items():
        criteria = list(
            policy_for(
                db_session=db_session, fund_id=fund_id, period=current_period()
            ).accreditation_criteria
        )
        demo_outlet = VOTED_OUTLETS[slug]
        outlet = _register(db_session, rng, demo_outlet, sirets)
        apply(
            db_session=db_session,
            fund_id=fund_id,
            outlet_id=outlet.id,
            application=outlet_schemas.ApplicationIn(
                criteria={
                    name: outlet_schemas.CriterionScore(
                        score=score, note=CRITERION_NOTES.get(name, ("", "", "", ""))[score]
                    )
                    for name, score in _scores(rng, criteria, ACCREDITED).items()
                }
            ),
            actor=ACTOR,
            request_id=None,
        )
        opened_at = now - timedelta(days=20, hours=rng.randint(0, 6))
        closed = open_proposal(
            db_session=db_session,
            fund_id=fund_id,
            proposal_in=ProposalIn(
                kind=ProposalKind.accredit_outlet,
                outlet_id=outlet.id,
                title=f"Accréditer {demo_outlet.name}",
                description="Dossier présenté à l'assemblée ; visite faite par le comité.",
                closes_at=opened_at + timedelta(days=14),
            ),
            actor=ACTOR,
            proposer_person_id=None,
            now=opened_at,
        )
        _ballots(
            rng,
            db_session,
            closed.id,
            settings,
            share=0.45,
            weights=(7, 2, 1),
            start=opened_at,
            end=closed.closes_at,
        )
        close_if_due(db_session=db_session, proposal_id=closed.id, now=closed.closes_at)
        if slug == COMMITTEE_FUND:
            draw_committee(
                db_session=db_session,
                fund_id=fund_id,
                draw_in=CommitteeDrawIn(size=COMMITTEE_SIZE, seed=COMMITTEE_SEED),
                actor=ACTOR,
                now=now - timedelta(days=5),
            )
        applicant = db_session.exec(
            select(Outlet)
            .join(OutletFund, col(OutletFund.outlet_id) == col(Outlet.id))
            .where(
                col(OutletFund.fund_id) == fund_id,
                col(OutletFund.status) == APPLICANT.value,
            )
            .order_by(col(Outlet.name))
        ).first()
        assert applicant is not None
        opened_at = now - timedelta(days=3, hours=rng.randint(0, 6))
        running = open_proposal(
            db_session=db_session,
            fund_id=fund_id,
            proposal_in=ProposalIn(
                kind=ProposalKind.accredit_outlet,
                outlet_id=applicant.id,
                title=f"Accréditer {applicant.name}",
            ),
            actor=ACTOR,
            proposer_person_id=None,
            now=opened_at,
        )
        _ballots(
            rng,
            db_session,
            running.id,
            settings,
            share=0.3,
            weights=(5, 3, 2),
            start=opened_at,
            end=now,
        )


def _ballots(
    rng: random.Random,
    db_session: Session,
    proposal_id: uuid.UUID,
    settings: Settings,
    *,
    share: float,
    weights: tuple[int, int, int],
    start: datetime,
    end: datetime,
) -> None:
    """Votes of about `share` of the roll (yes / no / abstain in `weights`), a few changed;
    the demo logins do not vote, so that they can."""
    from ssa.assembly.models import Choice, ProposalVoter
    from ssa.assembly.service import cast_vote

    roll = db_session.exec(
        select(ProposalVoter.person_id, Person.user_id)
        .join(Person, col(Person.id) == col(ProposalVoter.person_id))
        .where(col(ProposalVoter.proposal_id) == proposal_id)
        .order_by(col(ProposalVoter.person_id))
    ).all()
    voters = [person_id for person_id, user_id in roll if user_id is None]
    chosen = rng.sample(voters, max(1, round(share * len(roll))))
    span = (end - start).total_seconds()
    moments = sorted(start + timedelta(seconds=rng.uniform(0, span)) for _ in chosen)
    for person_id, moment in zip(chosen, moments, strict=True):
        for _ in range(2 if rng.random() < 0.1 else 1):
            cast_vote(
                db_session=db_session,
                proposal_id=proposal_id,
                person_id=person_id,
                choice=rng.choices(list(Choice), weights)[0],
                actor=ACTOR,
                secret_keys=[settings.secret_key],
                now=moment,
            )


def _assembly_lines(db_session: Session) -> list[str]:
    """Per fund: its open vote and its latest closed one."""
    from ssa.assembly.models import Proposal, ProposalStatus
    from ssa.assembly.service import votes_cast

    funds = dict(
        db_session.exec(
            select(Fund.slug, Fund.id).where(col(Fund.slug).in_([f.slug for f in DEMO_FUNDS]))
        ).all()
    )
    lines = []
    for slug in (d.slug for d in DEMO_FUNDS if d.slug in funds):
        proposals = db_session.exec(
            select(Proposal)
            .where(col(Proposal.fund_id) == funds[slug])
            .order_by(col(Proposal.opens_at).desc())
        ).all()
        for proposal in proposals:
            if proposal.status == ProposalStatus.open:
                lines.append(
                    f"  assembly of fund {slug}: open vote «{proposal.title}»"
                    f" ({proposal.roll} roll: {votes_cast(db_session, proposal)} of"
                    f" {proposal.eligible_voters} voted; closes"
                    f" {proposal.closes_at.astimezone(FUND_TIMEZONE).date().isoformat()})"
                )
            else:
                lines.append(
                    f"  assembly of fund {slug}: «{proposal.title}» {proposal.result}"
                    f" (yes {proposal.yes_count}, no {proposal.no_count},"
                    f" abstain {proposal.abstain_count} of {proposal.eligible_voters})"
                    + (", outlet accredited" if proposal.enacted_at is not None else "")
                )
    return lines
