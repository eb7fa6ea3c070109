"""Bias-cue detection over a session or a scored file: gather, test (tools/bias_cue_detect.py), store.

A session's run is stored (session/bias_cues.py) with one trace event, so the repair and the
report read the same findings; a file's run is returned only (there is no session to keep it in).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assay.core.errors import AssayError
from assay.core.field_map import NO_MAPPING, FieldMap
from assay.pipeline.cues.gather import CueData, Outcome, from_file, from_session
from assay.session.bias_cues import CueFinding, DetectionRun, record_findings

MIN_COUNT = 20  # a candidate needs at least this many carriers (and non-carriers), whatever the share


@dataclass(frozen=True)
class DetectOptions:
    """What `assay cues detect` (and `assay run` with `[cues]`) asks of detection."""

    outcome: Outcome = "score"
    alpha: float = 0.05
    min_share: float = 0.01
    min_count: int = MIN_COUNT
    permutations: int = 1000
    seed: int = 0


@dataclass
class DetectReport:
    """The findings (every tested candidate, rank 1 first), where they came from, and notes."""

    source: str
    options: DetectOptions
    findings: list[CueFinding]
    n: int
    left_out: int
    run_id: int | None = None
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def significant(self) -> list[CueFinding]:
        """The findings within alpha: cues associated with the outcome beyond cluster and length."""
        return [f for f in self.findings if f.adjusted_p <= self.options.alpha]

    def as_dict(self) -> dict[str, Any]:
        """For --json: the run and every significant cue (the count of all tested ones)."""
        return {"source": self.source, "outcome": self.options.outcome, "n": self.n, "left_out": self.left_out,
                "alpha": self.options.alpha, "permutations": self.options.permutations, "seed": self.options.seed,
                "method": self.findings[0].method if self.findings else "", "tested": len(self.findings),
                "run_id": self.run_id, "notes": self.notes, "seconds": round(self.seconds, 3),
                "cues": [{"kind": f.cue.kind, "text": f.cue.text, "pattern": f.cue.pattern, "min_words": f.cue.min_words,
                          "prevalence": f.prevalence, "carriers": f.carriers, "effect": f.effect, "p": f.p,
                          "adjusted_p": f.adjusted_p} for f in self.significant]}


def _run(data: CueData, source: str, options: DetectOptions) -> DetectReport:
    from assay.tools.bias_cue_detect import detect

    started = time.perf_counter()
    notes = []
    if len(data.texts) < 2 * options.min_count:
        raise AssayError(f"{source}: {len(data.texts)} responses with an outcome; detection needs at least "
                         f"{2 * options.min_count} (a cue needs {options.min_count} carriers and as many without)")
    if len(set(data.outcome)) < 2:
        raise AssayError(f"{source}: every response has the same outcome ({data.outcome[0]}): nothing to predict")
    if not data.has_clusters:
        notes.append("no clusters (score or run with embeddings to get them): controlled for length only")
    if data.left_out:
        notes.append(f"{data.left_out} samples have no {options.outcome} outcome: left out")
    result = detect(data.texts, data.outcome, data.clusters if data.has_clusters else None,
                    min_share=options.min_share, min_count=options.min_count, permutations=options.permutations,
                    seed=options.seed)
    findings = [CueFinding(cue=t.cue, outcome=options.outcome, effect=t.effect, p=t.p, adjusted_p=t.adjusted_p,
                           prevalence=t.prevalence, n=t.n, carriers=t.carriers, alpha=options.alpha,
                           method=result.method) for t in result.tests]
    return DetectReport(source, options, findings, len(data.texts), data.left_out, notes=notes,
                        seconds=time.perf_counter() - started)


def detect_session(session: Any, options: DetectOptions) -> DetectReport:
    """Detect over a session's samples, store the run and trace it."""
    report = _run(from_session(session, options.outcome), str(session.dir), options)
    run = DetectionRun(outcome=options.outcome, n=report.n, alpha=options.alpha,
                       method=report.findings[0].method if report.findings else "", permutations=options.permutations,
                       seed=options.seed, source="session")
    with session.conn:
        report.run_id = record_findings(session.conn, session.runtime.clock, run, report.findings)
        session.trace.event("cues", f"bias-cue detection: {len(report.significant)} of {len(report.findings)} "
                            f"candidate cues associated with the {options.outcome} beyond cluster and length",
                            {"run_id": report.run_id, "n": report.n, "alpha": options.alpha,
                             "cues": [f.cue.key() for f in report.significant]})
    return report


def detect_file(path: Path, options: DetectOptions, fields: FieldMap = NO_MAPPING) -> DetectReport:
    """Detect over a scored file's records (not stored)."""
    return _run(from_file(path, options.outcome, fields), str(path), options)


def detect_path(path: Path, runtime: Any, config: Any, overrides: dict[str, Any],
                fields: FieldMap = NO_MAPPING) -> DetectReport:
    """`assay cues detect PATH`: a session folder (stored) or a scored file. Settings not in `overrides`
    come from the `[cues]` section: the session's recipe, or `config` for a file."""
    from assay.session.session import Session, is_session

    def options(cues: Any) -> DetectOptions:
        given = {k: v for k, v in overrides.items() if v is not None}
        return DetectOptions(**{"outcome": cues.outcome, "alpha": cues.alpha, "min_share": cues.min_support, **given})

    if path.is_dir():
        if not is_session(path):
            raise AssayError(f"{path}: not an assay session and not a file; pass a session folder or a scored file")
        session = Session.open(path, runtime, config, create=False)
        try:
            return detect_session(session, options(session.config.cues))
        finally:
            session.close()
    return detect_file(path, options(config.cues), fields)
