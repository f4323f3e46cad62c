"""The applicant's spouse and householder, from the resident record's 続柄 (世帯主との続柄).

The resident record names each member's relation to the 世帯主 and the 世帯主's 宛名番号. The spouse is the
member recorded as 妻/夫 of a householder applicant, or the householder of an applicant recorded as 妻/夫;
未届 (事実婚) counts (国民年金法5条8項). Any other applicant's spouse (e.g. 子の妻) cannot be read from the
record: the application form's spouse is used then, and it always prevails when given.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .screening import Household

HOUSEHOLDER = "世帯主"
SPOUSE_RELATIONSHIPS = frozenset({"妻", "夫", "妻（未届）", "夫（未届）", "妻(未届)", "夫(未届)"})


@dataclass(frozen=True)
class Member:
    """One resident of a household as of a day: 宛名番号, 続柄 and the 世帯主's 宛名番号."""

    atena_number: str
    relationship: str | None
    householder_atena_number: str | None


def household_of(applicant: str, members: Iterable[Member], stated_spouse: str | None = None) -> Household:
    """The applicant's householder and spouse among the members of their household (the applicant included)."""
    everyone = {m.atena_number: m for m in members}
    me = everyone.get(applicant)
    heads = sorted(a for a, m in everyone.items() if m.relationship == HOUSEHOLDER)
    householder = (me.householder_atena_number if me else None) or (heads[0] if heads else None)
    spouse = stated_spouse
    if spouse is None and me is not None:
        if householder == applicant or me.relationship == HOUSEHOLDER:
            partners = sorted(a for a, m in everyone.items() if m.relationship in SPOUSE_RELATIONSHIPS)
            spouse = partners[0] if partners else None
        elif me.relationship in SPOUSE_RELATIONSHIPS:
            spouse = householder
    return Household(householder=householder, spouse=spouse if spouse != applicant else None)
