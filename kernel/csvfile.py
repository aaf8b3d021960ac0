"""Reading the import CSV files (customers, agents): header checks, the line of every
row, and file problems turned into one clear error naming the file."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path


def csv_rows(
    path: Path,
    required: Sequence[str],
    optional: Sequence[str],
    error: Callable[[str], Exception],
    empty_hint: str,
    header_text: str | None = None,
) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield ``(line, cells)`` for each data row; blank rows and ``#`` comments are skipped.

    Raises ``error("<path>:<line>: …")`` for a bad header or field count and
    ``error("<path>: …")`` when the file cannot be read as UTF-8 CSV or has no header.
    """
    header: list[str] | None = None
    expected = header_text or f"{','.join(required)}[,{','.join(optional)}]"
    try:
        # utf-8-sig: spreadsheet programs put a byte-order mark in front of the header.
        with path.open(encoding="utf-8-sig", newline="") as fh:
            reader = csv.reader(fh)
            for record in reader:
                line = reader.line_num
                if not any(cell.strip() for cell in record) or record[0].startswith("#"):
                    continue
                if header is None:
                    header = [cell.strip().lower() for cell in record]
                    unknown = [c for c in header if c not in (*required, *optional)]
                    missing = [c for c in required if c not in header]
                    if unknown or missing or len(set(header)) != len(header):
                        raise error(
                            f"{path}:{line}: header must be {expected} (got {','.join(header)})"
                        )
                    continue
                if len(record) != len(header):
                    raise error(f"{path}:{line}: expected {len(header)} fields, got {len(record)}")
                yield line, {key: cell.strip() for key, cell in zip(header, record, strict=True)}
    except UnicodeDecodeError:
        raise error(f"{path}: not UTF-8 text; save the file as CSV UTF-8") from None
    except csv.Error as exc:
        raise error(f"{path}: not a valid CSV file: {exc}") from None
    except OSError as exc:
        raise error(f"{path}: cannot read: {exc.strerror}") from None
    if header is None:
        raise error(f"{path}: empty file; {empty_hint}")
