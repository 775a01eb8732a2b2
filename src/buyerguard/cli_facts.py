"""Facts in bulk from the command line, streamed through a running server. A refused input
exits 2 with one line on stderr, as everywhere."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from buyerguard.cli_common import AsJson, print_json, progress_console, refusals_exit_2, say
from buyerguard.errors import InvalidInput, directory_refusal

if TYPE_CHECKING:  # imported where used: a command loads only what it needs
    from buyerguard.facts_load import LoadSummary

facts_app = typer.Typer(help="Facts in bulk, through a running server.", no_args_is_help=True)


@facts_app.command("load")
@refusals_exit_2
def facts_load(
    file: Path,
    url: Annotated[str, typer.Option(help="the server")] = "http://127.0.0.1:8000",
    token: Annotated[
        str | None, typer.Option(envvar="BUYERGUARD_TOKEN", help="a marketplace token")
    ] = None,
    batch_size: Annotated[int, typer.Option(min=1, max=1000)] = 1000,
    as_json: AsJson = False,
) -> None:
    """Stream an NDJSON file of facts (one `POST /v1/facts` fact a line) through the server.

    Every fact carries its idempotency key: a load cut short is finished by
    running the same file again. Exits 2 when any line was refused or skipped.
    `--json`: `{"file", "lines", "sent", "applied", "replayed", "skipped", "refused",
    "refused_lines"}`, every refused or skipped line (`{"line", "code", "message"}`), printed
    before that exit.
    """
    from buyerguard.facts_load import check_url, count_lines, load_file
    from buyerguard.progress import progress_bar

    token = (token or "").strip()  # a token read from a file keeps its line's end (\r\n)
    if not token:
        raise InvalidInput("token_missing", "give --token or set BUYERGUARD_TOKEN", "token")
    if not (token.isascii() and token.isprintable()) or " " in token:
        raise InvalidInput(
            "token_malformed",
            "a token is one word of printable ASCII, as `buyerguard token create` prints it",
            "token",
        )
    check_url(url)
    if file.is_dir():
        raise directory_refusal(file, "an NDJSON file")
    if not file.is_file():
        raise InvalidInput("file_missing", f"no file {file}", "file")
    total = count_lines(file)
    with progress_bar(progress_console) as progress:
        task = progress.add_task(f"loading {file.name}", total=total)
        summary = load_file(
            file, url, token, batch_size, lambda lines: progress.advance(task, lines)
        )
    counts = summary.counts
    if as_json:
        print_json(
            {
                "file": str(file),
                "lines": summary.lines,
                "sent": summary.sent,
                **{outcome: counts[outcome] for outcome in FACT_OUTCOMES},
                "refused_lines": [
                    {"line": number, "code": code, "message": message}
                    for number, code, message in summary.refused
                ],
            }
        )
    else:
        _say_loaded(summary)
    if summary.refused:
        raise InvalidInput(
            "facts_refused",
            f"{len(summary.refused):,} of {summary.lines:,} fact(s) refused or skipped"
            + (" (listed in refused_lines)" if as_json else " (listed above)"),
            "file",
        )


FACT_OUTCOMES = ("applied", "replayed", "skipped", "refused")


def _say_loaded(summary: LoadSummary) -> None:
    """The counts of a load and its first 20 refused lines, for people."""
    counts = summary.counts
    say(
        f"{summary.lines:,} fact(s): {counts['applied']:,} applied, "
        f"{counts['replayed']:,} replayed, {counts['skipped']:,} skipped, "
        f"{counts['refused']:,} refused"
    )
    for number, code, message in summary.refused[:20]:
        say(f"  line {number}: {code}: {message}")
    if len(summary.refused) > 20:
        say(f"  … and {len(summary.refused) - 20:,} more")
