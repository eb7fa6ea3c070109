"""The soak eval: assay's five promises, measured together under provider faults and kills.

    python evals/soak.py [--samples 300] [--kills 20] [--seed 0] [--quick]

1. A local OpenAI-wire provider (evals/soak_provider.py) answers the agents' schemas and
   gives 30 % of requests a fault, as a function of (request, attempt), so runs see the
   same faults. Each paid answer costs the same known amount, and the budget binds.
2. `assay run` (judge, repair, expand, select, export) on an Alpaca subset plus multi-turn
   ShareGPT chats, uninterrupted (twice: the second is a control for the loop's own
   determinism); then the same run SIGKILLed at seeded random moments and `assay resume`d
   each time until it finishes. Outputs, lost samples, repeated paid calls,
   budget overshoot and tracebacks are compared (evals/soak_run.py).
3. Malformed files in all four formats through the reader the CLI uses (evals/soak_badinput.py).
4. A planted API key, echoed back by the provider, searched for everywhere (evals/soak_secrets.py).
The figures print as a table with their goals; everything else stays in the work folder.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

PRICE_FLAG = "--price-usd-per-1k-tokens"
sys.path.insert(0, str(Path(__file__).resolve().parent))

from soak_badinput import bad_input  # noqa: E402
from soak_provider import FaultyProvider, Pricing  # noqa: E402
from soak_run import (ALPACA, RunLog, accounting, assay_cmd, drive, multiset_diff, read_jsonl,  # noqa: E402
                      session_figures, tracebacks, write_inputs)
from soak_secrets import check_counter, planted_key, secrets  # noqa: E402


def main() -> None:
    """Run the soak and print its figures."""
    args = parse_args()
    if not ALPACA.exists():
        sys.exit(f"soak: {ALPACA} is missing (see ../shared/data/README.md)")
    work = Path(args.workdir or tempfile.mkdtemp(prefix="assay-soak-"))
    work.mkdir(parents=True, exist_ok=True)
    key = planted_key(args.seed)
    check_counter(key)
    env = base_env(work, key, args)
    help_text = run_help(env)
    model, price_flags, price = priced_model(args, help_text, Pricing())
    total = args.samples + args.chats
    budget = round((args.budget_calls or 1.25 * total + 200) * price, 6)
    inputs = write_inputs(work / "inputs", args.samples, args.chats, args.seed)
    run_args = [*map(str, inputs), "--model", model, *price_flags, "--budget-usd", f"{budget}",
                "--target-size", str(total // 2), "--quality-floor", f"{args.quality_floor}", "--min-quality", "4.7",
                "--max-rounds", str(args.max_rounds)]
    print(f"soak: work folder {work}; {args.samples}+{args.chats} samples; {model} {' '.join(price_flags)}: "
          f"${price:.5f} per paid call, budget ${budget}", flush=True)
    args.model = model  # the judge and models-check runs of the secret check use it too
    figures: dict = {"work": str(work), "price_per_call": price, "budget_usd": budget, "args": vars(args)}
    runs = {}
    for name in ("reference", "control", "killed") if args.control else ("reference", "killed"):
        with FaultyProvider(seed=args.seed, planted_key=key, timeout_s=args.timeout_s) as provider:
            run_env = with_api_base(env, provider.base_url, help_text)
            kills = args.kills if name == "killed" else 0
            kill_after_s = kill_plan(args, runs["reference"], figures["reference"]["summary"]["requests"]) \
                if kills else (lambda *_: 0.0)
            print(f"soak: {name} run ({kills} kills planned)…", flush=True)
            log = drive(run_args + run_env[1], work / name / "session", run_env[0], work / name / "logs",
                        kills=kills, kill_after_s=kill_after_s, provider_log=provider.log, hang_s=args.hang_s)
            runs[name] = log
            figures[name] = run_figures(log, provider, inputs, price, budget, args.concurrency)
            (work / name / "provider_log.jsonl").write_text("".join(json.dumps(e) + "\n" for e in provider.log))
            print(f"soak: {name} run done in {log.wall_s:.0f} s: {json.dumps(figures[name]['summary'])}", flush=True)
    ref, killed = (work / n / "session" for n in ("reference", "killed"))
    figures["diff"] = {other: {part: multiset_diff(read_jsonl(ref / f"{part}.jsonl"), read_jsonl(work / other / "session" / f"{part}.jsonl"))
                               for part in ("curated", "rejected")} for other in runs if other != "reference"}
    print("soak: malformed inputs…", flush=True)
    figures["bad_input"] = bad_input(work / "malformed", args, env)
    print("soak: secrets…", flush=True)
    figures["secrets"] = secrets(work, [work / n / "session" for n in runs], env, key, args, runs)  # killed last: the viewer
    logs = [p for r in runs.values() for p in r.logs()] + [Path(p) for p in figures["secrets"].pop("logs")]
    figures["tracebacks"] = tracebacks(logs) + figures["bad_input"]["cli_tracebacks"]
    (work / "soak_figures.json").write_text(json.dumps(figures, indent=1, default=str))
    print_table(figures, args)
    print(f"\nsoak: details in {work / 'soak_figures.json'}")


def parse_args() -> argparse.Namespace:
    """The command line; --quick shrinks everything to a few minutes."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=300, help="Alpaca samples (of alpaca_5000)")
    parser.add_argument("--chats", type=int, default=20, help="generated multi-turn ShareGPT conversations")
    parser.add_argument("--kills", type=int, default=20, help="SIGKILLs during the killed run")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--malformed", type=int, default=1000, help="malformed files")
    parser.add_argument("--cli-sample", type=int, default=30, help="malformed files also run through `assay ingest`")
    parser.add_argument("--budget-calls", type=float, help="paid calls the budget buys (default: 1.25 per sample + 200)")
    parser.add_argument("--max-rounds", type=int, default=4)
    parser.add_argument("--quality-floor", type=float, help="also the repair threshold; the default leaves about five "
                        "samples to repair, so round 1 repairs and later rounds expand (3 below 150 samples, else 2.5)")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--timeout-s", type=float, default=3.0, help="the client's timeout; slow answers exceed it")
    parser.add_argument("--hang-s", type=float, default=1200.0, help="a process running longer is called hung")
    parser.add_argument("--model", help="default: openai/soak-model at --price-per-1k, or openai/gpt-4o-mini at "
                        "litellm's price when `assay run` takes no price")
    parser.add_argument("--price-per-1k", type=float, default=0.00024, help="USD per 1,000 tokens ($0.0006 a call)")
    parser.add_argument("--no-control", dest="control", action="store_false",
                        help="skip the second uninterrupted run that shows whether the loop itself is deterministic")
    parser.add_argument("--workdir", help="keep everything here (default: a new temp folder)")
    parser.add_argument("--quick", action="store_true", help="60 samples, 6 chats, 4 kills, 100 malformed files, no control run")
    args = parser.parse_args()
    if args.quick:
        args.samples, args.chats, args.kills, args.malformed, args.cli_sample = 60, 6, 4, 100, 6
        args.control = False
    if args.quality_floor is None:
        args.quality_floor = 3.0 if args.samples < 150 else 2.5
    return args


def base_env(work: Path, key: str, args: argparse.Namespace) -> dict[str, str]:
    """The runs' environment: the planted key, a private ASSAY_HOME, no network, unbuffered output."""
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY") and not k.startswith("ASSAY_")}
    env.update(OPENAI_API_KEY=key, ASSAY_HOME=str(work / "home"), PYTHONUNBUFFERED="1", COLUMNS="400",
               HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", LITELLM_LOCAL_MODEL_COST_MAP="True",
               ASSAY_LLM__CONCURRENCY=str(args.concurrency), ASSAY_LLM__TIMEOUT_S=str(args.timeout_s))
    return env


def run_help(env: dict[str, str]) -> str:
    """`assay run --help`: which of the newer options (--api-base, a price) this assay has."""
    return subprocess.run(assay_cmd("run", "--help"), env=env, capture_output=True, text=True, timeout=300).stdout


def with_api_base(env: dict[str, str], url: str, help_text: str) -> tuple[dict[str, str], list[str]]:
    """Point the run at the provider: `--api-base` when `assay run` has it, else ASSAY_LLM__API_BASE."""
    if "--api-base" in help_text:
        return env, ["--api-base", url]
    return {**env, "ASSAY_LLM__API_BASE": url}, []


def priced_model(args: argparse.Namespace, help_text: str, pricing: Pricing) -> tuple[str, list[str], float]:
    """(model, flags, price of one paid answer): a user-given price when `assay run` takes one, else litellm's."""
    if PRICE_FLAG in help_text:  # an unpriced model with the user's price: the path a self-hosted model takes
        per_call = args.price_per_1k * (pricing.prompt_tokens + pricing.completion_tokens) / 1000
        return args.model or "openai/soak-model", [PRICE_FLAG, f"{args.price_per_1k}"], per_call
    model = args.model or "openai/gpt-4o-mini"
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm

    prompt, completion = litellm.cost_per_token(model=model.split("/", 1)[-1], prompt_tokens=pricing.prompt_tokens,
                                                completion_tokens=pricing.completion_tokens)
    if prompt + completion <= 0:
        sys.exit(f"soak: litellm has no price for {model} and `assay run` takes no price; pick a priced model")
    return model, [], prompt + completion


def kill_plan(args: argparse.Namespace, reference: RunLog, reference_requests: int) -> Callable[[RunLog, int], float]:
    """When to kill each attempt: seeded, spread so that the kills cover the whole run.

    An attempt first starts up (for `run`: reading, embedding, screening; for `resume`: what
    earlier resumes took to reach their first new request). One kill in five falls inside
    that start-up; the others fall a seeded fraction into a slice of the work the uninterrupted
    run suggests is left, shared among the kills still to come (1.5 shares, so on average a
    kill lands three quarters of a share in and the last ones still fall before the end).
    """
    rng = random.Random(args.seed)
    total = reference.wall_s
    first = reference.attempts[0].get("first_request_s") or 0.3 * total
    work = max(1.0, total - first)

    def kill_after_s(log: RunLog, requests_so_far: int) -> float:
        boots = [a["first_request_s"] for a in log.attempts[1:] if a.get("first_request_s") is not None]
        boot = first if not log.attempts else statistics.median(boots) if boots else first / 2
        left = work * max(0.05, 1 - requests_so_far / max(1, reference_requests))
        fraction, in_boot = rng.random(), rng.random() < 0.2
        share = left / (max(1, args.kills - log.kills) + 1)
        return fraction * boot if in_boot else boot + fraction * 1.5 * share

    return kill_after_s


IN_FLIGHT_WINDOW_S = 3.0  # the provider answers within 0.25 s; the rest is the client's parse and cache write


def _killed_between(attempts: list[dict], first: float, again: float) -> bool:
    """Whether the process that got the paid answer at `first` was SIGKILLed before `again`."""
    starts = [a["started"] for a in attempts]
    owner = max((i for i, s in enumerate(starts) if s <= first), default=None)
    if owner is None or "killed_at_s" not in attempts[owner] or attempts[owner].get("hung"):
        return False
    killed = attempts[owner]["started"] + attempts[owner]["killed_at_s"]
    # In flight: answered so shortly before the kill that the client cannot have stored it yet. An
    # answer older than that which is asked again after a resume is a cache miss: a true double pay.
    # `killed` is when the kill timer ran out; the SIGKILL itself follows a moment later, so an
    # answer served in between (killed - first < 0) was in flight too.
    return killed - first <= IN_FLIGHT_WINDOW_S and killed <= again


def run_figures(log, provider: FaultyProvider, inputs: list[Path], price: float, budget: float, concurrency: int) -> dict:
    """One run's figures: outcome, accounting, repeats, and spend against the budget."""
    repeat_times, paid = provider.repeated_paid()
    across_kill = sum(1 for first, again in repeat_times if _killed_between(log.attempts, first, again))
    spent = paid * price
    recorded = session_figures(log.session)
    faults = sum(1 for e in provider.log if e["fault"])
    echoes = sum(1 for e in provider.log if str(e["fault"]).startswith("echo"))
    summary = {"key_sent": provider.key_sent(), "key_echoed": echoes, "finished": log.finished, "kills": log.kills, "stuck": log.stuck, "hung": log.hung,
               "requests": len(provider.log), "faults": faults, "paid": paid,
               # A repeat across a kill is an answer that was in flight when its process died (it never
               # reached the cache): bounded by the calls in flight. Any other repeat is a true double pay.
               "repeated_paid": len(repeat_times) - across_kill, "resent_after_kill": across_kill}
    return {"summary": summary, "accounting": accounting(inputs, log.session), "spent_usd": spent,
            "overshoot_usd": max(0.0, spent - budget), "inflight_bound_usd": concurrency * price,
            "recorded": recorded, "attempts": log.attempts}


def print_table(f: dict, args: argparse.Namespace) -> None:
    """The figures, each with its goal and whether it is met."""
    ref, kil, bad, sec = f["reference"], f["killed"], f["bad_input"], f["secrets"]
    rs, ks = ref["summary"], kil["summary"]
    diff = f["diff"]["killed"]
    identical = diff["curated"] == diff["rejected"] == 0 and rs["finished"] and ks["finished"]
    stages = kil["recorded"]["stages"]
    rows = [
        ("loop stages run in the killed run", ", ".join(f"{k} {v}" for k, v in stages.items()) or "none",
         "each > 0", bool(stages) and all(stages.values())),
        ("killed run finished (kills done / planned)", f"{'yes' if ks['finished'] else 'NO'} ({ks['kills']}/{args.kills}, "
         f"{ks['stuck']} false 'finished', {ks['hung']} hung)", "yes", ks["finished"] and ks["kills"] >= args.kills),
        ("identical curated + rejected vs uninterrupted", f"{'yes' if identical else 'no'} (diff: curated "
         f"{diff['curated']}, rejected {diff['rejected']})", "yes, diff 0", identical),
        *([("  (control: a second uninterrupted run, diff)", f"curated {f['diff']['control']['curated']}, rejected "
             f"{f['diff']['control']['rejected']}", "0 (else the loop itself varies)",
             f['diff']['control']['curated'] == f['diff']['control']['rejected'] == 0)] if "control" in f["diff"] else []),
        *[(f"samples lost / duplicated ({name})", f"{run['accounting']['lost']} / {run['accounting']['duplicated']} of "
           f"{run['accounting']['inputs']} inputs; {run['accounting']['unexported']} of {run['accounting']['held']} held "
           "samples not exported", "0 / 0; 0", run["accounting"]["lost"] == run["accounting"]["duplicated"] == 0
           and run["accounting"]["unexported"] == 0) for name, run in (("killed run", kil), ("uninterrupted", ref))],
        ("repeated paid calls, answered before (killed run)", f"{ks['repeated_paid']} of {ks['paid']} paid", "0",
         ks["repeated_paid"] == 0),
        ("  re-sent after a kill (answer in flight at the kill)", f"{ks['resent_after_kill']} (<= {args.concurrency} "
         f"in flight x {ks['kills']} kills)", f"<= {ks['kills'] * args.concurrency}",
         ks["resent_after_kill"] <= ks["kills"] * args.concurrency),
        ("repeated paid calls (uninterrupted)", f"{rs['repeated_paid']} of {rs['paid']} paid", "0", rs["repeated_paid"] == 0),
    ]
    for name, run in (("uninterrupted", ref), ("killed", kil)):
        rows.append((f"budget overshoot, {name} (${f['budget_usd']:.4f}; stop: {str(run['recorded']['stop'])[:40]})",
                     f"${run['overshoot_usd']:.4f} (spent ${run['spent_usd']:.4f}, recorded ${run['recorded']['recorded_usd']:.4f})",
                     f"<= ${run['inflight_bound_usd']:.4f} in flight", run["overshoot_usd"] <= run["inflight_bound_usd"] + 1e-9))
    rows += [
        ("tracebacks in any stdout/stderr", str(f["tracebacks"]), "0", f["tracebacks"] == 0),
        (f"malformed files: one-line error, file+line+field ({bad['files']})",
         f"{100 * bad['good_error'] / bad['files']:.1f} % {bad['outcomes']}", "100 %", bad["good_error"] == bad["files"]),
        (f"malformed files via `assay ingest`: exit 2, one line ({bad['cli_files']})",
         f"{100 * bad['cli_ok'] / max(1, bad['cli_files']):.1f} %", "100 %", bad["cli_ok"] == bad["cli_files"]),
        ("--skip-invalid keeps every valid record", f"{100 * bad['skip_kept_all'] / bad['files']:.1f} % of files",
         "100 %", bad["skip_kept_all"] == bad["files"]),
        ("planted key: sessions, traces, reports, logs, viewer", f"{sec['total']} (viewer: {sec['viewer']['hits']} in "
         f"{sec['viewer']['pages']} pages, {sec['viewer']['errors_5xx']} 5xx)", "0", sec["total"] == 0),
        ("  (control: key sent by the client; echoed in error bodies)",
         f"{'yes' if ks['key_sent'] and sec['echo_server']['key_sent'] else 'NO'}; {ks['key_echoed'] + rs['key_echoed']} "
         f"in runs, {sec['echo_server']['requests']} by judge/models check", "yes; > 0",
         ks["key_sent"] and ks["key_echoed"] + sec["echo_server"]["requests"] > 0),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"\n{'figure':<{width}}  {'measured':<60}  {'goal':<20}  met")
    for name, value, goal, met in rows:
        print(f"{name:<{width}}  {value:<60}  {goal:<20}  {'yes' if met else 'NO'}")


if __name__ == "__main__":
    started = time.monotonic()
    main()
    print(f"soak: {time.monotonic() - started:.0f} s")
