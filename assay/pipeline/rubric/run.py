"""Open a session and refine its judge's rubric: what `assay rubric refine` calls."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from assay.pipeline.rubric.record import RefineReport
from assay.pipeline.rubric.refine import RefineOptions, refine


def refine_session(directory: Path, runtime: Any, config: Any, options: RefineOptions) -> RefineReport:
    """Refine the rubric of the session in `directory`; `config` holds the settings given for this command only
    (a model, a budget), laid over the session's recipe. The editor's model is `[models] rubric_editor`, else
    the judge's."""
    from assay.agents.base import AgentContext
    from assay.core.errors import BudgetExhausted
    from assay.pipeline.plugins import judge_function
    from assay.session.session import Session

    session = Session.open(directory, runtime, config, create=False)
    try:
        judge_ctx = AgentContext.for_session(session, "judge")
        editor_ctx = AgentContext.for_session(session, "rubric_editor")
        judge = judge_function(session.config.plugins, code_criterion=session.config.judge.code_criterion)
        try:
            return asyncio.run(refine(session, judge_ctx, editor_ctx, judge, options))
        except BudgetExhausted as err:
            raise BudgetExhausted(
                f"{err}: refine stopped with nothing recorded and no fragment written; the calls it made are cached, "
                "so a rerun with a larger budget (--recipe FILE with [budget] max_calls, max_tokens or max_usd) "
                "pays for none of them twice") from None
    finally:
        session.close()
