"""How a rulebook section declares a key: a dataclass field carrying its documentation.

`rulebook show` prints each key's documentation; `kind` tells how the TOML value is read
(RATE: a decimal rate such as "0.6%"); `least` and `most` bound a number.
"""

from __future__ import annotations

from dataclasses import field
from typing import Any

RATE = "rate"


def rule(doc: str, *, kind: str = "", least: int | None = None, most: int | None = None) -> Any:
    """Declare a rulebook key with the documentation `rulebook show` prints, and the range
    its number must lie in (`least`, `most`, inclusive), checked when the rulebooks load."""
    return field(metadata={"doc": doc, "kind": kind, "least": least, "most": most})
