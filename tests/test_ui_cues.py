"""The viewer's "Bias cues" pages, served by the real server (uvicorn on a free port) over a real session:
a real detection run over judged samples (the judge's verdicts recorded as the biased judge of
tests/cue_world.py gives them), then a real cue-repair round with the scripted rewriter, pairwise
judge and claim check (real embedder cosine). The cue list, the filter to a cue's carriers, the
sample panel's marked span and repair attempts, and the empty state."""

from __future__ import annotations

import html
import re
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from assay.core.config import Config
from assay.core.recipe_cues import CueSettings
from assay.core.records import Message, Origin, Sample, Status
from assay.pipeline.cues.detect import DetectOptions, detect_session
from assay.pipeline.repair.apply import apply_round
from assay.pipeline.repair.cues import run_cue_repairs, session_agents
from assay.session.bias_cues import latest_findings
from assay.session.embeddings import embedder_for
from assay.session.judgements import Judgement, record_judgements
from assay.session.session import Session
from assay.testing.scripted import ScriptedTransport, scripted_gateway
from assay.ui import cues_view
from assay.ui.cues_view import marked_many
from tests.conftest import fixed_runtime
from tests.cue_synth import make
from tests.cue_world import ANSWERS, CUE_TEXT, QUESTIONS, CueWorld, with_cue
from tests.test_report import Checker
from tests.ui_server import serve_viewer

N = 100  # judged samples (each is embedded once the kept rewrite is applied: keep it small)
PHRASE = "Certainly! Here is a detailed answer"  # how detection names the planted opener (a 6-word phrase)
REPAIRED = ["egg", "pasta", "rice", "bread"]  # kept; judge_prefers_original; cue_kept; low_cosine (tests/cue_world.py)


@contextmanager
def served(directory: Path) -> Iterator[str]:
    runtime = fixed_runtime({"ASSAY_HOME": str(directory.parent / "home")})
    with serve_viewer(directory, runtime, reviewer="tester") as (url, _):
        yield url


def get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=60) as answer:
        assert answer.status == 200
        page = answer.read().decode("utf-8")
    checker = Checker()
    checker.feed(page)
    checker.close()
    assert checker.errors == [] and checker.stack == []  # well-formed, every tag closed
    return page


def cells(row: str) -> list[str]:
    return [html.unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]


async def _detected_and_repaired(tmp_path: Path, runtime: Any, *, review: bool) -> tuple[Path, dict[str, str], int]:
    """A session whose judged samples carry the planted opener in about 40 %, scored 2 points higher
    when they do; detection stored; the four cue_world answers (unjudged, carrying it) repaired."""
    data = make(N, 9, CUE_TEXT, p_phrase=lambda c, lv: 0.4, outcome=lambda rng, c, lv, k: 6 + 2 * k + rng.normal())
    session = Session.open(tmp_path / "session", runtime, Config(), create=True)
    session.gateway = scripted_gateway(session, ScriptedTransport(default=CueWorld()))  # type: ignore[misc]
    try:
        repaired = {k: Sample.create([Message(role="user", content=QUESTIONS[k]),
                                      Message(role="assistant", content=with_cue(ANSWERS[k]))],
                                     origin=Origin(format="alpaca")) for k in REPAIRED}
        session.samples.insert(list(repaired.values()), round=0)  # first in the pool: the repair tries these
        judged = [Sample.create([Message(role="user", content=f"question {i}"), Message(role="assistant", content=t)],
                                source="t", tags={"cluster": [str(c)]}) for i, (t, c) in enumerate(zip(data.texts, data.clusters))]
        session.samples.insert(judged, round=0)
        record_judgements(session.conn, runtime.clock, [Judgement(s.id, "llm", float(np.clip(y, 1, 10)))
                                                        for s, y in zip(judged, data.outcome)])
        detected = detect_session(session, DetectOptions(permutations=200))
        assert detected.significant[0].cue.text == PHRASE
        # The session's own agents, with the real embedder but no Chroma store (its first use would
        # embed all 300 judged samples; the cosine needs only the four pairs).
        agents = replace(session_agents(session, 1), embed=embedder_for(session.config.store, runtime.env).encode)
        await run_cue_repairs(session, latest_findings(session.conn), CueSettings(), round=1, review=review,
                              max_repairs=len(REPAIRED), agents=agents)
        if not review:
            apply_round(session, 1)
        return session.dir, {k: s.id for k, s in repaired.items()}, int(data.planted.sum())
    finally:
        session.close()


async def test_the_cue_pages_list_each_cue_its_carriers_and_a_samples_cues_and_repairs(
        tmp_path: Path, runtime: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cues_view, "PAGE", 20)  # the carriers span pages
    directory, ids, planted = await _detected_and_repaired(tmp_path, runtime, review=False)
    reader = Session.open_read_only(directory, runtime)
    try:
        findings = latest_findings(reader.conn)
        rewrite = next(s for s in reader.samples.iter() if s.op == "rewrite")
        statuses = {s.id: s.status for s in reader.samples.iter()}
    finally:
        reader.close()
    assert statuses[ids["egg"]] is Status.DROPPED and statuses[rewrite.id] is Status.ACTIVE
    with served(directory) as url:
        assert 'href="/cues"' in get(url + "/")  # the nav link, on every page
        page = get(url + "/cues")
        rows = re.findall(r'<tr class="cue-row".*?</tr>', page, re.S)
        assert len(rows) == len(findings) and "<b>%d</b> of %d" % (sum(f.significant for f in findings), len(findings)) in page
        top = cells(rows[0])
        # active now: the 100 judged, the 3 originals whose rewrite was not kept and the kept rewrite (cue-free)
        assert top[:4] == ["1", "phrase", PHRASE, findings[0].cue.pattern]
        assert top[4] == f"{100 * planted / N:.1f}% ({planted})" and top[5] == f"{100 * (planted + 3) / (N + 4):.1f}% ({planted + 3})"
        assert top[6] == f"{findings[0].effect:+.3f}" and top[8] == "reported"
        assert top[9] == "1 of 4" and top[10] == "cue_kept 1, low_cosine 1, judge_prefers_original 1"
        unreported = [cells(r) for r in rows if "reported" not in cells(r)[8]]
        assert len(unreported) == sum(not f.significant for f in findings)
        assert all(c[8] == "no" and c[9] == "–" for c in unreported)

        # The cue's carriers, any status: the planted judged ones and the four repaired originals, not the rewrite.
        listed = get(url + "/cues/1?run=1")
        assert html.unescape(re.search(r'id="cue-text">(.*?)<', listed).group(1)) == PHRASE
        assert f"{planted + 4} samples" in listed and "active %d" % (planted + 3) in listed and "dropped 1" in listed
        first = re.findall(r'<tr class="cue-sample"><td><a class="mono" href="/samples/(\w+)"', listed)
        assert len(first) == 20 and first[:4] == [ids[k] for k in REPAIRED]  # pool order: the repaired first
        assert rewrite.id not in first and f'href="/samples/{rewrite.id}"' in listed  # linked from the egg's reason only
        nexts = get(url + html.unescape(re.search(r'id="next" href="([^"]+)"', listed).group(1)))
        second = re.findall(r'<tr class="cue-sample"><td><a class="mono" href="/samples/(\w+)"', nexts)
        assert len(second) == min(20, planted + 4 - 20) and not set(first) & set(second)
        dropped = get(url + "/cues/1?run=1&status=dropped")
        assert re.findall(r'<tr class="cue-sample"><td><a class="mono" href="/samples/(\w+)"', dropped) == [ids["egg"]]
        assert f'<pre class="text"><mark class="cue" title="cue: {PHRASE}">{PHRASE}</mark>: Boil the egg' in dropped

        # The sample page: the cue's span marked in the response, and the repair attempt with its diff.
        egg = get(url + f"/samples/{ids['egg']}")
        panel = egg[egg.index('id="cue-panel"'):]
        # Both reported cues start the response: one mark naming both, the rest of the answer unmarked.
        marks = re.findall(r'<mark class="cue" title="([^"]*)">([^<]*)</mark>', panel)
        assert marks == [("cue: exclamation opener; " + PHRASE, PHRASE)]
        assert f"{PHRASE}</mark>: Boil the egg" in panel
        attempt = cells(re.search(r'id="cue-attempts">.*?</table>', panel, re.S).group(0).split("</tr>")[1])
        assert attempt[2] == "kept" and attempt[5].startswith("diff of ")
        link = re.search(r'class="cue-rewrite" href="([^"]+)"', panel).group(1)
        assert re.fullmatch(rf"/samples/[0-9a-f]{{16}}/diff\?against={ids['egg']}", html.unescape(link))
        assert "Boil the egg" in get(url + html.unescape(link))  # the diff page opens
        rice = get(url + f"/samples/{ids['rice']}")
        row = cells(re.search(r'id="cue-attempts">.*?</table>', rice, re.S).group(0).split("</tr>")[1])
        # A rewrite not kept was never stored: its id is named, with nothing to open.
        assert row[2] == "rejected cue_kept" and re.fullmatch(r"[0-9a-f]{16}", row[5]) and 'class="cue-rewrite"' not in rice


async def test_a_kept_rewrite_waiting_for_review_links_to_its_review_item(tmp_path: Path, runtime: Any) -> None:
    directory, ids, _ = await _detected_and_repaired(tmp_path, runtime, review=True)
    with served(directory) as url:
        egg = get(url + f"/samples/{ids['egg']}")
        link = re.search(r'class="cue-rewrite" href="(/review/\d+)">proposal of', egg)
        assert link is not None and "Boil the egg" in get(url + link.group(1))


def test_without_a_detection_the_page_says_which_command_runs_one(session: Session) -> None:
    sample = Sample.create([Message(role="user", content="hi"), Message(role="assistant", content=with_cue("Hello."))])
    session.samples.insert([sample], round=0)
    with served(session.dir) as url:
        page = get(url + "/cues")
        assert 'id="cues-empty"' in page and "No bias-cue detection has run on this session." in page
        assert f"assay cues detect {session.dir}" in html.unescape(page)
        assert 'id="cue-panel"' not in get(url + f"/samples/{sample.id}")  # no detection, no repair: no panel
        missing = urllib.request.Request(url + "/cues/1")
        try:
            urllib.request.urlopen(missing, timeout=30)
            raise AssertionError("a cue of no detection must not be found")
        except urllib.error.HTTPError as err:
            assert err.code == 404 and "no cue 1 in the latest detection" in err.read().decode("utf-8")


def test_marks_are_escaped_and_overlaps_merge() -> None:
    text = "<b>Sure!</b> Sure thing"
    marked = str(marked_many(text, [(0, 9, "a"), (3, 12, "b<"), (13, 17, "a"), (40, 50, "out")]))
    assert marked == '<mark class="cue" title="cue: a; b&lt;">&lt;b&gt;Sure!&lt;/b&gt;</mark> <mark class="cue" ' \
                     'title="cue: a">Sure</mark> thing'
