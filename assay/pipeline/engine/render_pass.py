"""Pass 3: each batch's scored records, in input order and the user's format, as an output chunk.

A chunk is the batch's share of the output file, encoded as the output's container encodes it
(JSONL lines; JSON array elements, indented as `json.dump(rows, indent=2)` indents them; a
Parquet table), so the final file is the chunks joined (output.py). The rows are exactly those
of scored_output.scored_records: a repeated record carries its original's verdict, marked as
its duplicate.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assay.core.records import FormatName
from assay.pipeline.engine.parts import Parts

PART = "out"
SUFFIX = {"jsonl": ".jsonl", "json": ".json", "parquet": ".parquet"}


@dataclass(frozen=True)
class RenderJob:
    """One batch to render; `originals` holds the verdict row of each id this batch repeats from an earlier batch."""

    index: int
    format: FormatName
    container: str
    originals: dict[str, dict[str, Any]]
    folder: Path
    fingerprint: str


def _outcome(row: dict[str, Any]) -> Any:
    """A verdict part's row as the Assessment scored_output.scored_record takes."""
    from assay.core.assessment import Assessment

    return Assessment(bool(row["keep"]), row["reason"], row["detail"], json.loads(row["scores"]))


def render_batch(job: RenderJob) -> dict[str, Any]:
    """Write the batch's output chunk; returns how many records it holds."""
    from assay.core.records import Sample
    from assay.core.writers import atomic_path, atomic_text
    from assay.pipeline.engine.screen_pass import PART as SCREEN_PART
    from assay.pipeline.engine.write_pass import PART as VERDICT_PART
    from assay.pipeline.screen.scored_output import scored_record

    parts = Parts(job.folder, job.fingerprint)
    screen = parts.read_table(SCREEN_PART, job.index, columns=["id", "repeat", "sample"]).to_pydict()
    verdicts = {r["id"]: r for r in parts.read_table(VERDICT_PART, job.index).to_pylist()}
    rows = []
    for sample_id, repeat, text in zip(screen["id"], screen["repeat"], screen["sample"], strict=True):
        verdict = verdicts[sample_id] if sample_id in verdicts else job.originals[sample_id]
        # No embeddings on this engine, so no cluster.
        rows.append(scored_record(Sample.model_validate_json(text), job.format, _outcome(verdict), verdict["dropped_by"],
                                  None, json.loads(verdict["injection"]), repeat=repeat))
    target = parts.path(PART, job.index, SUFFIX[job.container])
    if job.container == "jsonl":
        with atomic_text(target) as handle:
            handle.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    elif job.container == "json":
        with atomic_text(target) as handle:  # elements of a top-level array: one level deeper
            handle.write(",\n".join("  " + json.dumps(row, ensure_ascii=False, indent=2).replace("\n", "\n  ")
                                    for row in rows))
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        from assay.core.writers import typed_assay_column

        columns = list(dict.fromkeys(key for row in rows for key in row))
        table = typed_assay_column(pa.Table.from_pylist([{key: row.get(key) for key in columns} for row in rows]))
        with atomic_path(target) as tmp:
            pq.write_table(table, tmp)
    return {"index": job.index, "rows": len(rows)}
