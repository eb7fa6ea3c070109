"""The viewer's "Preference pairs" page, served by the real server (uvicorn on a free port): the pairs
`assay export --preference-pairs` writes for a scripted session with repairs, counted by source and
reason, each with its diff, margin and links into the session, built on the first view and kept until
the session DB changes; and a note for a session with no preference evidence."""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from html import unescape

import pytest

from assay.core.records import Status
from assay.pipeline.preference.build import build_pairs
from assay.session.session import Session
from assay.ui.preference_view import PAGE_SIZE, pair_page
from tests.test_preference_pairs import curated
from tests.test_report import SEEDS, Checker
from tests.test_ui_compare import get, served


def well_formed(page: str) -> None:
    checker = Checker()
    checker.feed(page)
    checker.close()
    assert checker.errors == [] and checker.stack == []  # every tag closed
    assert all(ref.split("=", 1)[1].startswith("/") for ref in checker.remote)  # links stay in the viewer


def test_the_viewer_lists_the_sessions_repair_pairs_with_their_evidence(tmp_path, runtime) -> None:
    session = curated(tmp_path, runtime, 19)
    expected = [p.row() for p in build_pairs(session.conn).pairs]  # what `assay export` writes by default
    assert len(expected) == 3 and {r["source"] for r in expected} == {"repair"}
    with served(session.dir) as (url, app):
        overview = get(url + "/")
        assert 'href="/preference"' in overview and "Preference pairs" in overview  # reachable from every page
        viewer = app.state.viewer  # type: ignore[attr-defined]
        assert "preference" not in viewer._cache  # lazy: nothing built until the page is opened
        page = get(url + "/preference")
        well_formed(page)
        # The rice answers tie (4 and 4): under the default margin of 1, the one drop.
        assert "3 pairs kept, 1 dropped" in page and "below_margin: 1" in page and "minimum margin of\n1 judge points" in page
        counts = page[page.index('id="preference-counts"'):page.index("<h2>Pairs")]
        assert '<a href="/preference?source=repair">repair</a></td><td class="num">3</td>' in counts
        assert '>synthetic_sibling</a></td><td class="num">0</td>' in counts
        listed = page[page.index('id="preference-pairs"'):]
        cards = listed.split('<div class="card pair"')[1:]
        assert len(cards) == 3
        for row in expected:
            prov = row["provenance"]
            [card] = [c for c in cards if f'class="mono chosen-link" href="/samples/{prov["chosen_id"]}"' in c]
            assert f'class="mono rejected-link" href="/samples/{prov["rejected_id"]}"' in card
            assert "margin <b>3</b>" in card and "both orders agree" in card
            assert unescape(row["prompt"][0]["content"]) in unescape(card)
            for d in prov["decision_ids"]:
                assert f'href="/decisions/{d}"' in card
            for c in prov["pairwise_call_ids"]:
                assert f'href="/calls/{c}"' in card
            for v in prov["verdict_ids"]:
                assert f'>#{v}</a>' in card
            # The diff marks what the repair changed: the rejected reply on the left, the chosen on the right.
            assert re.search(r'<td class="left">[^<]*<mark>WRONG</mark>', card)
            assert re.search(r'<td class="right">[^<]*<mark>FIXED</mark>', card)
        kept = viewer._cache["preference"]
        assert get(url + "/preference") == page and viewer._cache["preference"] is kept  # cached
        only = get(url + "/preference?source=judged_response")
        assert "No pair kept from judged_response at these filters." in only and 'class="card pair"' not in only
        with pytest.raises(urllib.error.HTTPError) as bad:
            urllib.request.urlopen(url + "/preference?source=nope", timeout=60)
        assert bad.value.code == 400
        # A change to the session (a chosen side found contaminated) rebuilds the page on its next view.
        session.store.set_status([expected[0]["provenance"]["chosen_id"]], Status.DROPPED, "contaminated:gsm8k:12")
        again = get(url + "/preference")
        assert viewer._cache["preference"] is not kept
        assert "2 pairs kept, 2 dropped" in again and again.count('class="card pair"') == 2
        assert ">repair</a></td><td class=\"num\">2</td>\n    <td>chosen_contaminated: 1</td>" in again
    session.close()


def test_the_viewer_says_when_a_session_has_no_preference_evidence(session: Session) -> None:
    session.samples.insert(SEEDS, round=0)
    with served(session.dir) as (url, _):
        page = get(url + "/preference")
    well_formed(page)
    assert 'id="preference-note"' in page and 'class="card pair"' not in page
    assert "This session holds no preference evidence yet" in page


def test_a_long_list_of_pairs_is_paged_and_filtered_by_source() -> None:
    def row(n: int, source: str) -> dict:
        return {"source": source, "chosen": [{"role": "assistant", "content": f"good {n}"}],
                "rejected": [{"role": "assistant", "content": f"bad {n}"}]}

    found = {"rows": [row(n, "repair" if n % 2 else "judged_response") for n in range(45)]}
    first = pair_page(found, None, 0)
    assert [p["number"] for p in first["pairs"]] == list(range(1, PAGE_SIZE + 1))
    assert (first["total"], first["prev"], first["next"]) == (45, None, PAGE_SIZE)
    last = pair_page(found, None, 40)
    assert [p["number"] for p in last["pairs"]] == [41, 42, 43, 44, 45] and (last["prev"], last["next"]) == (20, None)
    repairs = pair_page(found, "repair", 20)
    assert repairs["total"] == 22 and [p["chosen"][0]["content"] for p in repairs["pairs"]] == ["good 41", "good 43"]
    changed = [s.text for s in repairs["pairs"][0]["diff"]["rows"][0].right if s.changed]
    assert changed == ["good"]  # rejected "bad 41" on the left, chosen "good 41" on the right
