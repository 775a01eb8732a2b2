"""docs/policies.md against the rulebooks and the code it names.

- Every key of the latest rulebook has exactly one row in a key table: its value as
  `buyerguard rulebook show` prints it, the rulebook from which that value holds (and
  the value before it), and the modules that read or cite it — each of which exists and
  mentions the key — or "—", and then no module does.
- Every backticked `section.name` whose section is a rulebook section is a key of the
  latest rulebook, or one of the few named rule ids and timer kinds (no number behind
  them) that the code defines.
- Every `src/…py` or `tests/…py` path mentioned exists, and every local link resolves.
- The status table agrees with each section's status line; the timeline lists every
  rulebook with its effective Shanghai date.

No database: the rulebooks are read from `rulebooks/`, the code as text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

from buyerguard.clock import local_date
from buyerguard.rulebook import Rulebook, describe_keys, render_value, rulebooks

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "policies.md"
SOURCE = ROOT / "src" / "buyerguard"
# declare every key; apply none
RULEBOOK_MODULES = {
    "rulebook.py",
    "rulebook_sections.py",
    "rulebook_arrival.py",
    "rulebook_keys.py",
}

CODE_SPAN = re.compile(r"`([^`\n]+)`")
KEY_LIKE = re.compile(r"^([a-z_]+)\.([a-z_]+)$")
KEY_CELL = re.compile(r"^`([a-z_]+\.[a-z_]+)`$")
SINCE_CELL = re.compile(r"^(\S+)(?: \(before: `(.*)`\))?$")
PATH = re.compile(r"\b(?:src|tests)/[\w/.-]+?\.py\b")
LINK = re.compile(r"\]\(([^)\s]+)\)")
HEADING = re.compile(r"^## (.+)$", re.M)
STATUS_LINE = re.compile(r"^\*\*Status: ([a-z ]+)\.\*\*", re.M)
STATUS_ROW = re.compile(r"^\| \[([^\]]+)\]\(#([^)]+)\) \| ([a-z ]+) \|")
STATUSES = ("built", "partly built", "planned")
NO_CODE = "—"

# Named like keys, but rule ids and timer kinds that carry no number (each must be defined
# in the code as a string literal).
NOT_KEYS = frozenset(
    {
        "cases.after_shipment",
        "arrival.badge_daily",
        "arrival.promises_rebuild",
        "arrival.promises_update",
        "payouts.run",
    }
)


def latest() -> Rulebook:
    return rulebooks().rulebooks[-1]


@cache
def keys() -> tuple[str, ...]:
    return tuple(key for key, _ in describe_keys())


@cache
def sections() -> frozenset[str]:
    return frozenset(key.split(".")[0] for key in keys())


def attribute(key: str) -> str:
    """The name the code reads a key by (`cap_yuan` is read as `cap_fen`)."""
    name = key.split(".")[1]
    return name[: -len("_yuan")] + "_fen" if name.endswith("_yuan") else name


@cache
def sources() -> dict[str, str]:
    """Every module of the package (but the two that declare the keys), by repository path."""
    return {
        path.relative_to(ROOT).as_posix(): path.read_text("utf-8")
        for path in sorted(SOURCE.rglob("*.py"))
        if path.name not in RULEBOOK_MODULES
    }


def mentions(text: str, key: str) -> bool:
    """The module cites the key (`"fees.cap_yuan"`) or reads its attribute (`.cap_fen`)."""
    return f'"{key}"' in text or re.search(rf"\.{attribute(key)}\b", text) is not None


@cache
def read_anywhere(key: str) -> tuple[str, ...]:
    """Modules that cite the key, or read it unmistakably: through its section
    (`.credit.enabled`), or by an attribute name no other key has."""
    section, _ = key.split(".")
    name = attribute(key)
    unique = [attribute(other) for other in keys()].count(name) == 1
    pattern = re.compile(rf"\.{section}\.{name}\b" + (rf"|\.{name}\b" if unique else ""))
    return tuple(
        path
        for path, text in sources().items()
        if f'"{key}"' in text or pattern.search(text) is not None
    )


def cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def between(text: str, name: str) -> str:
    found = re.search(rf"<!-- {name}:start -->\n(.*?)<!-- {name}:end -->", text, re.S)
    assert found, f"docs/policies.md lost its <!-- {name}:start/end --> markers"
    return found.group(1)


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    kept = "".join(c for c in heading.lower() if c.isalnum() or c in " -_")
    return kept.replace(" ", "-")


# ------------------------------------------------------------------------- key rows
@dataclass(frozen=True)
class KeyRow:
    key: str
    value: str
    since: str
    code: str


def key_rows(text: str) -> list[KeyRow]:
    """Every table row whose first cell is a single backticked `section.key`."""
    rows = []
    for line in text.splitlines():
        if not line.startswith("|"):
            continue
        row = cells(line)
        found = KEY_CELL.match(row[0])
        if found and len(row) == 5:
            rows.append(KeyRow(found.group(1), row[1], row[2], row[4]))
    return rows


@cache
def flat_values() -> tuple[dict[str, object], ...]:
    """Every rulebook's keys and values, oldest first."""
    return tuple(book.flat() for book in rulebooks().rulebooks)


@cache
def since_of(key: str) -> tuple[str, str | None]:
    """The rulebook from which the latest value of `key` holds, and the value before it."""
    books = rulebooks().rulebooks
    values = [render_value(flat[key]) for flat in flat_values()]
    start = len(values) - 1
    while start > 0 and values[start - 1] == values[-1]:
        start -= 1
    return books[start].id, values[start - 1] if start > 0 else None


def key_row_problems(text: str) -> list[str]:
    """What the key tables get wrong; empty when they are right."""
    flat = flat_values()[-1]
    rows = key_rows(text)
    problems = []
    named = [row.key for row in rows]
    for key in keys():
        if named.count(key) != 1:
            problems.append(f"{key}: {named.count(key)} rows, not one")
    for row in rows:
        if row.key not in flat:
            problems.append(f"{row.key}: a row for no rulebook key")
            continue
        value = f"`{render_value(flat[row.key])}`"
        if row.value != value:
            problems.append(f"{row.key}: in force is {value} in {latest().id}, not {row.value}")
        problems.extend(_since_problems(row))
        problems.extend(_code_problems(row))
    return problems


def _since_problems(row: KeyRow) -> list[str]:
    since, before = since_of(row.key)
    found = SINCE_CELL.match(row.since)
    if found is None:
        return [f"{row.key}: cannot read since {row.since!r}"]
    problems = []
    if found.group(1) != since:
        problems.append(f"{row.key}: holds since {since}, not {found.group(1)}")
    if found.group(2) != before:
        problems.append(f"{row.key}: the value before {since} is {before}, not {found.group(2)}")
    return problems


def _code_problems(row: KeyRow) -> list[str]:
    paths = PATH.findall(row.code)
    if not paths:
        if row.code != NO_CODE:
            return [f"{row.key}: code {row.code!r} names no module and is not {NO_CODE}"]
        readers = read_anywhere(row.key)
        return [f"{row.key}: marked {NO_CODE} but read by {', '.join(readers)}"] if readers else []
    problems = []
    for path in paths:
        text = sources().get(path)
        if text is None:
            problems.append(f"{row.key}: {path} is no module of the package")
        elif not mentions(text, row.key):
            problems.append(f"{row.key}: {path} neither reads nor cites it")
    return problems


# ------------------------------------------------------------------ names, paths, links
def name_problems(text: str) -> list[str]:
    """Backticked names that look like rulebook keys but are none."""
    known = set(keys())
    problems = []
    for span in sorted(set(CODE_SPAN.findall(text))):
        found = KEY_LIKE.match(span)
        if found is None or found.group(1) not in sections() or span in known:
            continue
        if span not in NOT_KEYS:
            problems.append(f"`{span}` is no key of rulebook {latest().id}")
    return problems


def path_problems(text: str) -> list[str]:
    return [
        f"{path} does not exist"
        for path in sorted(set(PATH.findall(text)))
        if not (ROOT / path).is_file()
    ]


def link_problems(text: str) -> list[str]:
    anchors = {slug(heading) for heading in HEADING.findall(text)}
    problems = []
    for target in LINK.findall(text):
        if target.startswith(("http://", "https://")):
            continue
        file, _, anchor = target.partition("#")
        if file and not (DOC.parent / file).is_file():
            problems.append(f"link to {target}: no such file")
        elif not file and anchor not in anchors:
            problems.append(f"link to #{anchor}: no such heading")
    return problems


# --------------------------------------------------------------- status and timeline
def section_statuses(text: str) -> dict[str, str | None]:
    """Each `## N. …` section's heading and the status its first status line gives."""
    headings = list(HEADING.finditer(text))
    found: dict[str, str | None] = {}
    for here, after in zip(headings, [*headings[1:], None], strict=True):
        title = here.group(1)
        if not re.match(r"\d+\. ", title):
            continue
        body = text[here.end() : after.start() if after else len(text)]
        status = STATUS_LINE.search(body)
        found[title] = status.group(1) if status else None
    return found


def status_problems(text: str) -> list[str]:
    statuses = section_statuses(text)
    problems = [f"{title}: no status line" for title, status in statuses.items() if not status]
    problems += [
        f"{title}: status {status!r} is none of {', '.join(STATUSES)}"
        for title, status in statuses.items()
        if status and status not in STATUSES
    ]
    listed = []
    for line in between(text, "status").strip().splitlines()[2:]:
        row = STATUS_ROW.match(line)
        if row is None:
            problems.append(f"cannot read status row {line!r}")
            continue
        title, anchor, status = row.groups()
        listed.append(title)
        if anchor != slug(title):
            problems.append(f"{title}: links to #{anchor}, not #{slug(title)}")
        if title not in statuses:
            problems.append(f"{title}: no such section")
        elif statuses[title] != status:
            problems.append(f"{title}: the table says {status}, the section {statuses[title]}")
    problems += [f"{title}: not in the status table" for title in statuses if title not in listed]
    return problems


def timeline_problems(text: str) -> list[str]:
    rows = [cells(line) for line in between(text, "timeline").strip().splitlines()[2:]]
    listed = [(row[0].strip("`"), row[1] if len(row) > 1 else "") for row in rows]
    expected = [
        (book.id, local_date(book.effective_from).isoformat()) for book in rulebooks().rulebooks
    ]
    return [] if listed == expected else [f"the timeline lists {listed}, not {expected}"]


# ---------------------------------------------------------------------------- tests
def test_every_key_has_one_row_with_its_value_since_and_code() -> None:
    assert key_row_problems(DOC.read_text("utf-8")) == []


def test_key_like_names_are_rulebook_keys() -> None:
    assert name_problems(DOC.read_text("utf-8")) == []


def test_the_named_rules_that_are_no_keys_are_defined_in_the_code() -> None:
    everything = "\n".join(sources().values())
    assert [name for name in sorted(NOT_KEYS) if f'"{name}"' not in everything] == []
    assert NOT_KEYS.isdisjoint(keys())


def test_every_path_and_link_exists() -> None:
    text = DOC.read_text("utf-8")
    assert path_problems(text) == []
    assert link_problems(text) == []


def test_the_status_table_agrees_with_the_sections() -> None:
    text = DOC.read_text("utf-8")
    assert status_problems(text) == []
    assert set(section_statuses(text).values()) == set(STATUSES)


def test_the_timeline_lists_every_rulebook() -> None:
    assert timeline_problems(DOC.read_text("utf-8")) == []


# ------------------------------------------------- the checks find what they look for
ROW_CAP = (
    '| `fees.cap_yuan` | `"18.00"` | baseline | the cap per sub-order, when it applies | '
    "`src/buyerguard/domain/fees.py` |"
)


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        (ROW_CAP, "", "fees.cap_yuan: 0 rows, not one"),
        (ROW_CAP, ROW_CAP + "\n" + ROW_CAP, "fees.cap_yuan: 2 rows, not one"),
        ('`"18.00"` | baseline', '`"20.00"` | baseline', 'in force is `"18.00"`'),
        ('18.00"` | baseline', '18.00"` | 2024-09-13', "holds since baseline, not 2024-09-13"),
        ("2024-09-13 (before: `false`)", "2024-09-13", "the value before 2024-09-13 is false"),
        ("domain/fees.py` |\n| `fees.required", "domain/orders.py` |\n| `fees.required", "neither"),
        ("domain/fees.py` |\n| `fees.required", "domain/feez.py` |\n| `fees.required", "no module"),
        ("`src/buyerguard/domain/fees.py` |\n| `fees.required", "— |\n| `fees.required", "read by"),
        ("| `credit.enabled` | `true` |", "| `credit.enabled` | `false` |", "credit.enabled"),
    ],
)
def test_the_key_check_finds_a_missing_row_a_wrong_value_since_or_module(
    old: str, new: str, problem: str
) -> None:
    text = DOC.read_text("utf-8")
    assert old in text
    problems = key_row_problems(text.replace(old, new, 1))
    assert any(problem in found for found in problems), problems


def test_the_key_check_finds_a_row_for_no_key() -> None:
    text = DOC.read_text("utf-8").replace(ROW_CAP, ROW_CAP.replace("cap_yuan", "cap_fen"))
    assert "fees.cap_fen: a row for no rulebook key" in key_row_problems(text)


def test_a_reader_is_found_by_its_quoted_key_or_its_section_and_attribute() -> None:
    assert "src/buyerguard/domain/fees.py" in read_anywhere("fees.cap_yuan")  # "fees.cap_yuan"
    assert "src/buyerguard/services/promises.py" in read_anywhere("arrival.enabled")  # .arrival.
    # `rules.enabled` there is free return shipping's: no evidence that credit is read
    assert "src/buyerguard/domain/aftersales_rules.py" not in read_anywhere("credit.enabled")


def test_the_other_checks_find_a_wrong_name_path_link_status_or_rulebook() -> None:
    text = DOC.read_text("utf-8")
    assert name_problems(text + "\n`fees.cap_fen` `order.anything`\n") == [
        f"`fees.cap_fen` is no key of rulebook {latest().id}"
    ]
    assert path_problems(text + "\n`src/buyerguard/domain/credit.py`\n") == [
        "src/buyerguard/domain/credit.py does not exist"
    ]
    assert link_problems(text + "\n[x](#no-such-heading) [y](nowhere.md)\n") == [
        "link to #no-such-heading: no such heading",
        "link to nowhere.md: no such file",
    ]
    planned = "| planned | — |\n| [12."
    assert planned in text
    wrong = status_problems(text.replace(planned, "| built | — |\n| [12.", 1))
    assert wrong == ["11. Pay-later credit (§9): the table says built, the section planned"]
    moved = text.replace("| `2024-02-02` | 2024-02-02 |", "| `2024-02-02` | 2024-02-03 |", 1)
    assert len(timeline_problems(moved)) == 1
    dropped = text.replace("| `2024-02-02` | 2024-02-02 |", "", 1)
    assert len(timeline_problems(dropped)) == 1
