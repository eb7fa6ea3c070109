"""The viewer's "Bias cues" pages: the latest detection's cues, the samples carrying one, and a sample's panel.

The numbers are the report's (`assay.pipeline.repair.cue_summary`, shared by both): each tested
cue with its prevalence at detection and in the pool now, its effect and adjusted p, whether it
was reported (significant), and the repair attempts made on it. Which samples carry a cue is not
stored: it is decided by `Cue.present`, the matcher detection and repair use, over the session's
samples in a worker thread, and kept until the session DB changes (`Viewer.cached_in_thread`).
A sample's spans are marked the way `token_view` shades masked tokens: the markup is built from
character offsets and every piece of sample text in it is escaped on its own.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from assay.core.bias_cue import Cue
from assay.core.errors import AssayError
from assay.pipeline.repair.cue_summary import Attempt, attempts, carriers, cue_summary, finding, repair_counts
from assay.session.bias_cues import latest_findings, latest_run_id
from assay.session.session import Session
from assay.trace.view import has_table
from assay.ui.params import int_param, route
from assay.ui.marks import wrapped
from assay.ui.queries import link_target
from assay.ui.viewer import Viewer

PAGE = 50
EXCERPT = 60  # characters shown either side of a cue's first span in the list


def routes(viewer: Viewer) -> list[Route]:
    """The cue pages, bound to one viewer."""
    conn = viewer.conn

    def in_thread(compute: Callable[[Session], Any]) -> Callable[[], Any]:
        # The worker thread opens its own read-only session: the viewer's connection is not thread-safe.
        def run() -> Any:
            session = Session.open_read_only(viewer.directory, viewer.runtime)
            try:
                return compute(session)
            finally:
                session.close()
        return run

    async def cues(request: Request) -> Response:
        summary = await viewer.cached_in_thread("cues", in_thread(lambda s: cue_summary(s, every=True)))
        ran = has_table(conn, "bias_cue_runs") and latest_run_id(conn) is not None
        counts = repair_counts(conn) if summary else {}
        return viewer.render(request, "cues.html", nav="cues", summary=summary, ran=ran, counts=counts)

    async def cue_samples(request: Request) -> Response:
        rank, run = request.path_params["rank"], int_param(request, "run")
        found = finding(conn, rank, run)
        if found is None:
            raise AssayError(f"no cue {rank} in {'detection run ' + str(run) if run else 'the latest detection'}"
                             " (a newer detection replaces the list: see /cues)")
        carrying = await viewer.cached_in_thread(f"cue:{found.run_id}:{rank}", in_thread(lambda s: carriers(s, found.cue)))
        status = request.query_params.get("status") or None
        ids = [i for i, s in carrying if status is None or s == status]
        start = max(0, int_param(request, "start") or 0)
        rows = [_row(conn, i, found.cue, viewer.redactor.text) for i in ids[start:start + PAGE]]
        return viewer.render(request, "cue_samples.html", nav="cues", finding=found, rank=rank, rows=rows,
                             statuses=Counter(s for _, s in carrying), chosen=status, total=len(ids),
                             start=start, page=PAGE, counts=repair_counts(conn).get(found.cue.key()))

    return [route("/cues", cues), route("/cues/{rank:int}", cue_samples)]


def _row(conn: sqlite3.Connection, sample_id: str, cue: Cue, redact: Callable[[str], str]) -> dict[str, Any]:
    """One listed sample: its status, round, instruction and the response around the cue's first span."""
    row = conn.execute("SELECT id, status, reason, round, messages FROM samples WHERE id = ?", (sample_id,)).fetchone()
    messages = json.loads(row["messages"])
    turn = _response_turn(messages)
    response = str(messages[turn]["content"]) if turn is not None else ""
    instruction = next((str(m["content"]) for m in messages if m["role"] == "user"), "")
    spans = cue.spans(response)
    if spans and redact(response) == response:
        a, b = spans[0]
        lo, hi = max(0, a - EXCERPT), min(len(response), b + EXCERPT)
        shown = Markup(("…" if lo else "") + str(marked(response[lo:hi], [(a - lo, b - lo)], cue.text))
                       + ("…" if hi < len(response) else ""))
    else:  # a length cue has no span; a response holding a secret is shown redacted, unmarked
        shown = redact(response[:2 * EXCERPT]) + ("…" if len(response) > 2 * EXCERPT else "")
    return {"id": row["id"], "status": row["status"], "reason": row["reason"], "round": row["round"],
            "instruction": instruction[:160] + ("…" if len(instruction) > 160 else ""), "excerpt": shown,
            "spans": len(spans)}


def _response_turn(messages: Sequence[dict[str, Any]]) -> int | None:
    """The index of the last assistant turn (what `Sample.response` is, and what cues are matched in)."""
    return next((i for i in range(len(messages) - 1, -1, -1) if messages[i].get("role") == "assistant"), None)


@dataclass(frozen=True)
class CuePanel:
    """What the sample page shows: the reported cues the response carries, it marked, and the repair attempts."""

    carried: list[dict[str, Any]]
    reported: int  # reported cues in the latest detection
    turn: int | None  # the response's message index
    response: Markup | None  # the response with the cues' spans marked; None when shown unmarked
    unmarked: bool  # the redactor changed the response: shown plain, offsets no longer hold
    attempts: list[dict[str, Any]]


def cue_panel(conn: sqlite3.Connection, sample_id: str, messages: Sequence[dict[str, Any]],
              redact: Callable[[str], str]) -> CuePanel | None:
    """The sample's cues and repair attempts, or None when the session never detected cues and never repaired them."""
    latest = latest_findings(conn) if has_table(conn, "bias_cue_findings") else []
    reported = [(rank, f) for rank, f in enumerate(latest, start=1) if f.significant]
    tried = [_attempt_view(conn, a) for a in attempts(conn, sample_id)]
    ran = has_table(conn, "bias_cue_runs") and latest_run_id(conn) is not None
    if not ran and not tried:
        return None
    turn = _response_turn(messages)
    response = str(messages[turn].get("content") or "") if turn is not None else ""
    carried: list[dict[str, Any]] = []
    spans: list[tuple[int, int, str]] = []
    for rank, f in reported:
        if not f.cue.present(response):
            continue
        found = f.cue.spans(response)
        spans += [(a, b, f.cue.text) for a, b in found]
        carried.append({"rank": rank, "kind": f.cue.kind, "text": f.cue.text, "spans": len(found),
                        "effect": f.effect, "adjusted_p": f.adjusted_p, "min_words": f.cue.min_words,
                        "words": len(response.split())})
    unmarked = bool(spans) and redact(response) != response
    shown = marked_many(response, spans) if spans and not unmarked else None
    return CuePanel(carried, len(reported), turn, shown, unmarked, tried)


def _attempt_view(conn: sqlite3.Connection, a: Attempt) -> dict[str, Any]:
    """An attempt with where its rewrite can be seen: the diff once in the pool, the review item while it waits."""
    link = None
    if a.kept and a.rewrite:
        target = link_target(conn, a.rewrite)
        link = f"/samples/{a.rewrite}/diff?against={a.sample_id}" if target == f"/samples/{a.rewrite}" else target
    return {"decision_id": a.decision_id, "round": a.round, "kept": a.kept, "reason": a.reason, "rewrite": a.rewrite,
            "cues": list(a.cues), "link": link,
            "numbers": {k: v for k, v in a.numbers.items() if k in ("cosine", "claims_kept", "judge", "cues_left", "error")}}


def marked(content: str, spans: Sequence[tuple[int, int]], title: str) -> Markup:
    """The content as markup with each span in a `<mark class="cue">` (see `marked_many`)."""
    return marked_many(content, [(a, b, title) for a, b in spans])


def marked_many(content: str, spans: Sequence[tuple[int, int, str]]) -> Markup:
    """The content as markup: each span's characters in `<mark class="cue" title="cue: …">`, every other
    character as escaped text. Overlapping spans (an exclamation opener inside a stock opener) become
    one mark naming both; spans outside the content are clipped, so the text shown is always exactly the content."""
    merged: list[tuple[int, int, list[str]]] = []
    for start, end, title in sorted(spans):
        start, end = max(start, 0), min(end, len(content))
        if start >= end:
            continue
        if merged and start < merged[-1][1]:
            last = merged[-1]
            merged[-1] = (last[0], max(last[1], end), last[2] + ([title] if title not in last[2] else []))
        else:
            merged.append((start, end, [title]))
    return wrapped(content, ((start, end, "mark", "cue", "cue: " + "; ".join(titles)) for start, end, titles in merged))
