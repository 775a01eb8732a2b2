"""What every rule returns: an amount, who pays whom, and why."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from buyerguard.money import Fen

PLATFORM = "platform"


def party(kind: str, party_id: str) -> str:
    """A party reference as decisions and the event feed carry it: `merchant:M1`."""
    return f"{kind}:{party_id}"


@dataclass(frozen=True)
class Decision:
    """The outcome of one rule applied to facts under one rulebook.

    `rule_ids` are rulebook keys (`fees.rate`) and `rulebook_id` names the
    rulebook in force, so any amount can be traced to the line that set it.
    """

    kind: str
    subject_id: str
    amount_fen: Fen
    payer: str
    payee: str
    rule_ids: tuple[str, ...]
    rulebook_id: str
    explanation: str
    details: Mapping[str, object] = field(default_factory=dict)
