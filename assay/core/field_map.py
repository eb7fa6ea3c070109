"""Column mapping: `--field instruction=question` reads a file whose columns (or keys) are named
otherwise as if they carried the canonical names, as Data-Juicer's `text_keys` does.

The mapping renames a record's keys where the record's dict is produced (CSV/TSV row, JSON or
JSONL object, Parquet row), before its format is told, so a file with `question,context,answer`
columns reads to the same Samples as one with `instruction,input,output`. Unmapped keys stay as
they are. Records are written back under the canonical names.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assay.core.errors import ConfigError, InputError

# The names a column may be mapped onto; `response` is another name for Alpaca's `output`.
CANONICAL = {
    "instruction": "instruction", "input": "input", "output": "output", "response": "output",
    "system": "system", "history": "history", "conversations": "conversations", "messages": "messages",
}  # fmt: skip
FLAG = "--field"


class MappingProblem(ValueError):
    """A record lacks a mapped key, or holds a canonical key that a mapping would overwrite."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(message)


@dataclass(frozen=True)
class FieldMap:
    """Canonical name -> the file's column (or key) name, in the order the flags gave them."""

    pairs: tuple[tuple[str, str], ...] = ()

    @classmethod
    def parse(cls, specs: Iterable[str] | None) -> FieldMap:
        """The mapping `--field CANONICAL=COLUMN` flags name; raises ConfigError naming the bad flag."""
        pairs: list[tuple[str, str]] = []
        for spec in specs or ():
            name, sep, column = spec.partition("=")
            name, column = name.strip(), column.strip()
            if not sep or not name or not column:
                raise ConfigError(f"{FLAG} {spec!r}: expected NAME=COLUMN, e.g. {FLAG} instruction=question")
            canonical = CANONICAL.get(name.lower())
            if canonical is None:
                raise ConfigError(f"{FLAG} {spec!r}: unknown field {name!r}; map a column onto one of "
                                  f"{', '.join(CANONICAL)} (response is another name for output)")
            for earlier, earlier_column in pairs:
                if earlier == canonical:
                    raise ConfigError(f"{FLAG} {spec!r}: {canonical!r} is already mapped to column {earlier_column!r}")
                if earlier_column == column:
                    raise ConfigError(f"{FLAG} {spec!r}: column {column!r} is already mapped to {earlier!r}")
            pairs.append((canonical, column))
        return cls(tuple(pairs))

    def __bool__(self) -> bool:
        return bool(self.pairs)

    def specs(self) -> list[str]:
        """The mapping as `CANONICAL=COLUMN` strings (what a session stores, and `parse` reads back)."""
        return [f"{canonical}={column}" for canonical, column in self.pairs]

    def check_columns(self, path: Path, columns: Sequence[str], *, line: int = 1) -> None:
        """Raise InputError (at the header's line) unless every mapped column is among `columns`."""
        problem = self._problem(columns, "column", "columns")
        if problem is not None:
            raise InputError(path, line, str(problem), field=problem.field)

    def apply(self, record: Any) -> Any:
        """The record with its mapped keys renamed to the canonical ones, in place of the originals.

        A record that is not an object is returned as it is: the format check names that problem.
        Raises MappingProblem when a mapped key is absent or a canonical key would be overwritten.
        """
        if not self.pairs or not isinstance(record, dict):
            return record
        problem = self._problem(list(record), "key", "keys")
        if problem is not None:
            raise problem
        rename = {column: canonical for canonical, column in self.pairs}
        return {rename.get(key, key): value for key, value in record.items()}

    def _problem(self, present: Sequence[str], noun: str, nouns: str) -> MappingProblem | None:
        listed = ", ".join(present) if present else "none"
        renamed = {column for _, column in self.pairs}  # a canonical name that is itself renamed away is free
        for canonical, column in self.pairs:
            if column not in present:
                return MappingProblem(column, f"no such {noun} ({FLAG} {canonical}={column}); {nouns} present: {listed}")
            if canonical not in renamed and canonical in present:
                # Renaming would silently overwrite the file's own value under that name.
                return MappingProblem(canonical, f"the file has a {canonical!r} {noun} too, and {FLAG} {canonical}="
                                                 f"{column} maps {column!r} onto it; map only one of them "
                                                 f"({nouns} present: {listed})")
        return None


NO_MAPPING = FieldMap()
