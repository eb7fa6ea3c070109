"""`assay models check`: one structured request through the full gateway path."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, Field

from assay.core.config import Config
from assay.llm.gateway import LLMResult
from assay.session.session import Runtime, Session

CHECK_PROMPT_VERSION = "model-check/1"
CHECK_MESSAGES = [
    {"role": "system", "content": "You are a careful assistant that answers in JSON."},
    {"role": "user", "content": "What is 17 + 25? Give the sum and a one-sentence explanation."},
]


class ArithmeticAnswer(BaseModel):
    """What the check asks the model for."""

    answer: int = Field(description="the sum as an integer")
    explanation: str = Field(description="one sentence")


@dataclass(frozen=True)
class ModelCheckOutcome:
    """What came back, and how long it took."""

    model: str
    dry_run: bool
    seconds: float
    result: LLMResult[ArithmeticAnswer]
    correct: bool


async def run_model_check(config: Config, runtime: Runtime, session_dir: Path | None) -> ModelCheckOutcome:
    """Ask the configured model one structured question; traced in `session_dir` or a scratch DB."""
    if session_dir is not None:
        session = Session.open(session_dir, runtime, config, create=True)
        config = session.config  # the session's recipe, with this command's own settings laid over it
    else:
        import tempfile

        session = Session(Path(tempfile.mkdtemp(prefix="assay-check-")), runtime, config)
        session.set_meta("session_id", runtime.new_id())
    model = session.model_for("judge")
    started = time.perf_counter()
    result = await session.gateway.complete(
        agent="model-check", model=model, messages=CHECK_MESSAGES, output_type=ArithmeticAnswer,
        prompt_version=CHECK_PROMPT_VERSION, params={"temperature": config.llm.temperature, "max_tokens": 256},
    )
    seconds = time.perf_counter() - started
    correct = result.value is not None and result.value.answer == 42
    session.close()
    return ModelCheckOutcome(model, config.dry_run, seconds, result, correct)
