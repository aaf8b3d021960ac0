"""Report tables as CSV files for spreadsheets, safe to open.

A cell starting with ``=``, ``+``, ``-`` or ``@`` (or a tab or carriage return, which
some spreadsheets skip before reading a formula) is run as a formula by Excel and
LibreOffice: a customer name like ``=HYPERLINK(...)`` would become a live link in the
lead's spreadsheet. Such text cells get a leading ``'``, which spreadsheets show as
text. Numbers are written as numbers (a negative one is not text to defuse).

The file is UTF-8 with a byte-order mark, so Excel reads Chinese names correctly.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
BOM = "\ufeff"

Cell = str | int | float | None


def safe_cell(value: Cell) -> str:
    """``value`` as CSV text: empty for None, floats to 4 decimals, formulas defused."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:.4f}".rstrip("0").rstrip(".") if value == value else ""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def csv_text(header: Sequence[str], rows: Iterable[Sequence[Cell]]) -> str:
    """The whole file: the header row, then one line per row (CRLF, as RFC 4180)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([safe_cell(h) for h in header])
    for row in rows:
        writer.writerow([safe_cell(cell) for cell in row])
    return BOM + out.getvalue()
