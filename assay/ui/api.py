"""The viewer's JSON API: the same reads as the pages, and review decisions.

Every answer passes through the session's redactor, like the pages.
"""

from __future__ import annotations

import json
from dataclasses import asdict, is_dataclass
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from assay.trace import query as trace_query, summary as trace_summary
from assay.core.errors import AssayError
from assay.trace.redaction import redacted
from assay.ui import queries
from assay.ui.params import int_param, path_id, route, sample_filter
from assay.ui.review import apply_review
from assay.ui.viewer import TextJSONResponse, Viewer


def _plain(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return _plain(asdict(value))
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_plain(v) for v in value]
    return value


def routes(viewer: Viewer) -> list[Route]:
    """The /api routes, bound to one viewer."""
    conn = viewer.conn

    def answer(data: Any, status: int = 200) -> JSONResponse:
        return TextJSONResponse(redacted(_plain(data), viewer.redactor), status_code=status)

    async def summary(request: Request) -> Response:
        return answer(viewer.cached("summary", lambda: trace_summary.summary(conn)))

    async def samples(request: Request) -> Response:
        page = queries.sample_page(conn, sample_filter(request), after=int_param(request, "after"),
                                   before=int_param(request, "before"),
                                   limit=int_param(request, "limit") or queries.PAGE_SIZE)
        return answer(page)

    async def facets(request: Request) -> Response:
        return answer(viewer.cached("facets", lambda: queries.facets(conn)))

    async def sample(request: Request) -> Response:
        return answer(queries.sample_detail(conn, request.path_params["sample_id"]))

    async def diff(request: Request) -> Response:
        return answer(queries.rewrite_diff(conn, request.path_params["sample_id"], request.query_params.get("against")))

    async def decisions(request: Request) -> Response:
        q = request.query_params
        filters = trace_query.DecisionFilter(
            round=int_param(request, "round"), agent=q.get("agent") or None, action=q.get("action") or None,
            reason=q.get("reason") or None, grep=q.get("q") or None, sample_id=q.get("sample") or None)
        return answer(trace_query.find_decisions(conn, filters, after=int_param(request, "after"),
                                                 limit=min(int_param(request, "limit") or 50, 500)))

    async def decision(request: Request) -> Response:
        return answer(trace_query.decision(conn, path_id(request, "decision_id", "decision")))

    async def call(request: Request) -> Response:
        return answer(trace_query.llm_call(conn, path_id(request, "call_id", "LLM call")))

    async def review(request: Request) -> Response:
        return answer({"items": queries.review_items(conn, status=request.query_params.get("status") or None)})

    async def review_item(request: Request) -> Response:
        item_id = path_id(request, "item_id", "review item")
        item = queries.review_item(conn, item_id)
        if item is None:
            raise AssayError(f"no review item {item_id} in this session")
        return answer(item)

    async def decide(request: Request) -> Response:
        try:
            body = json.loads(await request.body() or b"{}")
        except json.JSONDecodeError:
            raise HTTPException(400, "send a JSON object: {\"verdict\": \"approved\" | \"rejected\", \"note\": ...}") from None
        if not isinstance(body, dict):
            raise HTTPException(400, "send a JSON object")
        item_id = path_id(request, "item_id", "review item")
        note = body.get("note")
        pending = apply_review(viewer, item_id, str(body.get("verdict", "")), str(note) if note else None)
        return answer({"item": queries.review_item(conn, item_id), "pending": pending})

    return [
        route("/api/summary", summary), route("/api/samples", samples), route("/api/facets", facets),
        route("/api/samples/{sample_id}", sample), route("/api/samples/{sample_id}/diff", diff),
        route("/api/decisions", decisions), route("/api/decisions/{decision_id:int}", decision),
        route("/api/calls/{call_id:int}", call), route("/api/review", review),
        route("/api/review/{item_id:int}", review_item), route("/api/review/{item_id:int}", decide, methods=("POST",)),
    ]
