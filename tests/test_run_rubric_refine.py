"""Rubric refinement inside `assay run` (`[rubric] refine`), and the run's pairwise checks under the recipe's rubric.

A review-mode run with the scripted curation world repairs six wrong answers. Three rewrites
come back padded with filler; under the recipe's known-bad rubric (`verbosity`: longer is
better) the pairwise judge prefers every rewrite, and a person rejects the padded ones in
`assay review` (the same function). Resumed, the run refines its rubric at the review gate: the
scripted editor proposes `conciseness`, under which the pairwise judge prefers the shorter
original over a padded rewrite, so held-out agreement rises and the rest of the run judges under
it. Each resume opens the session afresh from disk, as `assay resume` does.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from assay.cli.run import RUN_OPTIONS_META, drive
from assay.core.config import Config, JudgeSettings, Targets
from assay.core.config_sources import load_config
from assay.core.recipe_rubric import RubricSettings
from assay.llm.budget import BudgetLedger
from assay.llm.transport import CompletionRequest
from assay.pipeline.deps import RunOptions
from assay.pipeline.repair.review import review
from assay.pipeline.rubric.in_force import pairwise_rubric
from assay.session.proposals import proposals
from assay.session.session import Session
from assay.testing.scripted import ScriptedTransport, scripted_gateway
from tests.curation_world import CurationWorld, blocks
from tests.rubric_world import BAD_RUBRIC, FIXED, PADDING, USELESS

GOOD = [
    ("How long should I boil an egg for a soft yolk?", "Boil it for about six minutes, then cool it in cold water."),
    ("How do I keep pasta from sticking together?", "Use plenty of boiling salted water and stir in the first minutes."),
    ("What does it mean to sear meat?", "Searing browns the surface over high heat before slower cooking."),
    ("How do I make rice fluffy?", "Rinse the rice, use the right water ratio and let it steam covered."),
    ("Why does the Moon show phases?", "We see different parts of its sunlit half as it orbits the Earth."),
    ("What is a light-year?", "The distance light travels in one year, about 9.46 trillion kilometres."),
    ("Why is Mars red?", "Iron oxide dust on its surface gives Mars its reddish colour."),
    ("What is a comet made of?", "Ice, dust and rock, which form a glowing tail near the Sun."),
    ("Why do stars twinkle?", "Turbulence in Earth's atmosphere bends their light back and forth."),
    ("What is a black hole?", "A region where gravity is so strong that not even light escapes."),
]
WRONG = [  # the rewriter pads the answers that say "Notably"
    ("Why do recipes rest meat after roasting?", "Resting lets the juices settle so they stay in the meat. WRONG"),
    ("How do I poach an egg?", "Slide a fresh egg into barely simmering water for three minutes. WRONG"),
    ("What causes a solar eclipse?", "The Moon passes between the Sun and the Earth. WRONG"),
    ("How do I caramelize onions?", "Notably, cook sliced onions slowly over low heat for forty minutes. WRONG"),
    ("How many planets orbit the Sun?", "Notably, eight planets orbit the Sun, from Mercury to Neptune. WRONG"),
    ("Can I deduct a home office from my taxes?", "Notably, often yes, if the space is used only for work. WRONG"),
]
CRITERIA = re.compile(r"^- ([a-z0-9_]+): ", re.MULTILINE)


class Killed(Exception):
    """Stands for the process dying (pytest reserves KeyboardInterrupt for itself)."""


class RubricWorld(CurationWorld):
    """The curation world, with padded rewrites, a pairwise judge that reads its rubric, and the rubric editor."""

    def __init__(self, edit: list[dict[str, str]] | None = None) -> None:
        super().__init__()
        self.edit = FIXED if edit is None else edit

    def _answer(self, request: CompletionRequest, props: set[str]) -> tuple[str, Any]:
        data = blocks(request)
        if props == {"criteria", "rationale"}:
            return "editor", {"criteria": self.edit, "rationale": "people reject padded rewrites"}
        if "changes" in props and "Notably" in data.get("response", ""):
            return "rewrite", {"response": data["response"].replace("WRONG", "FIXED") + PADDING, "changes": ["fixed"]}
        if props == {"rationale", "winner"} and "- conciseness:" in request.messages[0]["content"]:
            a, b = data["response_a"], data["response_b"]
            if abs(len(a) - len(b)) >= 100:  # under conciseness the padded one loses
                return "pairwise", {"rationale": "the shorter says it", "winner": "a" if len(a) < len(b) else "b"}
        return super()._answer(request, props)


def write_pool(path: Path) -> Path:
    rows = [{"instruction": q, "input": "", "output": a} for q, a in GOOD + WRONG]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


class Run:
    """One review-mode session driven like `assay run` and `assay resume`, a fresh Session per process."""

    def __init__(self, tmp_path: Path, runtime: Any, config: Config, world: RubricWorld) -> None:
        tmp_path.mkdir(parents=True, exist_ok=True)
        self.dir, self.runtime, self.world = tmp_path / "session", runtime, world
        self.transport = ScriptedTransport(default=lambda r: world(r))
        self.options = RunOptions(inputs=[str(write_pool(tmp_path / "pool.jsonl"))], review=True, cluster_min=1)
        self.config = config

    async def go(self, *, resume: bool, budget: BudgetLedger | None = None) -> Any:
        if resume:  # as resume_run: the stored recipe, read back
            stored = Session.open_read_only(self.dir, self.runtime)
            config = Config.model_validate(stored.config.model_dump())
            stored.close()
            session = Session.open(self.dir, self.runtime, config, create=False, set_recipe=True)
        else:
            session = Session.open(self.dir, self.runtime, self.config, create=True)
            session.set_meta(RUN_OPTIONS_META, self.options.model_dump(mode="json"))
        session.gateway = scripted_gateway(session, self.transport, budget=budget)  # type: ignore[misc]
        try:
            return await drive(session, self.options, lambda kind, data: None, resume=resume)
        finally:
            session.close()

    def decide_repairs(self) -> None:
        """A person approves the plain rewrites and rejects the padded ones, through `assay review`'s function."""
        pending = [p for p in self.pending() if p.kind == "repair"]
        padded = [p.id for p in pending if PADDING.strip() in p.payload["sample"]["messages"][-1]["content"]]
        assert len(pending) == 6 and len(padded) == 3
        review(self.dir, self.runtime, approve=[], reject=padded, approve_all=False, reject_all=False,
               note="padded with filler", by="alice")
        review(self.dir, self.runtime, approve=[p.id for p in pending if p.id not in padded], reject=[],
               approve_all=False, reject_all=False, note=None, by="alice")

    def approve_all(self) -> None:
        review(self.dir, self.runtime, approve=[], reject=[], approve_all=True, reject_all=False, note=None, by="alice")

    def pending(self) -> list[Any]:
        session = Session.open_read_only(self.dir, self.runtime)
        try:
            return proposals(session.conn, status="pending")
        finally:
            session.close()

    def query(self, sql: str) -> list[Any]:
        session = Session.open_read_only(self.dir, self.runtime)
        try:
            return [tuple(r) for r in session.conn.execute(sql)]
        finally:
            session.close()

    def prompts(self, kind: str, since: int = 0) -> list[str]:
        """System prompts of the pointwise judge ("judge") or the pairwise judge ("pairwise") from request `since`."""
        start = {"judge": "You review instruction-tuning data", "pairwise": "You compare two responses"}[kind]
        return [r.messages[0]["content"] for r in self.transport.requests[since:]
                if r.messages[0]["content"].startswith(start)]

    async def finish(self) -> Any:
        outcome = await self.go(resume=True)
        while outcome.waiting_for_review:
            self.approve_all()
            outcome = await self.go(resume=True)
        return outcome


def refine_config(**rubric: Any) -> Config:
    return Config(targets=Targets(size=13, quality_floor=3.0), judge=JudgeSettings(rubric=BAD_RUBRIC),
                  rubric=RubricSettings(refine=True, **rubric))


def criteria(prompt: str) -> list[str]:
    return CRITERIA.findall(prompt.split("Give an overall")[0].split("[[user]]")[0])


async def first_review(tmp_path: Path, runtime: Any, world: RubricWorld, config: Config | None = None) -> Run:
    run = Run(tmp_path, runtime, config or refine_config(), world)
    outcome = await run.go(resume=False)
    assert outcome.waiting_for_review and not world.asked.get("editor")
    # The recipe set its own rubric: the run's pairwise checks weigh by it.
    assert run.prompts("pairwise") and all("- verbosity: Longer" in p for p in run.prompts("pairwise"))
    run.decide_repairs()
    return run


async def test_a_kept_refinement_judges_the_rest_of_the_run(tmp_path: Path, runtime: Any) -> None:
    world = RubricWorld()
    run = await first_review(tmp_path, runtime, world)
    before = len(run.transport.requests)
    assert all(criteria(p) == ["accuracy", "verbosity"] for p in run.prompts("judge"))
    outcome = await run.finish()
    assert outcome.finished and world.asked["editor"] == 1
    (switch,) = run.query("SELECT action, reason, scores FROM decisions WHERE agent = 'rubric_refine'")
    assert switch[0] == "rubric_switched" and "0.500 -> 1.000" in switch[1] and "was: accuracy, verbosity" in switch[1]
    assert json.loads(switch[2]) == {"agreement_before": 0.5, "agreement_after": 1.0}
    # The three approved rewrites are judged after the switch, under the refined rubric only.
    later = run.prompts("judge", since=before)
    assert len(later) == 3 and all(criteria(p) == ["accuracy", "conciseness"] for p in later)
    (recipe,) = run.query("SELECT value FROM meta WHERE key = 'config'")
    assert json.loads(recipe[0])["judge"]["rubric"] == FIXED
    assert (run.dir / "refined_rubric.toml").is_file()
    assert len(run.query("SELECT id FROM rubric_refinements")) == 1


async def test_nothing_kept_leaves_the_prompts_as_they_were(tmp_path: Path, runtime: Any) -> None:
    world = RubricWorld(edit=USELESS)
    run = await first_review(tmp_path, runtime, world)
    before = len(run.transport.requests)
    outcome = await run.finish()
    assert outcome.finished and world.asked["editor"] == 1
    (unchanged,) = run.query("SELECT action, reason FROM decisions WHERE agent = 'rubric_refine'")
    assert unchanged[0] == "rubric_unchanged" and "no proposal raised held-out agreement above 0.500" in unchanged[1]
    later = run.prompts("judge", since=before)
    assert len(later) == 3 and all(criteria(p) == ["accuracy", "verbosity"] for p in later)  # the approved rewrites
    (recipe,) = run.query("SELECT value FROM meta WHERE key = 'config'")
    assert [c["name"] for c in json.loads(recipe[0])["judge"]["rubric"]] == ["accuracy", "verbosity"]
    assert not (run.dir / "refined_rubric.toml").exists()


async def test_a_kill_after_the_switch_keeps_the_refined_rubric(tmp_path: Path, runtime: Any,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    import assay.pipeline.rubric.in_run as in_run

    world = RubricWorld()
    run = await first_review(tmp_path, runtime, world)
    real = in_run._record

    def record_then_die(session: Any, decided: Any, action: str, *args: Any, **kwargs: Any) -> None:
        real(session, decided, action, *args, **kwargs)
        raise Killed  # the process dies right after the switch committed, before the gate's checkpoint

    monkeypatch.setattr(in_run, "_record", record_then_die)
    with pytest.raises(Killed):
        await run.go(resume=True)
    monkeypatch.setattr(in_run, "_record", real)
    before = len(run.transport.requests)
    outcome = await run.finish()
    assert outcome.finished
    assert world.asked["editor"] == 1  # the resumed gate did not refine again
    assert [a for a, in run.query("SELECT action FROM decisions WHERE agent = 'rubric_refine'")] == ["rubric_switched"]
    later = run.prompts("judge", since=before)
    assert len(later) == 3 and all(criteria(p) == ["accuracy", "conciseness"] for p in later)


async def test_a_spent_budget_stops_the_refinement_and_the_run_cleanly(tmp_path: Path, runtime: Any) -> None:
    world = RubricWorld()
    run = await first_review(tmp_path, runtime, world)
    outcome = await run.go(resume=True, budget=BudgetLedger(max_calls=2))  # the editor, then out while re-judging
    assert world.asked["editor"] == 1
    assert outcome.waiting_for_review and outcome.state.stop_reason == "budget_spent"  # the export's review
    (stopped,) = run.query("SELECT action, reason FROM decisions WHERE agent = 'rubric_refine'")
    assert stopped[0] == "rubric_refine_stopped" and "budget spent" in stopped[1]
    assert run.query("SELECT id FROM rubric_refinements") == [] and not (run.dir / "refined_rubric.toml").exists()
    (recipe,) = run.query("SELECT value FROM meta WHERE key = 'config'")
    assert [c["name"] for c in json.loads(recipe[0])["judge"]["rubric"]] == ["accuracy", "verbosity"]


async def test_too_few_decisions_change_nothing_and_say_so(tmp_path: Path, runtime: Any) -> None:
    world = RubricWorld()
    run = Run(tmp_path, runtime, refine_config(), world)
    await run.go(resume=False)
    pending = [p.id for p in run.pending()]
    review(run.dir, runtime, approve=pending[:2], reject=pending[2:3], approve_all=False, reject_all=False, note=None,
           by="alice")
    review(run.dir, runtime, approve=[], reject=[], approve_all=True, reject_all=False, note=None, by="auto")
    await run.go(resume=True)
    assert not world.asked.get("editor")  # three decisions by a person: the "auto" ones are no human decision
    (reason,) = run.query("SELECT action, reason FROM decisions WHERE agent = 'rubric_refine'")
    assert reason[0] == "rubric_unchanged" and "3 review item(s) decided by a person so far" in reason[1]
    assert "needs at least 4" in reason[1]


async def test_refine_off_makes_no_refinement(tmp_path: Path, runtime: Any) -> None:
    world = RubricWorld()
    config = Config(targets=Targets(size=13, quality_floor=3.0), judge=JudgeSettings(rubric=BAD_RUBRIC))
    run = await first_review(tmp_path, runtime, world, config)
    await run.finish()
    assert not world.asked.get("editor") and run.query("SELECT id FROM decisions WHERE agent = 'rubric_refine'") == []


async def test_a_recipe_rubric_reaches_the_pairwise_prompt_and_the_default_does_not(tmp_path: Path,
                                                                                    runtime: Any) -> None:
    recipe = tmp_path / "refined.toml"
    recipe.write_text("[targets]\nsize = 13\nquality_floor = 3.0\n\n" + "".join(
        f'[[judge.rubric]]\nname = "{c["name"]}"\ndescription = "{c["description"]}"\n\n' for c in FIXED))
    loaded = load_config(recipe)
    assert pairwise_rubric(loaded.judge) == loaded.judge.rubric
    run = Run(tmp_path / "given", runtime, loaded, RubricWorld())
    run.options = run.options.model_copy(update={"review": False})
    await run.go(resume=False)
    pairwise = run.prompts("pairwise")
    assert pairwise and all("Weigh the responses by these criteria:\n- accuracy: Facts" in p
                            and "- conciseness: The response says" in p for p in pairwise)
    default = Run(tmp_path / "plain", runtime, Config(targets=Targets(size=13, quality_floor=3.0)), RubricWorld())
    default.options = default.options.model_copy(update={"review": False})
    await default.go(resume=False)
    assert default.prompts("pairwise") and not any("Weigh the responses" in p for p in default.prompts("pairwise"))


def test_the_default_rubric_read_back_from_a_stored_recipe_is_no_pairwise_rubric() -> None:
    stored = Config.model_validate(Config().model_dump(mode="json"))
    assert "rubric" in stored.judge.model_fields_set and pairwise_rubric(stored.judge) == ()
    assert pairwise_rubric(Config().judge) == ()
    explicit = Config.model_validate(Config(judge=JudgeSettings(rubric=BAD_RUBRIC)).model_dump(mode="json"))
    assert pairwise_rubric(explicit.judge) == BAD_RUBRIC


async def test_the_bias_cue_repair_weighs_its_pairwise_check_by_the_recipe_rubric(tmp_path: Path, runtime: Any) -> None:
    from assay.core.recipe_cues import CueSettings
    from assay.pipeline.repair.cues import run_cue_repairs
    from tests.test_bias_cue_repair import SIGNIFICANT, _open

    for name, config, shown in (("given", Config(judge=JudgeSettings(rubric=BAD_RUBRIC)), True),
                                 ("default", Config(), False)):
        session, world, _ = _open(tmp_path / name, runtime, ["egg"], config=config)
        try:
            await run_cue_repairs(session, SIGNIFICANT, CueSettings(), round=1, review=False)
            requests = [r[0] for r in session.conn.execute("SELECT request FROM llm_calls WHERE prompt_version LIKE"
                                                           " 'judge_pairwise%'")]
            assert world.asked["pairwise"] == 2 and len(requests) == 2
            assert all(("- verbosity: Longer" in r) is shown and ("Weigh the responses" in r) is shown
                       for r in requests)
        finally:
            session.close()
