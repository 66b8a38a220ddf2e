"""The policy's arithmetic: allowances, consumption units and contributions (pure functions)."""

from dataclasses import dataclass
from datetime import date

from ssa.funds.models import ContributionMode, FundPolicy

# OECD-modified equivalence scale, in tenths: first adult 1, others aged 14+ 0.5,
# children under 14 0.3.
FIRST_UNIT_TENTHS = 10
OTHER_ADULT_TENTHS = 5
CHILD_TENTHS = 3
OECD_CHILD_AGE = 14


def period_start(period: str) -> date:
    year, month = period.split("-")
    return date(int(year), int(month), 1)


def age_on(birth_date: date, day: date) -> int:
    years = day.year - birth_date.year
    if (day.month, day.day) < (birth_date.month, birth_date.day):
        years -= 1
    return years


@dataclass(frozen=True)
class Member:
    """What the rules need to know of a person."""

    person_id: str
    birth_date: date


@dataclass(frozen=True)
class AllowanceLine:
    person_id: str
    share: str  # "base" for the first person, "extra" for each further one
    cents: int
    child_cents: int  # the per-child amount, when the person is under the age limit


@dataclass(frozen=True)
class Allowance:
    total_cents: int
    lines: list[AllowanceLine]


def _oldest_first(members: list[Member]) -> list[Member]:
    return sorted(members, key=lambda m: (m.birth_date, m.person_id))


def allowance(policy: FundPolicy, members: list[Member], period: str) -> Allowance:
    """Base for the first (oldest) person, the extra for each further one, plus the
    per-child amount for each child under the policy's age limit on the period's first day."""
    start = period_start(period)
    lines = []
    for index, member in enumerate(_oldest_first(members)):
        is_child = age_on(member.birth_date, start) < policy.child_age_limit
        lines.append(
            AllowanceLine(
                person_id=member.person_id,
                share="base" if index == 0 else "extra",
                cents=policy.allowance_base_cents
                if index == 0
                else policy.allowance_per_extra_person_cents,
                child_cents=policy.allowance_per_child_cents if is_child else 0,
            )
        )
    return Allowance(total_cents=sum(x.cents + x.child_cents for x in lines), lines=lines)


def consumption_units_tenths(members: list[Member], day: date) -> int:
    units = 0
    for index, member in enumerate(_oldest_first(members)):
        if index == 0:
            units += FIRST_UNIT_TENTHS
        elif age_on(member.birth_date, day) >= OECD_CHILD_AGE:
            units += OTHER_ADULT_TENTHS
        else:
            units += CHILD_TENTHS
    return units


def contribution_minimum(policy: FundPolicy, persons: int) -> int:
    if persons <= 0:
        return 0
    return (
        policy.contribution_minimum_base_cents
        + (persons - 1) * policy.contribution_minimum_per_extra_person_cents
    )


def disposable_income(income_cents: int, housing_cents: int, other_fixed_cents: int) -> int:
    return max(0, income_cents - housing_cents - other_fixed_cents)


def contribution_recommended(
    policy: FundPolicy,
    members: list[Member],
    *,
    income_cents: int,
    housing_cents: int,
    other_fixed_cents: int,
    day: date,
) -> int:
    """The scale's rate, chosen by disposable income per consumption unit, applied to
    the household's disposable income; never below the minimum."""
    disposable = disposable_income(income_cents, housing_cents, other_fixed_cents)
    units = consumption_units_tenths(members, day)
    per_unit = disposable * 10 // units if units else disposable
    rate = policy.contribution_scale[-1]["rate_percent"]
    for bracket in policy.contribution_scale:
        bound = bracket["up_to_cents"]
        if bound is None or per_unit <= bound:
            rate = bracket["rate_percent"]
            break
    recommended = disposable * int(rate) // 100
    return max(recommended, contribution_minimum(policy, len(members)))


def contribution_floor(policy: FundPolicy, minimum: int, recommended: int) -> int:
    """What the household must at least pay: the minimum, or on a scale the recommendation."""
    return recommended if policy.contribution_mode == ContributionMode.scale else minimum
