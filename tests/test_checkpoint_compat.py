"""A session checkpointed before the layered packages resumes with its plan.

Version 0.1.0 defined the plan types in assay.graphs.state, and LangGraph checkpoints each
state field (channel) on its own, under its class's module path. A name the serializer does not
allow comes back as None: the resumed session would lose its plan, targets and history."""

from __future__ import annotations

import pytest

from assay.core.plan import Plan, RoundRecord, TargetStatus
from assay.graphs.state import checkpoint_serializer

VALUES = {
    "plan": Plan(action="repair", rationale="quality below target", sample_ids=["a", "b"]),
    "targets": [TargetStatus(name="size", target=10, achieved=4, met=False)],
    "history": [RoundRecord(round=1, action="expand", rationale="small", metrics={"size": 4.0})],
}


@pytest.mark.parametrize("channel", VALUES)
def test_channel_values_written_before_the_move_rebuild_the_same_models(channel, monkeypatch):
    serde = checkpoint_serializer()
    with monkeypatch.context() as old_layout:  # the classes where 0.1.0 defined them
        for model in (Plan, RoundRecord, TargetStatus):
            old_layout.setattr(model, "__module__", "assay.graphs.state")
        written = serde.dumps_typed(VALUES[channel])
    assert b"assay.graphs.state" in written[1]

    assert serde.loads_typed(written) == VALUES[channel]
