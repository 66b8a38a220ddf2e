"""Roles: granted per fund, per outlet, or for the whole instance."""

from enum import StrEnum


class Role(StrEnum):
    admin = "admin"  # instance administrator: creates funds, grants fund roles
    coordinator = "coordinator"  # per fund
    treasurer = "treasurer"  # per fund
    auditor = "auditor"  # per fund, read-only books
    manager = "manager"  # per outlet
    cashier = "cashier"  # per outlet
    member = "member"  # a person of a household (through the person's user)
    terminal = "terminal"  # a till: an OAuth2 client of an outlet


FUND_ROLES = frozenset({Role.coordinator, Role.treasurer, Role.auditor})
OUTLET_ROLES = frozenset({Role.manager, Role.cashier})
GRANTABLE_FUND_ROLES = FUND_ROLES
