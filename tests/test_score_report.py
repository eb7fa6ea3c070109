"""`assay score --report`: the analyzer page of a scored quickstart pool (counts, one histogram per
statistic, the drop reasons explained, thresholds marked, example drops escaped), and the flag's errors."""

from __future__ import annotations

import json
import re
from collections import Counter
from html import unescape
from pathlib import Path

import pytest
from typer.testing import CliRunner

from assay.cli.app import app
from assay.core.recipe_screen import ScreenSettings
from assay.pipeline.screen.analysis import analyze_scored
from assay.report.analyzer import render_analysis
from tests.conftest import EXAMPLES
from tests.test_cli import assay

SCRIPT = "<script>alert('pwned')</script>"
HOSTILE = {"instruction": "Write a short poem about <b>autumn</b>.",
           "input": "", "output": f"I'm sorry, but I can't help with that. {SCRIPT}"}


def score(*args: str, home: Path) -> str:
    """Run `assay score` in-process, as a user would; returns its output."""
    result = CliRunner().invoke(app, ["score", *args], env={"ASSAY_HOME": str(home), "COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="module")
def scored(tmp_path_factory) -> tuple[Path, Path, list[dict]]:
    work = tmp_path_factory.mktemp("score_report")
    pool = work / "pool.jsonl"
    pool.write_text((EXAMPLES / "quickstart.jsonl").read_text() + json.dumps(HOSTILE) + "\n")
    out, page = work / "pool.scored.jsonl", work / "pool.html"
    output = score(str(pool), "--no-embed", "--out", str(out), "--report", str(page), home=work / "home")
    assert f"analysis page: {page}" in output.replace("\n", "")
    rows = [json.loads(line)["_assay"] for line in out.read_text().splitlines()]
    return page, out, rows


def section(page: str, name: str) -> str:
    """The HTML of one section: from its h2 to the next."""
    start = page.index(f'<h2 id="{name}">')
    end = page.find("<h2 ", start + 1)
    return page[start:end if end > 0 else None]


def test_the_page_counts_records_active_and_dropped_by_reason(scored) -> None:
    page_path, _, rows = scored
    page = page_path.read_text()
    status = Counter(r["status"] for r in rows)
    assert status["dropped"] >= 3  # the quickstart's truncated and refusal, and the hostile refusal
    chips = unescape(re.search(r'<div class="chips">(.*?)</div>', page).group(1))
    assert f"{len(rows)} records" in chips
    assert f"{status['active']} active" in chips and f"{status['dropped']} dropped" in chips
    drops = section(page, "drops")
    for reason, count in Counter(r["reason"] for r in rows if r["status"] == "dropped").items():
        row = re.search(rf"<tr><td><code>{reason}</code></td><td class=\"n\">(\d+)</td>", drops)
        assert row is not None and int(row.group(1)) == count, reason
    # Each heuristic code is explained in the recipe's own words.
    assert "Drops an answer that opens with a refusal or AI disclaimer" in drops
    assert "Drops a response that stops mid-sentence" in drops


def test_one_histogram_per_statistic_split_active_and_dropped(scored) -> None:
    page_path, _, rows = scored
    stats = section(page_path.read_text(), "statistics")
    names = {name for r in rows for name in r["scores"]}
    assert {"repetition_ratio", "response_words", "response_chars", "refusal"} <= names
    charts = re.findall(r'<svg class="chart"[^>]*aria-label="([^"]+)"', stats)
    assert sorted(charts) == sorted(names)
    for name in names:
        values = [r["scores"][name] for r in rows if name in r["scores"]]
        dropped = sum(1 for r in rows if name in r["scores"] and r["status"] == "dropped")
        block = stats[stats.index(f'id="stat-{name}"'):]
        assert f"active {len(values) - dropped:,}</text>" in block and f"dropped {dropped:,}</text>" in block
    # Each group is drawn as its own share, with the count in the hover text: the few drops stay visible.
    assert re.search(r"<title>[^<]*: [1-9]\d* dropped \(\d+\.\d% of \d+\)</title>", stats)
    assert re.search(r"<title>[^<]*: [1-9]\d* active \(\d+\.\d% of \d+\)</title>", stats)


def test_thresholds_are_the_recipes_and_move_with_it(scored) -> None:
    page_path, out, _ = scored
    stats = section(page_path.read_text(), "statistics")
    def block(name: str) -> str:
        found = stats[stats.index(f'id="stat-{name}"'):]
        return found[:found.index("</div>")]

    repeats = block("max_sentence_repeats")  # 0 or 1 here: the axis stretches to show the mark at 3
    assert 'class="threshold"' in repeats and "drops ≥ 3" in repeats
    assert "screen.heuristics.repetition.max_sentence_repeats" in repeats
    ratio = block("repetition_ratio")  # 0.6 lies far above every ratio here: named, not drawn
    assert 'class="threshold"' not in ratio and "drops ≥ 0.6: above every value" in ratio
    assert "screen.heuristics.repetition.max_ratio" in ratio
    assert "drops &gt; 4,000: above every value" in block("response_words")
    assert "drops" not in block("refusal")  # no recipe threshold on it

    settings = ScreenSettings()
    settings.heuristics.repetition.max_ratio = 0.3
    settings.heuristics.length_outlier.enabled = False
    moved = section(render_analysis(analyze_scored(out, settings)), "statistics")
    assert "drops ≥ 0.3" in moved and "drops ≥ 0.6" not in moved
    assert "max_response_words" not in moved  # a filter switched off marks nothing


def test_example_drops_are_escaped_and_cut_short(scored) -> None:
    page_path, out, rows = scored
    page = page_path.read_text()
    assert SCRIPT not in page and "<b>autumn</b>" not in page
    examples = section(page, "examples")
    assert "&lt;script&gt;alert(&#39;pwned&#39;)&lt;/script&gt;" in examples
    assert "&lt;b&gt;autumn&lt;/b&gt;" in examples
    assert "the response stops on &#39;the&#39;" in examples  # the truncated one, with its detail
    assert "<script" not in page  # the page itself runs nothing

    analysis = analyze_scored(out, text_chars=50)
    shown = [x for g in analysis.reasons for x in g.examples]
    assert all(len(x.instruction) <= 50 and len(x.response) <= 50 for x in shown)
    assert any(x.response.endswith("…") for x in shown)  # the truncated answer runs past 50: cut, and says so
    assert analysis.records == len(rows)


def test_clusters_are_shown_when_the_file_has_them(scored, tmp_path: Path) -> None:
    _, out, rows = scored
    assert "No clusters" in section(scored[0].read_text(), "clusters")
    # The same file as scored with embeddings would have it: active records carry a cluster.
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    for i, line in enumerate(lines):
        line["_assay"]["cluster"] = i % 3 if line["_assay"]["status"] == "active" else None
    clustered = tmp_path / "clustered.jsonl"
    clustered.write_text("".join(json.dumps(line) + "\n" for line in lines))
    page = section(render_analysis(analyze_scored(clustered)), "clusters")
    active = sum(r["status"] == "active" for r in rows)
    assert "3 clusters; largest" in page and page.count("<rect") == 3
    assert f">{-(-active // 3)}</text>" in page


def test_report_flag_refuses_a_non_html_path_before_scoring(tmp_path: Path) -> None:
    out = tmp_path / "s.jsonl"
    done = assay("score", str(EXAMPLES / "quickstart.jsonl"), "--no-embed", "--out", str(out),
                 "--report", str(tmp_path / "s.txt"), home=tmp_path / "h", check=False)
    assert done.returncode == 2
    assert "--report" in done.stderr and ".html" in done.stderr and "Traceback" not in done.stderr
    assert not out.exists()  # refused before any work


def test_the_page_is_written_atomically_and_self_contained(scored) -> None:
    page = scored[0].read_text()
    assert not list(scored[0].parent.glob("*.tmp*"))
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)  # no remote file, no CDN
    assert "@import" not in page and "url(" not in page


def test_bins_fold_a_long_tail_and_stretch_to_a_near_threshold() -> None:
    from assay.report.analyzer_charts import choose_bins, split_histogram

    tail = [float(v) for v in range(100)] * 10 + [50_000.0]  # one absurd outlier
    bins = choose_bins(tail)
    assert bins.overflow and bins.edges[-1] < 1_000  # the outlier sits in the last bin, not on the axis
    assert "+</text>" in split_histogram(tail, [], title="words")
    small = choose_bins([0.0, 1.0, 1.0, 2.0], threshold=3)
    assert small.integer and small.edges[0] == 0 and small.edges[-1] >= 4  # one bin per number, up to the mark
    assert 'class="threshold"' in split_histogram([0.0, 1.0], [2.0], title="repeats", threshold=3, threshold_label="x")


def test_a_parquet_output_gives_the_same_analysis(scored, tmp_path: Path) -> None:
    _, out, _ = scored
    pool = out.parent / "pool.jsonl"
    parquet = tmp_path / "pool.scored.parquet"
    score(str(pool), "--no-embed", "--out", str(parquet), "--report", str(tmp_path / "p.html"), home=tmp_path / "home")
    from_jsonl, from_parquet = analyze_scored(out), analyze_scored(parquet)
    assert (from_parquet.records, from_parquet.active, from_parquet.dropped) == (
        from_jsonl.records, from_jsonl.active, from_jsonl.dropped)
    # Parquet fills a score a record lacks with null: it is skipped, not counted as a value.
    assert {s.name: (len(s.active), len(s.dropped)) for s in from_parquet.statistics} == {
        s.name: (len(s.active), len(s.dropped)) for s in from_jsonl.statistics}
    assert [(g.code, g.count) for g in from_parquet.reasons] == [(g.code, g.count) for g in from_jsonl.reasons]
