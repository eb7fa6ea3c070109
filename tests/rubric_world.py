"""A review world for rubric refinement: decided and pending expand items, a scripted judge with a known-bad
criterion, and a scripted rubric editor.

The session's rubric has `verbosity` ("longer, more detailed responses are better"): under it the
judge approves long padded answers, which the people reject. Under a rubric with `conciseness`
the judge rejects them. The scripted editor proposes whatever `World.edit` holds.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from assay.core.config import Config, Criterion, JudgeSettings
from assay.core.records import Message, Sample
from assay.session.proposals import decide, propose, sample_payload
from assay.session.session import Session

BAD_RUBRIC = (Criterion("accuracy", "Facts in the response are correct."),
              Criterion("verbosity", "Longer, more detailed responses are better."))
FIXED = [{"name": "accuracy", "description": "Facts in the response are correct."},
         {"name": "conciseness", "description": "The response says what is needed without padding or repetition."}]
USELESS = [{"name": "correctness", "description": "Facts in the response are correct."},
           {"name": "verbosity", "description": "Longer, more detailed responses are better."}]
PADDING = " To elaborate further, it is worth noting that this point is important and worth repeating." * 4
RESPONSE = re.compile(r'<data name="response">\n(.*?)\n</data>', re.DOTALL)
RESPONSE_A = re.compile(r'<data name="response_a">\n(.*?)\n</data>', re.DOTALL)
RESPONSE_B = re.compile(r'<data name="response_b">\n(.*?)\n</data>', re.DOTALL)
CRITERION = re.compile(r"^- ([a-z0-9_]+): ", re.MULTILINE)


@dataclass
class World:
    """Answers the judge and the editor; counts the calls by kind."""

    edit: list[dict[str, str]] = field(default_factory=lambda: list(FIXED))
    asked: dict[str, int] = field(default_factory=lambda: {"judge": 0, "pairwise": 0, "editor": 0})
    editor_prompts: list[str] = field(default_factory=list)

    def __call__(self, request: Any) -> str:
        system = request.messages[0]["content"]
        user = request.messages[-1]["content"]
        if system.startswith("You improve the rubric"):
            self.asked["editor"] += 1
            self.editor_prompts.append(user)
            return json.dumps({"criteria": self.edit, "rationale": "people reject padded answers"})
        if system.startswith("You compare two responses"):
            self.asked["pairwise"] += 1
            a, b = RESPONSE_A.search(user).group(1), RESPONSE_B.search(user).group(1)
            if abs(len(a) - len(b)) < 100:
                return json.dumps({"rationale": "the same length: the one that fixes it", "winner": "b" if b.startswith("Red") else "a"})
            shorter = "a" if len(a) < len(b) else "b"
            longer = "b" if shorter == "a" else "a"
            return json.dumps({"rationale": "by length", "winner": shorter if "- conciseness:" in system else longer})
        self.asked["judge"] += 1
        names = CRITERION.findall(system.split("Give an overall")[0])
        response = RESPONSE.search(user).group(1)
        overall = score(response, names)
        return json.dumps({"issues": [], "scores": {n: min(5, max(1, round(overall))) for n in names},
                           "overall": overall, "rationale": "scored"})


def score(response: str, names: list[str]) -> float:
    """The judge's overall score: length rewarded under `verbosity`, punished under `conciseness`."""
    if "maybe" in response:
        return 3.5  # on the keep threshold: the judge's most uncertain call
    long = len(response) > 200
    if "conciseness" in names:
        return 2.0 if long else 4.5
    return 5.0 if long else 4.0


def world_session(tmp_path: Any, runtime: Any, **config: Any) -> Session:
    """A session whose recipe has the known-bad rubric."""
    return Session.open(tmp_path / "session", runtime, Config(judge=JudgeSettings(rubric=BAD_RUBRIC), **config),
                        create=True)


def expand_item(session: Session, k: int, response: str) -> int:
    """A pending expand review item proposing a new sample with `response`."""
    sample = Sample.create([Message(role="user", content=f"Name a colour of the flag of country {k}."),
                            Message(role="assistant", content=response)], source="synth", op="synth")
    return propose(session.conn, session.runtime.clock, round=1, kind="expand", sample_id=sample.id,
                   summary=f"new sample {k}", payload=sample_payload(sample), auto_approve=False)


def decided_items(session: Session, good: int = 5, padded: int = 5) -> dict[str, list[int]]:
    """Concise answers a person approved, padded ones they rejected (with a note)."""
    ids = {"good": [expand_item(session, k, f"Red, {k}.") for k in range(good)],
           "padded": [expand_item(session, 100 + k, f"Red, {k}." + PADDING) for k in range(padded)]}
    decide(session.conn, session.runtime.clock, ids["good"], "approved", by="alice")
    decide(session.conn, session.runtime.clock, ids["padded"], "rejected", by="alice", note="padded with filler")
    return ids


def pending_items(session: Session) -> dict[str, int]:
    """Pending items: a padded one, a borderline one and a concise one."""
    return {"padded": expand_item(session, 200, "Blue." + PADDING), "borderline": expand_item(session, 201, "maybe blue"),
            "concise": expand_item(session, 202, "Blue.")}


def repair_item(session: Session, k: int, original: str, rewrite: str, outcome: str = "accepted") -> int | None:
    """A rewrite of a pool sample with the rewriter's traced pairwise outcome (and its answer, holding the text);
    a pending review item when the rewrite was accepted."""
    from assay.trace.log import CallRecord

    question = Message(role="user", content=f"Name a colour of flag {k}.")
    parent = Sample.create([question, Message(role="assistant", content=original)], source="seed")
    session.samples.insert([parent])
    child = Sample.create([question, Message(role="assistant", content=rewrite)], source="seed", parent_ids=(parent.id,),
                          op="rewrite")
    call = session.trace.llm_call(CallRecord(agent="rewriter", model="m", prompt_version="rewrite@0", messages=[],
                                             params={}, outcome="ok", attempt=1, latency_ms=1.0,
                                             response=json.dumps({"response": rewrite, "changes": []})))
    action = "rewrite_accepted" if outcome == "accepted" else "rewrite_rejected"
    session.trace.decision(parent.id, "rewriter", action, call_ids=[call], round=1,
                           reason=f"{outcome}: the judge ... rewrite {child.id} (orders); changes: none")
    if outcome != "accepted":
        return None
    return propose(session.conn, session.runtime.clock, round=1, kind="repair", sample_id=child.id, parent_id=parent.id,
                   summary=f"rewrite of {parent.id}", payload=sample_payload(child), auto_approve=False)
