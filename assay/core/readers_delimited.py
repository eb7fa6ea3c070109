"""CSV and TSV sample files: a header row names the columns, each later row is one record.

A record's keys are the header's column names, so a file with `instruction`, `input` and
`output` columns reads as Alpaca (any format whose fields are plain strings works the same
way); other names are mapped with `--field` (assay.core.field_map), checked here against the
header. Every cell is text, as the file holds it.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from assay.core.errors import InputError
from assay.core.field_map import NO_MAPPING, FieldMap
from assay.core.raw_input import Invalid, open_bytes, too_big

DELIMITERS = {".csv": ",", ".tsv": "\t"}


def delimiter_of(path: Path) -> str | None:
    """The delimiter a CSV or TSV file's extension names (`.csv.gz` too), else None."""
    name = path.name.lower().removesuffix(".gz")
    return next((d for suffix, d in DELIMITERS.items() if name.endswith(suffix)), None)


def delimited(path: Path, limit: int, fields: FieldMap = NO_MAPPING) -> Iterator[tuple[int, Any, str] | Invalid]:
    """The records of a CSV or TSV file: (line, {column: cell}, raw row) or an Invalid, located by line.

    Every column `fields` maps must be in the header: a missing one is an error at line 1, not
    one per row.
    """
    delimiter = delimiter_of(path) or ","
    with open_bytes(path) as handle:
        text = io.TextIOWrapper(handle, encoding="utf-8-sig", newline="")
        rows = csv.reader(text, delimiter=delimiter)
        try:
            header = next(rows, None)
        except (csv.Error, UnicodeDecodeError) as err:
            raise InputError(path, 1, f"the header row is unreadable: {err}") from None
        if not header or not any(cell.strip() for cell in header):
            raise InputError(path, 1, "no header row: the first row must name the columns (e.g. instruction, input, output)")
        columns = [cell.strip() for cell in header]
        fields.check_columns(path, columns)
        line = rows.line_num
        while True:
            start = line + 1
            try:
                cells = next(rows, None)
            except (csv.Error, UnicodeDecodeError) as err:  # an unclosed quote or bad bytes: the rest is unreadable
                yield Invalid(InputError(path, start, f"not readable as {'TSV' if delimiter == chr(9) else 'CSV'} from here on: {err}"), "")
                return
            if cells is None:
                return
            line = rows.line_num
            raw = delimiter.join(cells)
            if not any(cell.strip() for cell in cells):
                continue  # a blank row
            if len(raw.encode("utf-8")) > limit:
                yield too_big(path, start, len(raw.encode("utf-8")), limit)
            elif len(cells) != len(columns):
                yield Invalid(InputError(path, start, f"{len(cells)} cells in a row under a header of {len(columns)} columns"), raw)
            else:
                yield start, dict(zip(columns, cells)), raw
