"""Policy presets for the known pilots, so that a new fund starts from a real example.

Plain data: the service validates a preset like any policy a coordinator sends.
"""

from enum import StrEnum
from typing import Any


class Preset(StrEnum):
    gironde = "gironde"
    montpellier = "montpellier"
    lyon = "lyon"
    nantes = "nantes"


# The Gironde pilot's rules: the defaults of PRODUCT.md's policy table. The scale is
# illustrative (a share of the monthly disposable income per consumption unit).
GIRONDE: dict[str, Any] = {
    "allowance_base_cents": 15000,
    "allowance_per_extra_person_cents": 7500,
    "allowance_per_child_cents": 0,
    "child_age_limit": 14,
    "contribution_mode": "self_determined",
    "contribution_minimum_base_cents": 1000,
    "contribution_minimum_per_extra_person_cents": 500,
    "contribution_scale": [
        {"up_to_cents": 60000, "rate_percent": 2},
        {"up_to_cents": 100000, "rate_percent": 4},
        {"up_to_cents": 150000, "rate_percent": 6},
        {"up_to_cents": None, "rate_percent": 8},
    ],
    "contribution_grace_periods": 1,
    "first_period": "full",
    "min_issuance_cents": 1000,
    "rollover": "full",
    "rollover_cap_cents": 15000,
    "dormancy_periods": 3,
    "require_coverage": True,
    "quorum_percent": 20,
    "approval_percent": 50,
    "voting_days": 14,
    "secret_ballot": True,
    "accreditation_criteria": [
        "accessibility",
        "working_conditions",
        "local_origin",
        "price_transparency",
        "sustainable_practices",
    ],
}

PRESETS: dict[Preset, dict[str, Any]] = {
    Preset.gironde: GIRONDE,
    # €100 a household, whatever its size.
    Preset.montpellier: {
        **GIRONDE,
        "allowance_base_cents": 10000,
        "allowance_per_extra_person_cents": 0,
    },
    # €150 + €75 per further person + €40 per child under 14.
    Preset.lyon: {
        **GIRONDE,
        "allowance_base_cents": 15000,
        "allowance_per_extra_person_cents": 7500,
        "allowance_per_child_cents": 4000,
        "child_age_limit": 14,
    },
    # €100 + €50 per further person.
    Preset.nantes: {
        **GIRONDE,
        "allowance_base_cents": 10000,
        "allowance_per_extra_person_cents": 5000,
    },
}
