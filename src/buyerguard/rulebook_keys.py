"""How a rulebook section declares a key: a dataclass field carrying its documentation.

`rulebook show` prints each key's documentation; `kind` tells how the TOML value is read
(RATE: a decimal rate such as "0.6%"); `least` and `most` bound a number.
"""

from __future__ import annotations

from dataclasses import field
from typing import Any

RATE = "rate"
# The longest span a duration key may name, by its unit: a century, so that any instant of
# the calendar plus it is still an instant (a larger one fails the command that adds it).
# A key named for its unit (`…_hours`) is held to it; another names it as its `most`.
LONGEST_SPAN = {
    "_seconds": 36_600 * 86_400,
    "_minutes": 36_600 * 24 * 60,
    "_hours": 36_600 * 24,
    "_days": 36_600,
    "_weeks": 36_600 // 7,
    "_months": 1_200,
}


def rule(doc: str, *, kind: str = "", least: int | None = None, most: int | None = None) -> Any:
    """Declare a rulebook key with the documentation `rulebook show` prints, and the range
    its number must lie in (`least`, `most`, inclusive), checked when the rulebooks load."""
    return field(metadata={"doc": doc, "kind": kind, "least": least, "most": most})
