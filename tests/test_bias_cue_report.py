"""The report's "Bias cues" section: each significant cue with its prevalence at detection and in the active pool now."""

from __future__ import annotations

import re
from pathlib import Path

from assay.core.bias_cue import Cue
from assay.core.records import Message, Sample, Status
from assay.graphs.state import CurationState
from assay.report.write import write_report
from assay.session.bias_cues import CueFinding, DetectionRun, record_findings
from assay.session.session import Session
from tests.test_report import checked

OPENER = Cue(kind="opener", text="As an <AI>", pattern=r"\A\W*as\W+an\W+ai(?!\w)")
QUIET = Cue(kind="phrase", text="in other words", pattern=r"(?<!\w)in\W+other\W+words(?!\w)")


def chat(i: int, answer: str) -> Sample:
    return Sample.create([Message(role="user", content=f"q{i}"), Message(role="assistant", content=answer)])


def test_the_report_shows_each_significant_cue_before_and_after(session: Session, tmp_path: Path) -> None:
    carriers = [chat(i, f"As an AI, answer {i}.") for i in range(4)]
    others = [chat(10 + i, f"Plain answer {i}, in other words fine.") for i in range(6)]
    session.samples.insert(carriers + others, round=0)
    # Three of the four carriers were repaired: dropped, replaced by cue-free rewrites.
    session.samples.set_status([s.id for s in carriers[:3]], Status.DROPPED, "replaced_by:x")
    session.samples.insert([chat(20 + i, f"Answer {i}.") for i in range(3)], round=1)
    findings = [CueFinding(OPENER, "score", 1.25, 0.001, 0.002, 0.4, 10, 4, alpha=0.05, method="westfall-young max-T"),
                CueFinding(QUIET, "score", 0.1, 0.4, 0.9, 0.6, 10, 6, alpha=0.05, method="westfall-young max-T")]
    record_findings(session.conn, session.runtime.clock, DetectionRun("score", 10, 0.05, "westfall-young max-T", 999, 0),
                    findings)
    page = write_report(session, CurationState(), tmp_path / "report.html").read_text(encoding="utf-8")
    checked(page)
    assert 'id="cues"' in page and 'href="#cues"' in page
    assert "1 of 2 candidate cues associated with the judge's\nscore beyond cluster and length" in page
    rows = re.findall(r"<tr><td>(\w+)</td><td><div class=\"wrap small\">([^<]*)</div></td>"
                      r"<td class=\"n\">([^<]*)</td><td class=\"n\">([^<]*)</td><td class=\"n\">([^<]*)</td>"
                      r"<td class=\"n\">([^<]*)</td></tr>", page[page.index('id="bias-cues"'):])
    # after: 1 carrier left among the 10 active samples (1 unrepaired carrier, 6 others, 3 rewrites)
    assert rows == [("opener", "As an &lt;AI&gt;", "40.0% (4)", "10.0% (1)", "+1.250", "0.0020")]


def test_a_session_without_findings_has_no_cue_section(session: Session, tmp_path: Path) -> None:
    session.samples.insert([chat(0, "As an AI, hi.")], round=0)
    page = write_report(session, CurationState(), tmp_path / "report.html").read_text(encoding="utf-8")
    assert 'id="cues"' not in page and "Bias cues" not in page


def test_after_a_selection_the_cue_is_counted_in_the_selected_samples(session: Session, tmp_path: Path) -> None:
    # `assay run` ends with select: the kept samples are then `selected`, and only the unjudged stay active.
    carriers = [chat(i, f"As an AI, answer {i}.") for i in range(4)]
    others = [chat(10 + i, f"Plain answer {i}.") for i in range(6)]
    session.samples.insert(carriers + others, round=0)
    session.samples.set_status([s.id for s in carriers[:2] + others[:3]], Status.SELECTED, None)
    session.samples.set_status([s.id for s in carriers[2:3] + others[3:]], Status.DROPPED, "not_selected:top")
    record_findings(session.conn, session.runtime.clock, DetectionRun("score", 10, 0.05, "m", 999, 0),
                    [CueFinding(OPENER, "score", 1.25, 0.001, 0.002, 0.4, 10, 4, alpha=0.05, method="m")])
    page = write_report(session, CurationState(), tmp_path / "report.html").read_text(encoding="utf-8")
    checked(page)
    section = page[page.index('id="cues"'):page.index("</table>", page.index('id="bias-cues"'))]
    assert "share of the\n5 selected samples carrying it now" in section
    assert '<td class="n">40.0% (2)</td>' in section  # 2 of the 5 selected, not 1 of the 1 left active


def test_a_kept_outcome_is_not_called_the_judges(session: Session, tmp_path: Path) -> None:
    session.samples.insert([chat(0, "As an AI, hi."), chat(1, "Hi.")], round=0)
    record_findings(session.conn, session.runtime.clock, DetectionRun("kept", 2, 0.05, "m", 999, 0),
                    [CueFinding(OPENER, "kept", 0.5, 0.001, 0.002, 0.5, 2, 1, alpha=0.05, method="m")])
    page = write_report(session, CurationState(), tmp_path / "report.html").read_text(encoding="utf-8")
    assert "associated with the kept/dropped\noutcome beyond cluster and length" in page and "judge's\nkept" not in page
