"""The rubric a session judges under, and switching it: what `assay run` reads at every judgement.

The rubric in force is the session's recipe's `[[judge.rubric]]` (stored in the session's meta,
so a kill, a second resume or any later command keeps it). The pointwise judge and expansion
read it from there. The pairwise checks (a rewrite against its original, in repairs and bias-cue
repairs) pass it too, but only when the recipe set one of its own (`pairwise_rubric`): with
the default rubric their prompt stays the plain pairwise one it always was.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from assay.core.config import DEFAULT_CRITERIA, Criterion


def pairwise_rubric(judge: Any) -> tuple[Criterion, ...]:
    """The criteria the pairwise judge is shown: the recipe's rubric when it set one, else none.

    "Set" is pydantic's `model_fields_set` (a recipe file, a refined fragment given with
    `--recipe`, or a refinement inside the run) and a rubric other than the default: a stored
    recipe read back marks every field as set, so the default rubric there is no user's choice,
    and a user who spells out the default rubric changes nothing either.
    """
    rubric = tuple(judge.rubric)
    if "rubric" not in judge.model_fields_set or rubric == DEFAULT_CRITERIA:
        return ()
    return rubric


def switch_rubric(session: Any, rubric: Sequence[Criterion]) -> None:
    """Make `rubric` the session's rubric: in this process and in its stored recipe, which every resume reads.

    Only the rubric changes in the stored recipe; the caller commits (it is written inside the
    caller's transaction, with the trace decision that records the switch, so not with `set_meta`,
    which commits on its own).
    """
    import json

    stored = session.meta("config")
    stored.setdefault("judge", {})["rubric"] = [{"name": c.name, "description": c.description} for c in rubric]
    session.conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('config', ?)", (json.dumps(stored),))
    session.config.judge.rubric = tuple(rubric)
