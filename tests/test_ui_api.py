"""The web viewer's pages and JSON API: filters, paging, lineage, diffs, calls, review writes, token, redaction."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from assay.core.errors import AssayError
from assay.core.records import Message, Origin, Sample
from assay.session.session import Runtime
from assay.ui.app import create_app
from assay.ui.server import check_binding, viewer_url
from tests.conftest import fixed_runtime
from tests.session_factory import BuiltSession, build_session
from tests.test_trace_cli import SECRET, leak_into_trace

BASE = "http://127.0.0.1:8484"
TOKEN = "t0k3n-for-tests-0123456789"


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> BuiltSession:
    """A session the read-only tests share (none of them writes)."""
    home = tmp_path_factory.mktemp("home")
    return build_session(tmp_path_factory.mktemp("ui") / "s", fixed_runtime({"ASSAY_HOME": str(home)}))


@pytest.fixture
def own(tmp_path: Path) -> BuiltSession:
    """A session a test may change."""
    return build_session(tmp_path / "s", fixed_runtime({"ASSAY_HOME": str(tmp_path / "home")}))


def client(built: BuiltSession, runtime: Runtime | None = None, **options: object) -> TestClient:
    app = create_app(built.dir, runtime or fixed_runtime(), reviewer="tester", **options)  # type: ignore[arg-type]
    return TestClient(app, base_url=BASE)


def ok(c: TestClient, path: str, **kw: object) -> object:
    response = c.get(path, **kw)  # type: ignore[arg-type]
    assert response.status_code == 200, (path, response.text[:500])
    return response


def test_every_page_renders(shared: BuiltSession) -> None:
    c = client(shared)
    for path in ("/", "/samples", "/decisions", "/review", f"/samples/{shared.rewrite}", f"/samples/{shared.rewrite}/diff",
                 "/decisions/1", f"/calls/{shared.rewrite_call_ids[0]}", f"/review/{shared.pending[0]}"):
        ok(c, path)


def test_overview_shows_the_timeline_by_round(shared: BuiltSession) -> None:
    page = ok(client(shared), "/").text
    for expected in ('id="round-0"', 'id="round-3"', "ingest and screening", "cluster 2 is under-covered", "in progress",
                     "rewriter rewrite_accepted 2", "2 pending"):
        assert expected in page, expected


def ids(c: TestClient, query: str) -> list[str]:
    return [s["id"] for s in ok(c, f"/api/samples?{query}").json()["samples"]]


def test_sample_filters(shared: BuiltSession) -> None:
    c = client(shared)
    assert ids(c, "status=dropped") == [shared.repaired, shared.duplicate, shared.empty]
    assert ids(c, "status=dropped&reason=duplicate_of") == [shared.duplicate]
    assert ids(c, "op=rewrite") == [shared.rewrite] and ids(c, "round=2") == [shared.synth]
    assert ids(c, "cluster=2&status=active") == [shared.seeds[7], shared.synth]
    assert ids(c, "score_min=1&score_max=2") == [shared.repaired, shared.seeds[5], shared.seeds[8]]
    assert ids(c, "q=canberra") == [shared.rewrite]  # text, case-insensitive
    assert ids(c, f"q={shared.synth[:6]}") == [shared.synth]  # or an id prefix
    assert ids(c, "q=50%25") == []  # % is literal
    html = ok(c, "/samples?status=dropped&reason=duplicate_of").text
    assert shared.duplicate in html and shared.empty not in html and 'id="match-count">1<' in html


def test_bad_parameters_are_400_and_unknown_ids_404(shared: BuiltSession) -> None:
    c = client(shared)
    assert c.get("/samples?round=two").status_code == 400
    assert c.get("/api/samples?score_min=high").json() == {"error": "score_min must be a number, not 'high'"}
    assert c.get("/samples/ffffffffffff").status_code == 404
    assert c.get("/api/samples/ffffffffffff").json()["error"] == "no sample with id 'ffffffffffff' in this session"
    assert c.get("/api/calls/999").status_code == 404 and c.get("/review/999").status_code == 404


def test_keyset_pages_walk_every_sample_both_ways(tmp_path: Path) -> None:
    runtime = fixed_runtime({"ASSAY_HOME": str(tmp_path / "home")})
    built = build_session(tmp_path / "s", runtime)
    from assay.core.config import Config
    from assay.session.session import Session

    session = Session.open(built.dir, runtime, Config(), create=False)
    extra = [Sample.create([Message(role="user", content=f"q{n}"), Message(role="assistant", content=f"a{n}")],
                           origin=Origin(format="alpaca")) for n in range(23)]
    session.samples.insert(extra, round=0)
    session.close()
    c = client(built)
    seen, after, pages = [], None, []
    while True:
        page = ok(c, "/api/samples?limit=5" + (f"&after={after}" if after else "")).json()
        pages.append(page)
        seen += [s["id"] for s in page["samples"]]
        after = page["next_after"]
        if after is None:
            break
    everything = ids(c, "limit=500")
    assert seen == everything and len(everything) == 11 + 23 and len(pages) == 7
    assert pages[0]["prev_before"] is None and pages[-1]["next_after"] is None
    back = ok(c, f"/api/samples?limit=5&before={pages[2]['samples'][0]['rowid']}").json()
    assert back["samples"] == pages[1]["samples"] and back["next_after"] == pages[1]["next_after"]


def test_sample_page_shows_reason_lineage_and_escapes_sample_text(shared: BuiltSession) -> None:
    c = client(shared)
    page = ok(c, f"/samples/{shared.duplicate}").text
    assert 'id="reason">duplicate_of:<a class="mono" href="/samples/' + shared.seeds[0] in page
    assert "Decided by <b>dedup</b> → <b>drop</b>" in page
    seed = ok(c, f"/samples/{shared.repaired}").text
    assert f'href="/samples/{shared.rewrite}/diff?against={shared.repaired}"' in seed
    assert 'class="focus mono">' + shared.repaired in seed
    script = ok(c, f"/samples/{shared.seeds[7]}").text
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in script and "<script>" not in script
    detail = ok(c, f"/api/samples/{shared.rewrite[:8]}").json()
    assert detail["tree"][0]["id"] == shared.repaired and detail["tree"][0]["children"][0]["focus"] is True
    assert detail["why"]["action"] == "judged"


def test_diff_marks_the_changed_words(shared: BuiltSession) -> None:
    found = ok(client(shared), f"/api/samples/{shared.rewrite}/diff").json()
    user, assistant = found["diffs"]
    assert user["changed"] is False and assistant["changed"] is True
    (row,) = assistant["rows"]
    assert row["kind"] == "replace"
    assert [s["text"] for s in row["left"] if s["changed"]] == ["Sydney."]
    assert "".join(s["text"] for s in row["right"]) == "The capital of Australia is Canberra; Sydney is its largest city."
    assert [d["action"] for d in found["decisions"]] == ["rewrite_accepted", "repair_applied"]
    assert client(shared).get(f"/api/samples/{shared.seeds[0]}/diff").status_code == 404  # a seed has no parent


def test_decision_shows_its_llm_calls_in_full(shared: BuiltSession) -> None:
    c = client(shared)
    (decision,) = ok(c, "/api/decisions?agent=rewriter&round=1").json()["decisions"]
    full = ok(c, f"/api/decisions/{decision['id']}").json()
    assert [x["id"] for x in full["llm_calls"]] == shared.rewrite_call_ids
    first = full["llm_calls"][0]
    assert first["request"]["messages"][1]["content"].startswith("Fix this response:")
    assert (first["prompt_tokens"], first["latency_ms"], first["cost_usd"]) == (133, 1400.0, 0.00021)
    page = ok(c, f"/decisions/{decision['id']}").text
    for expected in ("Fix this response:", "1400 ms", "133 prompt + 69 completion", "$0.000210", "&#34;winner&#34;: &#34;b&#34;"):
        assert expected in page, expected


def test_review_approve_through_the_api_writes_to_the_session(own: BuiltSession) -> None:
    c = client(own)
    assert [i["id"] for i in ok(c, "/api/review?status=pending").json()["items"]] == own.pending
    done = c.post(f"/api/review/{own.pending[0]}", json={"verdict": "approved", "note": "reads well"})
    assert done.status_code == 200 and done.json()["pending"] == 1
    assert done.json()["item"]["status"] == "approved" and done.json()["item"]["decided_by"] == "tester"
    conn = sqlite3.connect(own.dir / "session.db")
    assert conn.execute("SELECT status, decided_by, note FROM review_items WHERE id = ?", (own.pending[0],)).fetchone() == (
        "approved", "tester", "reads well")
    assert conn.execute("SELECT agent, action FROM decisions ORDER BY id DESC LIMIT 1").fetchone() == ("review", "item_approved")
    again = c.post(f"/api/review/{own.pending[0]}", json={"verdict": "rejected"})
    assert again.status_code == 409 and "no pending review items" in again.json()["error"]
    assert c.post(f"/api/review/{own.pending[1]}", json={"verdict": "maybe"}).status_code == 400
    assert c.post(f"/api/review/{own.pending[1]}", content=b"not json").status_code == 400


def test_review_form_rejects_and_redirects(own: BuiltSession) -> None:
    c = client(own)
    assert "review: <a href=\"/review\">2 pending</a>" in ok(c, "/").text  # the overview's aggregates are now cached
    done = c.post(f"/review/{own.pending[1]}", data={"verdict": "rejected", "note": "too long"}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == f"/review/{own.pending[1]}?done=rejected"
    page = ok(c, done.headers["location"]).text
    assert 'id="flash">Item rejected.' in page and "by tester" in page and "too long" in page
    assert 'id="pending-count">1<' in page
    round_3 = ok(c, "/").text.split('id="round-3"')[1]
    assert "1 pending" in round_3 and "1 rejected" in round_3  # a write elsewhere refreshes the cache


def digest(directory: Path) -> tuple[str, int]:
    """The DB's content: the main file, and the size of its write-ahead log (a reader may create it, empty)."""
    wal = directory / "session.db-wal"
    return hashlib.sha256((directory / "session.db").read_bytes()).hexdigest(), wal.stat().st_size if wal.exists() else 0


def test_reading_never_writes_the_session(own: BuiltSession) -> None:
    before = digest(own.dir)
    c = client(own)
    for path in ("/", "/samples?status=dropped", f"/samples/{own.rewrite}", "/review", "/api/summary", "/decisions?q=x"):
        ok(c, path)
    assert digest(own.dir) == before
    viewer = c.app.state.viewer  # type: ignore[attr-defined]
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        viewer.conn.execute("DELETE FROM samples")


def test_token_is_required_on_every_request_when_set(shared: BuiltSession) -> None:
    c = client(shared, token=TOKEN, check_host=False)
    assert c.get("/").status_code == 401 and c.get("/api/summary").status_code == 401
    assert c.get("/", headers={"Authorization": "Bearer wrong-token-0000000000"}).status_code == 401
    assert c.get("/?token=wrong").status_code == 401
    assert c.post(f"/api/review/{shared.pending[0]}", json={"verdict": "approved"}).status_code == 401
    assert c.get("/", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    assert c.get(f"/api/summary?token={TOKEN}").status_code == 200
    opened = c.get(f"/samples?status=dropped&token={TOKEN}", follow_redirects=False)
    assert opened.status_code == 303 and opened.headers["location"] == "/samples?status=dropped"
    assert "HttpOnly" in opened.headers["set-cookie"] and "SameSite=Strict" in opened.headers["set-cookie"]
    assert c.get("/samples?status=dropped").status_code == 200  # the cookie now carries it


def test_loopback_viewer_refuses_foreign_hosts_and_cross_site_posts(own: BuiltSession) -> None:
    c = client(own)
    assert c.get("/", headers={"Host": "evil.example:8484"}).status_code == 400
    assert c.get("/", headers={"Host": "localhost:8484"}).status_code == 200
    refused = c.post(f"/review/{own.pending[0]}", data={"verdict": "approved"}, headers={"Origin": "http://evil.example"})
    assert refused.status_code == 403
    assert ok(c, "/api/review?status=pending").json()["items"][0]["id"] == own.pending[0]
    same = c.post(f"/review/{own.pending[0]}", data={"verdict": "approved"}, headers={"Origin": BASE}, follow_redirects=False)
    assert same.status_code == 303


def test_binding_beyond_loopback_needs_a_token() -> None:
    check_binding("127.0.0.1", None)
    check_binding("localhost", None)
    with pytest.raises(AssayError, match="--token"):
        check_binding("0.0.0.0", None)
    with pytest.raises(AssayError, match="at least 16 characters"):
        check_binding("0.0.0.0", "short")
    check_binding("0.0.0.0", TOKEN)
    assert viewer_url("0.0.0.0", 9000, TOKEN) == f"http://127.0.0.1:9000/?token={TOKEN}"
    assert viewer_url("::1", 9000, None) == "http://[::1]:9000/"


def test_keys_are_never_shown(own: BuiltSession) -> None:
    call_id = leak_into_trace(own.dir, own.seeds[0])
    c = client(own, fixed_runtime({"OPENAI_API_KEY": SECRET}))
    for path in (f"/calls/{call_id}", f"/samples/{own.seeds[0]}", f"/api/calls/{call_id}", f"/api/samples/{own.seeds[0]}"):
        text = ok(c, path).text
        assert SECRET not in text and "[REDACTED]" in text, path
    # Issue 11 #13: a key-shaped secret is caught by its shape, so a viewer without it in its environment hides it too.
    assert SECRET not in ok(client(own), f"/api/calls/{call_id}").text


def test_out_of_range_ids_and_non_finite_numbers_answer_with_a_message(shared: BuiltSession) -> None:
    """Issue 11 #17: ids past SQLite's 64-bit range and NaN filters were 500s."""
    c = TestClient(create_app(shared.dir, fixed_runtime(), reviewer="tester"), base_url=BASE, raise_server_exceptions=False)
    huge = "99999999999999999999"
    for path in (f"/calls/{huge}", f"/decisions/{huge}", f"/review/{huge}"):
        page = c.get(path)
        assert page.status_code == 404 and huge in page.text, (path, page.status_code)
    for path in (f"/api/calls/{huge}", f"/api/decisions/{huge}", f"/api/review/{huge}"):
        answer = c.get(path)
        assert answer.status_code == 404 and huge in answer.json()["error"], (path, answer.status_code)
    for query in ("score_min=nan", "score_max=inf", "score_min=-Infinity", f"round={huge}", f"after={huge}",
                  f"limit={huge}"):
        answer = c.get(f"/api/samples?{query}")
        assert answer.status_code == 400 and answer.json()["error"].startswith(query.split("=")[0]), (query, answer.text)
        if not query.startswith("limit"):  # the page has a fixed page size
            assert c.get(f"/samples?{query}").status_code == 400, query
    assert c.get(f"/api/decisions?round={huge}").status_code == 400


def test_host_check_ignores_case(shared: BuiltSession) -> None:
    """Issue 11 #17: host names are case-insensitive, so LOCALHOST is this machine."""
    c = client(shared)
    for host in ("LOCALHOST:8484", "LocalHost", "127.0.0.1:8484"):
        assert c.get("/", headers={"Host": host}).status_code == 200, host
    assert c.get("/", headers={"Host": "EVIL.example"}).status_code == 400


def test_a_failed_tagging_call_does_not_explain_a_samples_status(own: BuiltSession) -> None:
    # Tagging runs just before selection: its failures are traced on selected samples, but
    # they say nothing about why a sample is selected, active or dropped.
    import sqlite3 as db

    with db.connect(own.dir / "session.db") as conn:
        conn.execute("INSERT INTO decisions (ts, round, sample_id, agent, action, reason) "
                     "VALUES ('2026-01-01T00:00:00', 1, ?, 'decomposer', 'tag_failed', 'timeout')", (own.rewrite,))
    detail = ok(client(own), f"/api/samples/{own.rewrite}").json()
    assert detail["why"]["action"] == "judged"
