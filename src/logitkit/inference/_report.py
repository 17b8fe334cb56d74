"""A result table that carries its header and notes and prints as a readable report."""

from __future__ import annotations

from typing import Any, ClassVar

import pandas as pd


class ReportFrame(pd.DataFrame):
    """A DataFrame whose ``attrs["logitkit"]`` hold a header and notes about its numbers.

    Subclasses name the report's ``title`` and say which header lines it shows
    (:meth:`_fields`); ``print(frame)`` gives the title, those lines, the table, then
    the numbered notes.

    Examples
    --------
    >>> class Report(ReportFrame):
    ...     title = "Report"
    >>> frame = Report({"coef": [1.5]}, index=["x0"])
    >>> frame.attrs["logitkit"] = {"notes": ["A note on validity."]}
    >>> print(frame.to_text(), end="")
    Report
    ======
    <BLANKLINE>
        coef
    x0   1.5
    <BLANKLINE>
    Notes:
      [1] A note on validity.
    """

    #: The report's first line.
    title: ClassVar[str] = ""
    #: Whether ``to_text()`` without ``columns`` leaves out the columns with no number.
    hide_empty_columns: ClassVar[bool] = True

    @property
    def header(self) -> dict[str, Any]:
        """What the table is about, and its notes (JSON-serialisable)."""
        info: dict[str, Any] = self.attrs.get("logitkit", {})
        return info

    @property
    def notes(self) -> list[str]:
        """Why (or where) the numbers are or are not valid."""
        return list(self.header.get("notes", []))

    @property
    def table(self) -> pd.DataFrame:
        """The numbers as a plain DataFrame."""
        return pd.DataFrame(self, copy=True)

    def to_text(self, columns: list[str] | None = None, digits: int = 4) -> str:
        """The readable report: header lines, the table, then the notes.

        Parameters
        ----------
        columns : list of str, optional
            Columns of the table to show (by default all, or all that hold a number
            when :attr:`hide_empty_columns`).
        digits : int, default=4
            Significant digits of the numbers.

        Returns
        -------
        str
        """
        table = self.table
        if columns is not None:
            table = table[columns]
        elif self.hide_empty_columns:
            table = table.loc[:, table.notna().any()]
        lines = [self.title, "=" * len(self.title)]
        lines += [f"{name + ':':<17}{value}" for name, value in self._fields() if value is not None]
        lines += ["", table.to_string(float_format=lambda v: f"{v:.{digits}g}"), ""]
        if self.notes:
            lines.append("Notes:")
            lines += [f"  [{i}] {note}" for i, note in enumerate(self.notes, 1)]
        return "\n".join(lines).rstrip() + "\n"

    def _fields(self) -> list[tuple[str, Any]]:
        """The header lines of the report, as (name, value); a None value is left out."""
        return []

    def __str__(self) -> str:
        return self.to_text()
