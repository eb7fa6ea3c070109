"""The refined rubric as a recipe fragment: `[[judge.rubric]]` tables the recipe loader reads back as they are.

`assay judge FILE --recipe refined.toml` (or `assay run --recipe …`) then judges under it; a
comment header says what it was measured at, so the file carries its own evidence.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from pydantic import BaseModel

from assay.core.config import Criterion
from assay.core.recipe_toml import recipe_toml
from assay.core.writers import atomic_text


class _RubricTable(BaseModel):
    rubric: list[dict[str, str]]


class _Fragment(BaseModel):
    judge: _RubricTable


def fragment_text(rubric: Sequence[Criterion], *, before: float, after: float, n_train: int, n_holdout: int,
                  source: str) -> str:
    """The TOML text: a comment header with the measured agreement, then one `[[judge.rubric]]` per criterion."""
    header = (f"# Judge rubric refined by `assay rubric refine {source}` from human review decisions.\n"
              f"# Held-out agreement with the people's decisions: {before:.3f} before -> {after:.3f} after,\n"
              f"# on {n_holdout} held-out items ({n_train} for training).\n"
              "# Use it with `--recipe FILE` (assay judge, run, expand), or paste it into a recipe.\n")
    body = recipe_toml(_Fragment(judge=_RubricTable(rubric=[{"name": c.name, "description": c.description}
                                                            for c in rubric])))
    return header + "\n" + body.lstrip("\n")


def write_fragment(path: Path, rubric: Sequence[Criterion], **measured: object) -> Path:
    """Write the fragment atomically (a reader never sees half a file); returns the path."""
    with atomic_text(path) as out:
        out.write(fragment_text(rubric, **measured))  # type: ignore[arg-type]
    return path
