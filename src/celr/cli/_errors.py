"""The errors the command line tool reports as one line, and how it names columns in them."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence


class CLIError(Exception):
    """A problem with what the user gave (a file, a column, an option).

    :func:`celr.cli.main` prints it as one line, ``celr: error: <message>``, and exits
    with status 2, the status argparse gives to usage errors.
    """


def quoted(names: Iterable[object]) -> str:
    """``'a', 'b' and 'c'``: names as a user typed them, quoted so spaces show."""
    items = [repr(str(name)) for name in names]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def suggest(name: str, choices: Sequence[object]) -> str:
    """A ``did you mean ...?`` hint for a mistyped column, or an empty string."""
    by_lower = {str(choice).lower(): str(choice) for choice in choices}
    # A difference of case only is the likeliest slip and difflib ranks it poorly.
    if name.lower() in by_lower:
        return f" (did you mean {by_lower[name.lower()]!r}?)"
    close = difflib.get_close_matches(name, [str(c) for c in choices], n=3, cutoff=0.6)
    return f" (did you mean {' or '.join(repr(c) for c in close)}?)" if close else ""


def unknown_columns(missing: Sequence[str], available: Sequence[object], where: str) -> str:
    """The message for columns that ``where`` lacks, with close matches for each."""
    noun = "column" if len(missing) == 1 else "columns"
    hints = "; ".join(f"{name!r}{suggest(name, available)}" for name in missing)
    listing = quoted(available[:20]) + (", ..." if len(available) > 20 else "")
    return f"{where} has no {noun} {hints}; its columns are {listing}"
