"""The options of the commands that read data files: missing tokens, dialect, spellings.

Each command declares the options it takes with these types and passes
:func:`read_options` on to :func:`~logitkit.data.arrow.read_table` (or
:func:`~logitkit.data.arrow.iter_batches`), so every command reads a file the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

import typer

from logitkit.exceptions import DataError

__all__ = [
    "DecimalOption",
    "NaValuesOption",
    "NormalizeLabelsOption",
    "ReferenceOption",
    "SepOption",
    "parse_reference",
    "read_options",
]


def _option(flag: str, metavar: str | None, help_text: str) -> Any:
    return typer.Option(flag, metavar=metavar, help=help_text)


NaValuesOption = Annotated[
    list[str] | None,
    _option(
        "--na-values",
        "TOKEN",
        "A token that means a missing value (e.g. '?'), besides empty fields, NA and NaN; "
        "repeat for more.",
    ),
]
SepOption = Annotated[
    str | None,
    _option(
        "--sep",
        "CHAR",
        "Column separator of a CSV file: ',', ';', '\\t' or '|' (default: found from its "
        "first lines).",
    ),
]
DecimalOption = Annotated[
    str | None,
    _option(
        "--decimal",
        "CHAR",
        "Decimal mark of a CSV file's numbers: '.' or ',' (default: ',' when a file not "
        "separated by commas writes 1,5).",
    ),
]
NormalizeLabelsOption = Annotated[
    bool,
    _option(
        "--normalize-labels",
        None,
        "Merge target labels and category levels that differ only by case or surrounding "
        "spaces ('yes', 'Yes ') into their most frequent spelling.",
    ),
]
ReferenceOption = Annotated[
    list[str] | None,
    _option(
        "--reference",
        "COL=LEVEL",
        "Reference level of a categorical column (default: its first level in sorted "
        "order); repeat for more columns.",
    ),
]


#: Separators as they are typed on a command line.
_TYPED_SEPARATORS = {"\\t": "\t", "tab": "\t", "TAB": "\t"}


def parse_reference(values: Sequence[str] | None) -> dict[str, str]:
    """``--reference COL=LEVEL`` items as ``{column: level}`` (spaces around each stripped).

    Raises
    ------
    DataError
        For an item without ``=``, with an empty column or level, or a column named twice
        with different levels.

    Examples
    --------
    >>> parse_reference(["region=south", "tier=gold class"])
    {'region': 'south', 'tier': 'gold class'}
    >>> parse_reference(None)
    {}
    """
    out: dict[str, str] = {}
    for item in values or ():
        column, eq, level = (part.strip() for part in item.partition("="))
        if not eq or not column or not level:
            msg = f"--reference takes COL=LEVEL (e.g. --reference region=south); got {item!r}."
            raise DataError(msg, column=column or None)
        if out.get(column, level) != level:
            msg = (
                f"--reference names column '{column}' twice, with levels {out[column]!r} "
                f"and {level!r}; give one reference level per column."
            )
            raise DataError(msg, column=column)
        out[column] = level
    return out


def read_options(
    na_values: Sequence[str] | None, sep: str | None, decimal: str | None
) -> dict[str, Any]:
    """The reading options as keyword arguments of ``read_table`` / ``iter_batches``.

    A separator typed as ``'\\t'`` or ``tab`` is a tab.

    Examples
    --------
    >>> read_options(["?"], "\\\\t", None)
    {'na_values': ['?'], 'sep': '\\t', 'decimal': None}
    """
    if sep is not None:
        sep = _TYPED_SEPARATORS.get(sep, sep)
    return {"na_values": list(na_values or []) or None, "sep": sep, "decimal": decimal}
