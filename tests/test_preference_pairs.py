"""Preference pairs from a scripted curation session: exact pairs per source, the filters, `assay export`."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from assay.cli.app import app
from assay.core.config import Targets
from assay.core.records import Message, Status, content_id
from assay.pipeline.deps import RunOptions
from assay.pipeline.preference.build import build_pairs
from assay.pipeline.preference.model import PairOptions
from assay.pipeline.preference.siblings import GENERATE
from assay.session.session import Session
from tests.curation_world import NOUNS, CurationWorld, _words
from tests.test_curation_graph import COOKING, ASTRONOMY, open_session, run_graph, write_pool

RICE = "How do I make rice fluffy?"
EXTRA = [{"instruction": "how do I make  rice fluffy?", "input": "", "output": "Cook it."}]  # same request, folded


class SiblingWorld(CurationWorld):
    """The curation world with distinct synthesized samples, about half of them judged 2 (WRONG)."""

    def _answer(self, request: Any, props: set[str]) -> tuple[str, Any]:
        kind, answer = super()._answer(request, props)
        key = json.dumps(request.messages)
        if kind == "instruction":
            answer["instruction"] += " Consider " + " and ".join(_words(key + "i", 10)) + "."
        if kind == "response":
            weak = _words(key, 1)[0] in NOUNS[:14]
            answer["response"] = "In short: " + " then ".join(_words(key + "r", 24)) + "." + (" WRONG" if weak else "")
        return kind, answer


def curated(tmp_path: Path, runtime: Any, size: int, world: CurationWorld | None = None,
            extra: list[dict[str, str]] = EXTRA) -> Session:
    pool = write_pool(tmp_path / "pool.jsonl")
    with pool.open("a", encoding="utf-8") as handle:
        handle.writelines(json.dumps(r) + "\n" for r in extra)
    session, _ = open_session(tmp_path, runtime, Targets(size=size, quality_floor=3.0, coverage=1.0), world=world)
    import asyncio

    asyncio.run(run_graph(session, RunOptions(inputs=[str(pool)], cluster_min=3)))
    return session


def rows(session: Session, **options: Any) -> list[dict[str, Any]]:
    return [p.row() for p in build_pairs(session.conn, PairOptions(**options)).pairs]


def test_repairs_give_exact_pairs_with_their_verdicts_and_decisions(tmp_path, runtime) -> None:
    session = curated(tmp_path, runtime, 19)
    conn = session.conn
    pairs = [r for r in rows(session) if r["source"] == "repair"]
    wrong = {q: a for q, a in COOKING + ASTRONOMY if "WRONG" in a}
    assert {r["prompt"][0]["content"]: r["rejected"][0]["content"] for r in pairs} == wrong
    for r in pairs:
        assert r["prompt"] == [{"role": "user", "content": r["prompt"][0]["content"]}]
        assert r["chosen"] == [{"role": "assistant", "content": r["rejected"][0]["content"].replace("WRONG", "FIXED")}]
        assert r["margin"] == 3.0  # the world scores FIXED 5, WRONG 2
        prov = r["provenance"]
        assert prov["orders_agree"] is True
        assert prov["rejected_id"] == content_id([Message(role="user", content=r["prompt"][0]["content"]),
                                                  Message(role="assistant", content=r["rejected"][0]["content"])])
        agents = [conn.execute("SELECT agent FROM llm_calls WHERE id = ?", (i,)).fetchone()[0]
                  for i in prov["pairwise_call_ids"]]
        assert agents == ["judge", "judge"]  # both orders
        actions = {tuple(conn.execute("SELECT sample_id, action FROM decisions WHERE id = ?", (i,)).fetchone())
                   for i in prov["decision_ids"]}
        assert actions == {(prov["rejected_id"], "rewrite_accepted"), (prov["chosen_id"], "repair_applied")}
        judged = {conn.execute("SELECT sample_id FROM judgements WHERE id = ?", (i,)).fetchone()[0]
                  for i in prov["verdict_ids"]}
        assert judged == {prov["chosen_id"], prov["rejected_id"]}
    session.close()


def test_judged_responses_pair_the_best_answer_to_a_folded_instruction(tmp_path, runtime) -> None:
    session = curated(tmp_path, runtime, 19)
    pairs = [r for r in rows(session) if r["source"] == "judged_response"]
    # Rice: the original answer (4) and "Cook it." (4) tie, so no pair; nothing else shares an instruction.
    assert pairs == []
    # Even at --min-margin 0 a pointwise tie is no preference: which side is "chosen" would be arbitrary
    # (it was picked by sample id), so the pair is dropped as `no_preference`, never written.
    everything = build_pairs(session.conn, PairOptions(min_margin=0.0))
    assert [p for p in everything.pairs if p.source == "judged_response"] == []
    assert everything.counts()["judged_response"]["dropped"] == {"no_preference": 1}
    session.close()


def test_min_margin_and_a_contaminated_chosen_side_drop_pairs_with_their_reasons(tmp_path, runtime) -> None:
    session = curated(tmp_path, runtime, 19)
    assert build_pairs(session.conn, PairOptions(min_margin=3.5)).counts()["repair"] == {
        "pairs": 0, "dropped": {"below_margin": 3}}
    chosen = rows(session)[0]["provenance"]["chosen_id"]
    session.store.set_status([chosen], Status.DROPPED, "contaminated:gsm8k:12")
    counts = build_pairs(session.conn).counts()["repair"]
    assert counts == {"pairs": 2, "dropped": {"chosen_contaminated": 1}}
    session.close()


def test_a_rewrite_whose_orders_disagree_is_no_pair(tmp_path, runtime) -> None:
    session = curated(tmp_path, runtime, 19, CurationWorld(low_forever=True))  # every pairwise verdict ties
    found = build_pairs(session.conn)
    assert [p for p in found.pairs if p.source == "repair"] == []
    ties = session.conn.execute("SELECT COUNT(*) FROM decisions WHERE action = 'rewrite_rejected'").fetchone()[0]
    assert ties >= 3 and found.counts()["repair"]["dropped"] == {"orders_disagree": ties}
    session.close()


def test_synthetic_siblings_pair_a_kept_candidate_with_a_judged_rejected_one(tmp_path, runtime) -> None:
    session = curated(tmp_path, runtime, 24, SiblingWorld())
    conn = session.conn
    pairs = [r for r in rows(session) if r["source"] == "synthetic_sibling"]
    rejected = conn.execute("SELECT DISTINCT sample_id FROM decisions WHERE action = 'synth_rejected'"
                            " AND reason LIKE 'low_quality:%'").fetchall()
    assert pairs and {r["provenance"]["rejected_id"] for r in pairs} <= {r[0] for r in rejected}
    for r in pairs:
        assert r["margin"] == 2.0  # kept at 4, rejected at 2
        assert r["prompt"][0]["content"].startswith(GENERATE.split("{")[0])
        good, bad = r["chosen"][0]["content"], r["rejected"][0]["content"]
        assert "WRONG" in bad and "WRONG" not in good
        instruction, response = bad.removeprefix("Instruction:\n").split("\n\nResponse:\n")
        # The rejected text was recovered from the trace exactly: it hashes to the rejected candidate's id.
        assert content_id([Message(role="user", content=instruction),
                           Message(role="assistant", content=response)]) == r["provenance"]["rejected_id"]
        chosen = session.samples.get([r["provenance"]["chosen_id"]])[0]
        assert chosen.op == "synth" and f"Instruction:\n{chosen.instruction}" in good
    session.close()


def test_export_command_writes_the_pairs_and_counts_them_by_source(tmp_path, runtime) -> None:
    session = curated(tmp_path, runtime, 19)
    expected = rows(session)
    directory = session.dir
    session.close()
    out = tmp_path / "pairs.jsonl"
    done = CliRunner().invoke(app, ["export", str(directory), "--preference-pairs", str(out), "--json"])
    assert done.exit_code == 0, done.output
    summary = json.loads(done.output)
    assert summary["written"] == len(expected) == summary["by_source"]["repair"]["pairs"] == 3
    assert [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()] == expected
    bad = CliRunner().invoke(app, ["export", str(directory), "--preference-pairs", str(out), "--pair-sources", "x"])
    assert bad.exit_code == 2 and "unknown or no pair sources" in bad.output


def test_pair_options_refuse_unknown_sources_and_negative_margins() -> None:
    with pytest.raises(ValueError, match="unknown"):
        PairOptions(sources=("repair", "nope"))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="min_margin"):
        PairOptions(min_margin=-1)


def test_the_run_report_counts_pairs_by_source(tmp_path, runtime) -> None:
    session = curated(tmp_path, runtime, 19)
    page = (session.dir / "report.html").read_text(encoding="utf-8")
    section = page[page.index('<h2 id="preference">'):page.index('<h2 id="cost">')]
    assert "3 kept" in section and "<tr><td>repair</td><td>3</td>" in section
    assert "<tr><td>synthetic_sibling</td><td>0</td>" in section and "<tr><td>judged_response</td><td>0</td>" in section
    session.close()


def test_verify_keeps_a_pointwise_pair_only_when_both_pairwise_orders_prefer_its_chosen_side(tmp_path, runtime) -> None:
    import asyncio

    from assay.agents.base import AgentContext
    from assay.pipeline.preference.verify import verify_pairs

    wrong_rice = {"instruction": RICE, "input": "", "output": "Just boil it hard for an hour. WRONG"}
    session = curated(tmp_path, runtime, 19, extra=[*EXTRA, wrong_rice])
    found = build_pairs(session.conn, PairOptions(min_margin=0.0, sources=("judged_response",)))
    # The repaired rice answer (FIXED, 5) beats "Cook it." and the pool's own answer (4 each), which tie.
    assert sorted((p.chosen, p.rejected, p.margin) for p in found.pairs) == sorted([
        ("Just boil it hard for an hour. FIXED", "Cook it.", 1.0),
        ("Just boil it hard for an hour. FIXED", dict(COOKING)[RICE], 1.0)])
    # The world's pairwise judge prefers FIXED in both orders, and ties when neither side has it.
    swapped = replace_chosen(found.pairs[0])
    tie = replace(swapped, rejected=dict(COOKING)[RICE], rejected_id="other")
    found.pairs += [swapped, tie]
    calls = session.conn.execute("SELECT COUNT(*) FROM llm_calls").fetchone()[0]
    checked = asyncio.run(verify_pairs(AgentContext.for_session(session, "judge"), found))
    assert [p.chosen for p in checked.pairs] == ["Just boil it hard for an hour. FIXED"] * 2
    assert all(p.orders_agree is True and len(p.pairwise_call_ids) == 2 for p in checked.pairs)
    assert checked.dropped[("judged_response", "pairwise_prefers_rejected")] == 1
    assert checked.dropped[("judged_response", "orders_disagree")] == 1
    assert session.conn.execute("SELECT COUNT(*) FROM llm_calls").fetchone()[0] == calls + 8  # both orders, 4 pairs
    session.close()


def replace_chosen(pair: Any) -> Any:
    """The pair the wrong way round."""
    return replace(pair, chosen=pair.rejected, rejected=pair.chosen, chosen_id=pair.rejected_id, rejected_id=pair.chosen_id)


@pytest.mark.parametrize("finished", [True, False])
def test_run_writes_the_pairs_when_it_finishes(monkeypatch, capsys, tmp_path, runtime, finished: bool) -> None:
    import sys

    from assay.cli import run as run_command
    from assay.cli.app import main

    session = curated(tmp_path, runtime, 19)
    expected, directory = rows(session), session.dir
    session.close()
    # The loop itself is tested above; here `assay run` hands its finished session to the export.
    monkeypatch.setattr(run_command, "start_run", lambda out, **_: run_command.RunOutcome(directory, finished=finished))
    out = tmp_path / "run_pairs.jsonl"
    monkeypatch.setattr(sys, "argv", ["assay", "run", str(tmp_path / "pool.jsonl"), "--out", str(tmp_path / "new"),
                                      "--dry-run", "--preference-pairs", str(out), "--min-margin", "0.5"])
    with pytest.raises(SystemExit) as exited:
        main()
    assert exited.value.code == 0
    if finished:
        assert [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()] == expected
    else:
        assert not out.exists()  # a run waiting for review has no final pairs yet
        # ... and the user, who asked for the file, is told why it is missing and how to write it later.
        assert f"assay export {directory} --preference-pairs {out}" in capsys.readouterr().err


def test_a_rejected_sibling_without_a_judge_score_is_dropped_not_given_a_margin(tmp_path, runtime) -> None:
    session = curated(tmp_path, runtime, 24, SiblingWorld())
    conn = session.conn
    with conn:  # as if the rejection had been recorded without its score
        conn.execute("UPDATE decisions SET scores = '{}' WHERE agent = 'synthesizer' AND action = 'synth_rejected'")
    built = build_pairs(conn, PairOptions())
    assert not [p for p in built.pairs if p.source == "synthetic_sibling"]
    assert built.dropped[("synthetic_sibling", "unscored")] > 0
    session.close()
