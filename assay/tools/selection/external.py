"""Running a selector that is not built in (a plugin, see `SelectorPlugin`) under the shared rules.

The selector gets the same `Admission` the built-in methods use; its picks are then checked
against a fresh one, so a plugin cannot break the quality floor or a quota unnoticed, nor
pick a candidate twice or one that does not exist.
"""

from __future__ import annotations

import numpy as np

from assay.tools.selection.base import Admission, Constraints, Pool, Selection, SelectorPlugin, shortfall_warning


def run_selector(name: str, selector: SelectorPlugin, pool: Pool, n: int, *,
                 constraints: Constraints = Constraints(), seed: int = 0) -> Selection:
    """Run `selector` for `n` picks and check them; a rule broken is a ValueError naming `name`."""
    if n < 0:
        raise ValueError(f"n must be ≥ 0, got {n}")
    admission = Admission(pool, constraints)
    eligible = int(admission.eligible.sum())
    picks = [_index(name, i, pool.size) for i in selector(pool, n, admission, seed=seed)]
    if len(picks) > n:
        raise ValueError(f"selector {name!r} returned {len(picks)} picks for {n} requested")
    check, seen = Admission(pool, constraints), set()
    for rank, i in enumerate(picks):
        if i in seen or not check.admits(i):
            why = "picked twice" if i in seen else "refused by the quality floor or a quota"
            raise ValueError(f"selector {name!r} picked candidate {i} at rank {rank + 1}: {why}")
        seen.add(i)
        check.take(i)
    indices = np.asarray(picks, dtype=np.int64)
    warnings = shortfall_warning(name, len(picks), n, eligible, constraints)
    return Selection(name, n, indices, None, eligible, warnings, [])


def _index(name: str, value: object, size: int) -> int:
    """A pick as a row number, or a ValueError naming the selector."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"selector {name!r} returned {value!r}; picks are candidate row numbers (int)")
    if not 0 <= int(value) < size:
        raise ValueError(f"selector {name!r} picked row {int(value)} of a pool of {size}")
    return int(value)
