"""The viewer's HTML pages: overview and timeline, sample browser, sample, diff, decisions, calls, synthetic vs real,
preference pairs, review."""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from assay.trace import query as trace_query, summary as trace_summary
from assay.core.errors import AssayError
from assay.ui import queries
from assay.ui.code_view import code_panel
from assay.ui.compare_view import seeds_against_synthetic
from assay.ui.cues_view import cue_panel
from assay.ui.params import int_param, path_id, route, sample_filter
from assay.ui.preference_view import pair_page, session_pairs
from assay.ui.review import apply_review
from assay.ui.review_order import ordered, priorities
from assay.ui.token_view import mask_view
from assay.ui.viewer import Viewer


def routes(viewer: Viewer) -> list[Route]:
    """The page routes, bound to one viewer."""
    conn = viewer.conn

    async def overview(request: Request) -> Response:
        summary = viewer.cached("summary", lambda: trace_summary.summary(conn))
        return viewer.render(request, "overview.html", nav="overview", summary=summary)

    async def samples(request: Request) -> Response:
        filters = sample_filter(request)
        page = queries.sample_page(conn, filters, after=int_param(request, "after"), before=int_param(request, "before"))
        facets = viewer.cached("facets", lambda: queries.facets(conn))
        return viewer.render(request, "samples.html", nav="samples", page=page, facets=facets, filters=filters)

    async def sample(request: Request) -> Response:
        sample_id = request.path_params["sample_id"]
        # A proposed sample (a pending rewrite) is not in the pool yet: its page is the review item.
        target = queries.link_target(conn, sample_id)
        if target is not None and target.startswith("/review/"):
            return RedirectResponse(target, status_code=303)
        detail = queries.sample_detail(conn, sample_id)
        node = detail["sample"]
        mask = mask_view(conn, node["id"], node["messages"], viewer.redactor.text)
        return viewer.render(request, "sample.html", nav="samples", detail=detail, node=node,
                             code=code_panel(node["messages"]), mask=mask,
                             cue_panel=cue_panel(conn, node["id"], node["messages"], viewer.redactor.text))

    async def diff(request: Request) -> Response:
        found = queries.rewrite_diff(conn, request.path_params["sample_id"], request.query_params.get("against") or None)
        return viewer.render(request, "diff.html", nav="samples", found=found)

    async def decisions(request: Request) -> Response:
        q = request.query_params
        filters = trace_query.DecisionFilter(
            round=int_param(request, "round"), agent=q.get("agent") or None, action=q.get("action") or None,
            reason=q.get("reason") or None, grep=q.get("q") or None, sample_id=q.get("sample") or None)
        found = trace_query.find_decisions(conn, filters, after=int_param(request, "after"))
        return viewer.render(request, "decisions.html", nav="decisions", found=found, params=dict(q))

    async def decision(request: Request) -> Response:
        found = trace_query.decision(conn, path_id(request, "decision_id", "decision"))
        return viewer.render(request, "decision.html", nav="decisions", decision=found)

    async def call(request: Request) -> Response:
        found = trace_query.llm_call(conn, path_id(request, "call_id", "LLM call"))
        return viewer.render(request, "call.html", nav="decisions", call=found)

    async def compare(request: Request) -> Response:
        # Lazy: computed on the first view, then kept until the session DB changes (see compare_view).
        comparison = await viewer.cached_in_thread("compare", lambda: seeds_against_synthetic(viewer.directory, viewer.runtime))
        return viewer.render(request, "compare.html", nav="compare", comparison=comparison)

    async def preference(request: Request) -> Response:
        # Lazy and cached like the comparison: `assay export`'s pairs, at its default filters.
        found = await viewer.cached_in_thread("preference", lambda: session_pairs(viewer.directory, viewer.runtime))
        page = pair_page(found, request.query_params.get("source") or None, int_param(request, "start") or 0)
        return viewer.render(request, "preference.html", nav="preference", found=found, page=page)

    async def review(request: Request) -> Response:
        ranked = viewer.cached("priority", lambda: priorities(conn))
        items, order = ordered(queries.review_items(conn), ranked, request.query_params.get("order"))
        return viewer.render(request, "review.html", nav="review", items=items, order=order, ranked=bool(ranked),
                             done=request.query_params.get("done"))

    async def review_item(request: Request) -> Response:
        item_id = path_id(request, "item_id", "review item")
        item = queries.review_item(conn, item_id)
        if item is None:
            raise AssayError(f"no review item {item_id} in this session")
        return viewer.render(request, "review_item.html", nav="review", item=item, done=request.query_params.get("done"))

    async def decide(request: Request) -> Response:
        # Parsed by hand: the form is two short fields, not worth a multipart dependency.
        form = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
        item_id = path_id(request, "item_id", "review item")
        verdict = form.get("verdict", "")
        if verdict not in ("approved", "rejected"):
            raise HTTPException(400, "verdict must be approved or rejected")
        apply_review(viewer, item_id, verdict, form.get("note") or None)
        back = "/review" if form.get("back") == "list" else f"/review/{item_id}"
        return RedirectResponse(f"{back}?done={verdict}", status_code=303)

    return [
        route("/", overview), route("/samples", samples), route("/samples/{sample_id}", sample),
        route("/samples/{sample_id}/diff", diff), route("/decisions", decisions),
        route("/decisions/{decision_id:int}", decision), route("/calls/{call_id:int}", call), route("/compare", compare),
        route("/preference", preference),
        route("/review", review), route("/review/{item_id:int}", review_item),
        route("/review/{item_id:int}", decide, methods=("POST",)),
    ]
