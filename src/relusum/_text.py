"""Small text helpers shared by reports, figures and the command line."""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["plural", "or_list"]


def plural(n: int, word: str, many: str | None = None) -> str:
    """``"1 unit"``, ``"2 units"``, ``"0 units"``: a count and its word, agreeing.

    Counts of 1,000 and more get thousands separators.

    Examples
    --------
    >>> from relusum._text import plural
    >>> plural(1, "unit"), plural(2, "linear piece"), plural(0, "knot")
    ('1 unit', '2 linear pieces', '0 knots')
    >>> plural(12000, "point"), plural(1, "match", "matches"), plural(3, "match", "matches")
    ('12,000 points', '1 match', '3 matches')
    """
    n = int(n)
    if n == 1:
        return f"1 {word}"
    return f"{n:,} {many or word + 's'}"


def or_list(items: Iterable[str]) -> str:
    """``".png, .svg or .pdf"``: alternatives for a help or error text.

    Examples
    --------
    >>> from relusum._text import or_list
    >>> or_list([".png", ".svg", ".pdf"]), or_list(["a"])
    ('.png, .svg or .pdf', 'a')
    """
    items = list(items)
    if len(items) < 2:
        return "".join(items)
    return f"{', '.join(items[:-1])} or {items[-1]}"
