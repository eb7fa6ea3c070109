"""The code screen: find the code in every response, parse it, and (opt-in) run the Python.

Reason codes:
    code_syntax:<language>   a block does not parse; the detail gives the line in the response
                             and the parser's message
    code_runtime:python      (with `execute`) a self-contained Python block raised an uncaught
                             exception or failed an assert in the sandbox (code_run.py)

A sample with code gets the score `code_blocks` (how many blocks it holds). Code in a
language without a checker (Java, C++, JavaScript ...) counts as code and is never dropped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from assay.core.assessment import Assessment, drop
from assay.core.records import Sample
from assay.tools.code_blocks import CodeBlock, find_code, named_languages, parse_problem
from assay.tools.code_run import given_values, run_python
from assay.tools.code_syntax import CHECKERS

MAX_QUOTED = 80  # characters of the offending line quoted in a drop's detail


@dataclass(frozen=True)
class CodeConfig:
    """Which languages are checked, and whether (and how) Python runs."""

    languages: frozenset[str] | None = None  # None: every language with a checker
    execute: bool = False
    timeout: float = 5.0  # seconds per program
    memory_mb: int = 512

    def __post_init__(self) -> None:
        unknown = set(self.languages or ()) - set(CHECKERS)
        if unknown:
            raise ValueError(f"no syntax checker for {', '.join(sorted(unknown))}; known: {', '.join(CHECKERS)}")


class CodeScreen:
    """Batch tool: one Assessment per sample, dropping the first block that fails."""

    name = "code"

    def __init__(self, config: CodeConfig | None = None) -> None:
        self.config = config or CodeConfig()

    def __call__(self, batch: Sequence[Sample]) -> list[Assessment]:
        """One Assessment per sample, in order."""
        return [self.assess(sample) for sample in batch]

    def assess(self, sample: Sample) -> Assessment:
        """Check each assistant turn's code; the first problem found is the reason."""
        replies = [m.content for m in sample.messages if m.role == "assistant"]
        total = 0
        hints = named_languages(sample.instruction)
        for turn, reply in enumerate(replies, 1):
            blocks = find_code(reply, hints)
            total += len(blocks)
            where = "response" if turn == len(replies) else f"assistant turn {turn}"
            for block in blocks:
                verdict = self._block(block, reply, where, sample.instruction)
                if verdict is not None:
                    return drop(verdict.reason or "", verdict.detail, code_blocks=float(total))
        return Assessment(scores={"code_blocks": float(total)} if total else {})

    def _block(self, block: CodeBlock, reply: str, where: str, instruction: str) -> Assessment | None:
        language = block.language
        if language not in CHECKERS or (self.config.languages is not None and language not in self.config.languages):
            return None
        problem = parse_problem(language, block.code, block.dialect)
        if problem is not None:
            return drop(f"code_syntax:{language}", _detail(language, where, block, problem.line, problem.message, reply))
        if language == "python" and self.config.execute:
            result = run_python(block.code, timeout=self.config.timeout, memory_mb=self.config.memory_mb,
                                given=given_values(instruction))
            if result.failed:
                return drop("code_runtime:python", _detail("python", where, block, result.line, result.error or "", reply))
        return None


def _detail(language: str, where: str, block: CodeBlock, line: int | None, message: str, reply: str) -> str:
    tag = "" if block.tagged else (" (untagged)" if block.fenced else " (unfenced)")
    if line is None:
        return f"{language}{tag} code at {where} line {block.line}: {message}"
    at = block.line + line - 1
    lines = reply.splitlines()
    text = lines[at - 1].strip() if 0 < at <= len(lines) else ""
    quoted = f" `{text[:MAX_QUOTED]}{'…' if len(text) > MAX_QUOTED else ''}`" if text else ""
    return f"{language}{tag} code, {where} line {at}{quoted}: {message}"
