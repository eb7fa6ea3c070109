"""The Runtime: the sources of non-determinism (clock, ids, environment, notes) a command runs with."""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from assay.trace.log import Clock


@dataclass(frozen=True)
class Runtime:
    """Sources of non-determinism, chosen once at the edge (the CLI) and passed down."""

    clock: Clock = field(default=lambda: datetime.now(UTC))
    new_id: Callable[[], str] = field(default=lambda: uuid.uuid4().hex[:12])
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    # Where a command's one-line notes go (a setting that differs from the session's recipe).
    note: Callable[[str], None] = field(default=lambda text: print(text, file=sys.stderr))
