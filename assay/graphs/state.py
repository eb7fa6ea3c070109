"""The curation graph's state: ids, metrics, the plan and the history, never the samples.

Samples live in the session DB; the state is what the loop needs to decide and to resume,
small enough to checkpoint after every node. Its value types live in assay/core/plan.py.
"""

from __future__ import annotations

import operator
from typing import Annotated

from pydantic import BaseModel, Field

from assay.core.plan import Measurement, Plan, RoundRecord, StopReason, TargetStatus


class CurationState(BaseModel):
    """What the loop carries between nodes; checkpointed after each one."""

    round: int = 0
    metrics: dict[str, float | None] = Field(default_factory=dict)
    targets: list[TargetStatus] = Field(default_factory=list)
    measurement: Measurement | None = Field(None, description="this round's measurement, taken once, read by plan")
    plan: Plan | None = None
    history: Annotated[list[RoundRecord], operator.add] = Field(default_factory=list)
    proposed_ids: list[str] = Field(default_factory=list, description="samples proposed this round, for review")
    stop_reason: StopReason | None = None
    stop_message: str = ""
    exported: dict[str, str] = Field(default_factory=dict, description="file kind -> path")


def checkpoint_serializer() -> object:
    """LangGraph's serializer, allowed to rebuild exactly the state's own models from a checkpoint."""
    from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer

    models = (CurationState, TargetStatus, Plan, RoundRecord, Measurement)
    allowed = [(m.__module__, m.__name__) for m in models]
    # Sessions checkpointed by 0.1.0 name the plan types under this module, where they were
    # defined then; it still exports them. Blocked, they would come back as None: a lost plan.
    allowed += [(__name__, m.__name__) for m in (TargetStatus, Plan, RoundRecord)]
    return JsonPlusSerializer(allowed_msgpack_modules=allowed)
