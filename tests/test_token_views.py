"""Token masks where people see them: the viewer's sample page shades exactly the masked characters
(escaped, served by the real server) and the report's "Token masks" section gives the masked share
overall and by cluster; both stay as they were for a session without masks."""

from __future__ import annotations

import html
import re
import urllib.request
from pathlib import Path

from starlette.testclient import TestClient

from assay.core.records import Message, Sample
from assay.graphs.state import CurationState
from assay.report.write import write_report
from assay.session.session import Session
from assay.session.token_masks import TokenMask, TokenScore, save_masks
from assay.ui.app import create_app
from assay.ui.token_view import shaded
from tests.conftest import fixed_runtime
from tests.test_report import checked
from tests.ui_server import serve_viewer

ANSWER = "Sure! <script>alert('x')</script> The answer is 42 & that's it."
SHADED = re.compile(r'<span class="masked" title="masked · score (-?\d+\.\d{3})">(.*?)</span>', re.S)


def chat(question: str, answer: str, cluster: str | None = None) -> Sample:
    tags = {"cluster": [cluster]} if cluster else {}
    return Sample.create([Message(role="user", content=question), Message(role="assistant", content=answer)], tags=tags)


def words(text: str, turn: int, masked: set[int]) -> tuple[TokenScore, ...]:
    """One token per whitespace-separated word (the space before it included, as BPE tokens do);
    the words whose index is in `masked` are masked, each with score -index/10 (masked) or +index/10."""
    tokens, at = [], 0
    for i, m in enumerate(re.finditer(r"\s*\S+", text)):
        tokens.append(TokenScore(turn, m.start(), m.end(), (-i if i in masked else i) / 10, i in masked))
        at = m.end()
    assert at == len(text)
    return tuple(tokens)


def mask_of(sample: Sample, masked: set[int]) -> TokenMask:
    return TokenMask(sample.id, "loss-diff:test", "test-tok", words(sample.messages[1].content, 1, masked))


def shown_spans(pre: str) -> tuple[str, list[tuple[int, int, float]]]:
    """The text a <pre> shows (tags dropped, entities decoded) and the character ranges of its shaded spans."""
    text, spans, at = "", [], 0
    for m in SHADED.finditer(pre):
        text += html.unescape(pre[at:m.start()])
        inner = html.unescape(m.group(2))
        spans.append((len(text), len(text) + len(inner), float(m.group(1))))
        text += inner
        at = m.end()
    return text + html.unescape(pre[at:]), spans


def get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=60) as answer:
        assert answer.status == 200
        return answer.read().decode("utf-8")


def test_the_sample_page_shades_exactly_the_masked_characters_escaped(session: Session) -> None:
    scored, plain = chat("Say hi", ANSWER), chat("Say bye", "Bye <b>now</b>.")
    session.samples.insert([scored, plain], round=0)
    mask = mask_of(scored, {0, 1, 2})  # "Sure!", " <script>alert('x')</script>", " The"
    save_masks(session.conn, [mask], session.runtime.clock)
    runtime = fixed_runtime({"ASSAY_HOME": str(session.dir.parent / "home")})
    with serve_viewer(session.dir, runtime, reviewer="tester") as (url, _):
        page = get(f"{url}/samples/{scored.id}")
        other = get(f"{url}/samples/{plain.id}")
    assert "<script>" not in page and "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in page
    assert "<b>3</b> of 9 response tokens masked" in page and "<b>33.3 %</b>" in page and "loss-diff:test" in page
    pre = re.search(r'<pre class="text tokens" id="turn-1">(.*?)</pre>', page, re.S)
    assert pre is not None
    text, spans = shown_spans(pre.group(1))
    assert text == ANSWER  # every character shown, once, in order
    expected = [(t.start, t.end, t.score) for t in mask.tokens if t.masked]
    assert spans == expected and [(s, e) for s, e, _ in spans] != []
    assert ANSWER[spans[1][0]:spans[1][1]] == " <script>alert('x')</script>"
    # the user turn was not scored: shown as before
    assert '<pre class="text">Say hi</pre>' in page
    # a sample without a mask: no mask line, no shading, its text escaped as before
    assert 'id="token-mask"' not in other and 'class="masked"' not in other and "text tokens" not in other
    assert '<pre class="text">Bye &lt;b&gt;now&lt;/b&gt;.</pre>' in other


def test_a_turn_holding_a_secret_is_shown_redacted_and_unshaded(session: Session) -> None:
    secret = "hunter2-very-secret"
    leaky = chat("Say the password", f"The password is {secret} ok")
    session.samples.insert([leaky], round=0)
    save_masks(session.conn, [mask_of(leaky, {3})], session.runtime.clock)  # the secret's own token
    runtime = fixed_runtime({"ASSAY_HOME": str(session.dir.parent / "home"), "DB_PASSWORD": secret})
    client = TestClient(create_app(session.dir, runtime, reviewer="tester"), base_url="http://127.0.0.1:8484")
    page = client.get(f"/samples/{leaky.id}").text
    assert secret not in page and "hunter2" not in page and "The password is [REDACTED] ok" in page
    assert 'class="masked"' not in page and "Turn 1 shown unshaded: it holds a redacted secret" in page


def test_shading_clips_offsets_and_makes_control_characters_visible() -> None:
    content = "a\x1b[31mb <i>"
    tokens = (TokenScore(0, 0, 1, -1.0, True), TokenScore(0, 0, 2, -2.0, True),  # overlaps the first: clipped
              TokenScore(0, 8, 50, -0.25, True))  # runs past the end: clipped
    markup = str(shaded(content, tokens))
    assert "\x1b" not in markup and "\\x1b" in markup and "<i>" not in markup
    assert markup == ('<span class="masked" title="masked · score -1.000">a</span>'
                      '<span class="masked" title="masked · score -2.000">\\x1b</span>[31mb '
                      '<span class="masked" title="masked · score -0.250">&lt;i&gt;</span>')


def test_the_report_shows_the_masked_share_overall_and_by_cluster(session: Session, tmp_path: Path) -> None:
    samples = [chat(f"q{i}", "one two three four five", cluster="code" if i < 2 else "<b>math</b>") for i in range(3)]
    samples.append(chat("q3", "alpha beta gamma delta"))
    session.samples.insert(samples, round=0)
    masks = [mask_of(samples[0], {0}), mask_of(samples[1], {0, 1, 2}), mask_of(samples[2], set()),
             mask_of(samples[3], {3})]
    save_masks(session.conn, masks, session.runtime.clock)
    page = write_report(session, CurationState(), tmp_path / "report.html").read_text(encoding="utf-8")
    checked(page)
    assert 'id="tokens"' in page and 'href="#tokens"' in page
    assert "5 of 19 response tokens masked (26.3%)" in page and "4 samples scored" in page
    rows = re.findall(r'<tr><td>([^<]*)</td><td class="n">(\d+)</td><td class="n">(\d+)</td><td class="n">([^<]*)</td></tr>',
                      page[page.index('id="token-clusters"'):])
    assert rows == [("code", "10", "4", "40.0%"), ("&lt;b&gt;math&lt;/b&gt;", "5", "0", "0.0%"),
                    ("unclustered", "4", "1", "25.0%")]
    chart = page[page.index('id="tokens"'):page.index('id="token-clusters"')]
    assert chart.count("<svg") == 1 and chart.count("<rect") == 3 and "code: 40</title>" in chart


def test_a_session_without_masks_has_no_token_section(session: Session, tmp_path: Path) -> None:
    session.samples.insert([chat("q", "a b c")], round=0)
    page = write_report(session, CurationState(), tmp_path / "report.html").read_text(encoding="utf-8")
    assert 'id="tokens"' not in page and "Token masks" not in page
