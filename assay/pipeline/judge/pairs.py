"""`assay judge --pairwise`: reading pair records, and turning pair verdicts into output rows.

A pair record holds one instruction and two responses: LLMBar's (input, output_1, output_2)
or (instruction, response_a, response_b), where an Alpaca-style `input` is appended to the
instruction. Bad records stop the run with the file, line and field.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assay.core.errors import InputError
from assay.core.readers import Invalid, raw_records, require_file
from assay.core.records import Message, Sample
from assay.pipeline.screen.scored_output import ASSAY_KEY
from assay.trace.log import Decision

PAIR_FIELDS = (("input", "output_1", "output_2"), ("instruction", "response_a", "response_b"))


@dataclass(frozen=True)
class Pair:
    """One pairwise record: where it was read, the instruction, the two responses."""

    line: int
    record: dict[str, Any]
    instruction: str
    response_a: str
    response_b: str

    @property
    def ids(self) -> tuple[str, str]:
        """The content ids the two candidate samples would have."""
        a, b = (Sample.create([Message(role="user", content=self.instruction), Message(role="assistant", content=r)]).id
                for r in (self.response_a, self.response_b))
        return a, b


def read_pairs(path: Path, *, limit: int | None = None, max_record_bytes: int) -> list[Pair]:
    """The pair records of a file (JSONL, JSON array or Parquet), the first `limit` only if given."""
    require_file(path)
    unit, items = raw_records(path, max_record_bytes=max_record_bytes)
    pairs: list[Pair] = []
    for item in items:
        if limit is not None and len(pairs) >= limit:
            break
        if isinstance(item, Invalid):
            raise item.error
        line, record, _ = item
        if not isinstance(record, dict):
            raise InputError(path, line, f"expected a JSON object, got {type(record).__name__}", unit=unit)
        names = next((n for n in PAIR_FIELDS if n[1] in record or n[2] in record), None)
        if names is None:
            found = ", ".join(sorted(record)) or "none"
            raise InputError(path, line, f"a pair needs input/output_1/output_2 or instruction/response_a/response_b; "
                                         f"found keys: {found}", field="(record)", unit=unit)
        for name in names:
            if not isinstance(record.get(name), str):
                problem = "missing" if name not in record else f"must be a string, got {type(record[name]).__name__}"
                raise InputError(path, line, problem, field=name, unit=unit)
        instruction = record[names[0]]
        if names[0] == "instruction" and isinstance(record.get("input"), str) and record["input"].strip():
            instruction = f"{instruction}\n\n{record['input']}"  # Alpaca-style context, as assay reads Alpaca
        pairs.append(Pair(line, record, instruction, record[names[1]], record[names[2]]))
    if not pairs:
        raise InputError(path, None, "file holds no records")
    return pairs


def pairwise_credit(label: str | int, winner: str) -> float:
    """Agreement with a 1/2 label: 1 when the labelled response wins, 0.5 for a tie, else 0."""
    if winner == "tie":
        return 0.5
    return float({"a": "1", "b": "2"}[winner] == str(label))


def pairwise_outcome(pairs: Sequence[Pair], results: Sequence[Any], stopped: str | None,
                     ) -> tuple[list[dict[str, Any]], list[Decision], dict[str, Any]]:
    """Output rows (each record plus `_assay`), one decision per judged pair, and the summary."""
    rows, decisions = [], []
    for pair, result in zip(pairs, results, strict=True):
        id_a, id_b = pair.ids
        verdict = error = None
        if result is None:
            error = f"not judged: {stopped}"
        elif not result.ok:
            error = result.error
            decisions.append(Decision(id_a, "judge", "pairwise_failed", f"against {id_b}: {error}", {}, list(result.call_ids)))
        else:
            verdict = {"winner": result.winner,
                       "first_order": {"winner": result.first_order.winner, "rationale": result.first_order.rationale},
                       "second_order": {"winner": result.second_order_winner, "rationale": result.second_order.rationale}}
            decisions.append(Decision(id_a, "judge", "pairwise_judged", f"winner {result.winner} (a = {id_a}, b = {id_b})",
                                      {}, list(result.call_ids)))
        rows.append({**{k: v for k, v in pair.record.items() if k != ASSAY_KEY},
                     ASSAY_KEY: {"ids": [id_a, id_b], "pairwise": verdict, "error": error}})
    judged = [(p, r) for p, r in zip(pairs, results, strict=True) if r is not None and r.ok]
    labelled = [(str(p.record.get("label")), r.winner) for p, r in judged if str(p.record.get("label")) in ("1", "2")]
    summary = {
        "mode": "pairwise", "total": len(pairs), "judged": len(judged),
        "failed": sum(r is not None and not r.ok for r in results), "not_reached": sum(r is None for r in results),
        "stopped": stopped, "call_ids": [i for r in results if r is not None for i in r.call_ids],
        "winners": dict(Counter(r.winner for _, r in judged)), "labelled": len(labelled),
        "label_accuracy": sum(pairwise_credit(*x) for x in labelled) / len(labelled) if labelled else None,
        "errors": dict(Counter((r.error or "")[:60] for r in results if r is not None and not r.ok).most_common(5)),
    }
    return rows, decisions, summary
