"""Rich views of a session's trace for `assay trace`: the summary by round, decision searches, lineage trees."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from assay.core.safe_text import visible_all
from assay.cli.text import cells
from assay.core.readable import shown, shown_pairs

SNIPPET = 400


def _table(title: str, columns: Iterable[str], right: Iterable[str] = ()) -> Table:
    table = Table(title=title, title_justify="left")
    right = set(right)
    for column in columns:
        table.add_column(column, justify="right" if column in right else "left", overflow="fold")
    return table


def _add(table: Table, *values: object) -> None:
    # Cells as Text: a plain string cell would be parsed as markup, and sample text may hold any.
    table.add_row(*cells(*values))


def _counts(pairs: dict[str, int]) -> str:
    return ", ".join(f"{k} {shown(v)}" for k, v in pairs.items())


def summary_view(data: dict[str, Any], directory: Path) -> Group:
    """The session at a glance: the rounds, samples by status and reason, review items, decisions, spend, events."""
    data = visible_all(data)  # every view draws Text (never markup) of visible text: model and data text is inert
    meta, spend = data["session"], data["spend"]
    title = f"session {meta.get('session_id', '?')} · {visible_all(str(directory))}" + (" · DRY RUN" if meta.get("dry_run") else "")
    rounds = _timeline(data["rounds"])
    statuses = _table("samples by status and reason", ("status", "reason", "count"), right=("count",))
    for row in data["samples"]:
        _add(statuses, row["status"], row["reason"] or "", str(row["count"]))
    review = _table("review items", ("status", "kind", "count"), right=("count",))
    for row in data["review"]:
        _add(review, row["status"], row["kind"], str(row["count"]))
    decisions = _table("decisions by agent", ("agent", "action", "count"), right=("count",))
    for row in data["decisions"]:
        _add(decisions, row["agent"], row["action"], str(row["count"]))
    calls = _table("LLM calls", ("agent", "model", "calls", "cached", "failed", "tokens", "cost (USD)", "mean ms"),
                   right=("calls", "cached", "failed", "tokens", "cost (USD)", "mean ms"))
    for row in data["llm_calls"]:
        tokens = (row["prompt_tokens"] or 0) + (row["completion_tokens"] or 0)
        mean = f"{row['mean_latency_ms']:.0f}" if row["mean_latency_ms"] is not None else "-"
        _add(calls, row["agent"], row["model"], str(row["calls"] or 0), str(row["cached"] or 0), str(row["failed"] or 0),
                      f"{tokens:,}", f"{row['cost_usd'] or 0:.4f}", mean)
    events = _table("latest events", ("time", "round", "kind", "message"))
    for row in data["events"][-20:]:
        _add(events, row["ts"][:19], "" if row["round"] is None else str(row["round"]), row["kind"], row["message"])
    tables = [p for p in (statuses, review, decisions, calls, events) if p.row_count]
    total = Text(f"spend: {spend['calls']} LLM calls, {spend['tokens']:,} tokens, ${spend['cost_usd']:.4f}")
    return Group(Text(title, style="bold"), rounds, *tables, total)


def _round_text(entry: dict[str, Any]) -> Text:
    """One round as a few short lines (readable at any terminal width)."""
    plan = entry["plan"] or {}
    text = Text(f"round {entry['round']}", style="bold")
    action = f"{plan['action']} ({plan.get('planner', '?')})" if plan else "ingest + screen"
    text.append(f" · {action}", style="bold")
    if plan and not plan.get("finished_at"):
        text.append(" · in progress", style="yellow")
    text.append(f" · {entry['llm']['calls']} LLM calls · ${entry['llm']['cost_usd']:.4f}\n")
    if plan.get("rationale"):
        text.append(f"  {plan['rationale']}\n")
    if plan.get("metrics"):
        text.append("  metrics: " + shown_pairs(plan["metrics"]) + "\n", style="dim")
    added = _counts(entry["added"]) or "nothing"
    text.append(f"  added: {added}" + (f" · review: {_counts(entry['review'])}" if entry["review"] else "") + "\n")
    decided = ", ".join(f"{d['agent']} {d['action']} {d['count']}" for d in entry["decisions"]) or "none"
    text.append(f"  decisions: {decided}")
    return text


def _timeline(entries: list[dict[str, Any]]) -> Group:
    return Group(Text("timeline", style="italic"), *(_round_text(e) for e in entries))


def decisions_view(data: dict[str, Any], *, round_entry: dict[str, Any] | None = None,
                   reason_counts: dict[str, int] | None = None) -> Group:
    """A decision search: the round it looks at, the samples that carry the reason, then the matching decisions."""
    data, round_entry, reason_counts = visible_all([data, round_entry, reason_counts])
    parts: list[RenderableType] = []
    if round_entry is not None:
        parts.append(_round_text(round_entry))
    if reason_counts is not None:
        parts.append(Text(f"samples with reason {data['filters'].get('reason')}: {_counts(reason_counts) or 'none'}"))
    shown, total = len(data["decisions"]), data["total"]
    where = ", ".join(f"{k}={v}" for k, v in data["filters"].items())
    count = f"{total:,}{'+' if data['total_capped'] else ''}"
    parts.append(Text(f"{count} decisions ({where}); showing {shown}", style="bold"))
    for d in data["decisions"]:
        line = Text(f"#{d['id']} ", style="dim")
        line.append(f"{d['ts'][:19]} round {d['round'] if d['round'] is not None else '-'} ")
        line.append(d["sample_id"] or "-", style="cyan")
        line.append(f" {d['agent']} → {d['action']}", style="green")
        if d["call_ids"]:
            line.append(f" [calls {','.join(map(str, d['call_ids']))}]", style="blue")
        if d["reason"]:
            line.append(f"\n    {d['reason']}")
        parts.append(line)
    if data["next_after"] is not None:
        parts.append(Text(f"more decisions match: raise --limit (now {shown})", style="yellow"))
    return Group(*parts)


def lineage_view(data: dict[str, Any]) -> Group:
    """The lineage tree, each sample with its messages, verdicts, review items, decisions and their LLM calls."""
    data = visible_all(data)
    nodes = {n["id"]: n for n in [*data["ancestors"], data["sample"], *data["descendants"]]}
    tree = Tree(Text("lineage", style="bold"))
    for root in data["tree"]:
        _add_node(tree, root, nodes)
    parts: list[RenderableType] = [tree]
    if data["missing_ancestors"]:
        parts.append(Text(f"parents not in this session: {', '.join(data['missing_ancestors'])}", style="yellow"))
    return Group(*parts)


def _add_node(parent: Tree, entry: dict[str, Any], nodes: dict[str, dict[str, Any]]) -> None:
    node = nodes[entry["id"]]
    # Text.append, not markup: sample text may contain square brackets.
    label = Text()
    label.append(node["id"], style="bold reverse" if entry["focus"] else "bold")
    label.append(f" op={node['op']} status={node['status']}" + (f" reason={node['reason']}" if node["reason"] else "")
                 + f" round={node['round'] if node['round'] is not None else '-'} source={node['source']}")
    branch = parent.add(label)
    for message in node["messages"]:
        content = message["content"]
        limit = SNIPPET if entry["focus"] else 80
        text = Text(f"{message['role']}: ", style="cyan")
        text.append(content[:limit] + ("…" if len(content) > limit else ""))
        branch.add(text)
    if node["scores"]:
        branch.add(Text("scores: " + ", ".join(f"{k}={v:g}" for k, v in node["scores"].items())))
    for j in node["judgements"]:
        issues = ", ".join(i.get("type", "?") for i in j["issues"]) or "no issues"
        score = f"{j['overall']:g}" if j["overall"] is not None else f"failed: {j['error']}"
        branch.add(Text(f"verdict ({j['source']}, round {j['round']}): {score}; {issues}", style="magenta"))
    for item in node["review_items"]:
        who = f" by {item['decided_by']}" if item["decided_by"] else ""
        branch.add(Text(f"review item {item['id']} ({item['kind']}, round {item['round']}): {item['status']}{who} — "
                        f"{item['summary']}", style="yellow"))
    calls = {c["id"]: c for c in node["llm_calls"]}
    cited: set[int] = set()
    for d in node["decisions"]:
        text = Text(f"{d['ts'][:19]} round {d['round'] if d['round'] is not None else '-'} ", style="dim")
        text.append(f"{d['agent']} → {d['action']}", style="green")
        if d["reason"]:
            text.append(f" ({d['reason']})")
        sub = branch.add(text)
        for call_id in d["call_ids"]:
            cited.add(call_id)
            sub.add(_call_text(calls.get(call_id), call_id))
    for call_id, call in calls.items():
        if call_id not in cited:
            branch.add(_call_text(call, call_id))
    for child in entry["children"]:
        _add_node(branch, child, nodes)


def _call_text(call: dict[str, Any] | None, call_id: int) -> Text:
    if call is None:
        return Text(f"↳ call {call_id} (did not name this sample)", style="dim")
    tokens = call["prompt_tokens"] + call["completion_tokens"]
    text = Text(f"↳ call {call['id']} {call['agent']} {call['prompt_version']} {call['model']} {call['outcome']} "
                f"{call['latency_ms']:.0f} ms {tokens} tokens ${call['cost_usd']:.5f}", style="blue")
    if call["error"]:
        text.append(f" error: {call['error']}", style="red")
    return text
