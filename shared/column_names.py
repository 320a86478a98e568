"""The one rule that turns a dataset's headers into column (feature) names.

Every reader of user data applies it: the config's schema, ``dualloop inner run``'s input
check, the Preprocess script, the Glue ingest job, the serving handler (JSON keys, a CSV
header row) and the drift job (captured requests). So a CSV written with its original
headers (``mean radius``, ``Petal Length (cm)``) trains, serves and is monitored under one
set of names, and the config may name a column either way.

The rule, in order:

1. surrounding whitespace is dropped;
2. accents are dropped (``é`` -> ``e``);
3. a word boundary inside camelCase or an acronym becomes a break
   (``amountToAvgRatio`` -> ``amount To Avg Ratio``, ``HTTPStatus`` -> ``HTTP Status``);
4. every run of characters that are not ASCII letters or digits becomes one ``_``,
   and ``_`` at either end is dropped;
5. the result is lower-cased.

``mean radius`` -> ``mean_radius``; ``od280/od315_of_diluted_wines`` ->
``od280_od315_of_diluted_wines``; ``Petal Length (cm)`` -> ``petal_length_cm``. A name the
rule has made is left as it is. A header with no letter or digit (a blank one, as
``DataFrame.to_csv`` writes above its index) is named by its 1-based position in the file,
``column_<n>``. Two headers of one file that end up with the same name are an error naming
both.

Standard library only, so the container scripts and the Glue job import it without dualloop's
dependencies: ``inner_pipeline/code/column_names.py`` is a symbolic link to this file (code
packaging and CDK staging copy its content), and the Glue helpers zip carries it.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from functools import lru_cache

__all__ = ["HeaderClashError", "UnnamedHeaderError", "column_name", "column_names", "is_header_row"]

_ACRONYM = re.compile(r"([A-Z]+)([A-Z][a-z])")  # HTTPStatus -> HTTP_Status
_CAMEL = re.compile(r"([a-z0-9])([A-Z])")  # camelCase -> camel_Case
_NOT_ALNUM = re.compile(r"[^0-9A-Za-z]+")


class UnnamedHeaderError(ValueError):
    """A name holds no letter or digit, so the rule cannot make a column name of it."""


class HeaderClashError(ValueError):
    """Two headers of one table become the same column name."""


@lru_cache(maxsize=4096)  # serving maps every JSON key of every request through it
def column_name(header: str) -> str:
    """The column name for ``header`` by the module's rule; :class:`UnnamedHeaderError` if
    nothing of it is left (no letter or digit)."""
    text = unicodedata.normalize("NFKD", header.strip())
    text = "".join(c for c in text if not unicodedata.combining(c))
    text = _CAMEL.sub(r"\1_\2", _ACRONYM.sub(r"\1_\2", text))
    name = _NOT_ALNUM.sub("_", text).strip("_").lower()
    if not name:
        raise UnnamedHeaderError(f"{header!r} has no letter or digit to make a column name of")
    return name


def column_names(headers: Sequence[str]) -> list[str]:
    """The column names of a table's ``headers``, in order: blank headers become
    ``column_<position>``; two headers with one name raise :class:`HeaderClashError`."""
    names: list[str] = []
    first: dict[str, str] = {}
    for position, header in enumerate(headers, start=1):
        try:
            name = column_name(header)
        except UnnamedHeaderError:
            name = f"column_{position}"
        if name in first:
            raise HeaderClashError(
                f"columns {first[name]!r} and {header!r} both become {name!r} by dualloop's header "
                "rule (README, 'Your data'): rename one of them"
            )
        first[name] = header
        names.append(name)
    return names


def is_header_row(row: Sequence[str], names: Sequence[str]) -> bool:
    """Whether a CSV row is a header: its cells become ``names``, in order, by the rule (the
    serving handler and the drift job tell a header row from data so)."""
    if len(row) != len(names):
        return False
    try:
        return all(column_name(cell) == name for cell, name in zip(row, names, strict=True))
    except UnnamedHeaderError:
        return False
