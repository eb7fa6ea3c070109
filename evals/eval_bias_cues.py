"""Eval: bias-cue detection on alpaca_5000 with a planted cue and a planted quality label.

    python evals/eval_bias_cues.py [--clusters 20] [--permutations 1000] [--alpha 0.05] [--seed 0]
        [--null-runs 20] [--json OUT]

The label is AlpaGasus `claude_t45` membership (512 of the 5,000: the samples Claude rated >= 4.5
for accuracy), and, as a control, a synthetic label drawn at random (same 512 positives, so it is
independent of the text). The planted cue is the opener PLANTED, put in front of 70 % of the
positive responses and 10 % of the negative ones (seeded). No LLM is needed: the outcome is the
label itself (kept = 1, dropped = 0), as `assay cues detect --outcome kept` reads it.

Printed:
1. the planted pool: the detection rank of the planted cue (the first reported cue carried by
   the same responses as the plant, Jaccard >= 0.9), its effect and adjusted p, for both labels;
2. the unplanted pool: how many cues are reported at alpha with each label (should be none with
   the random label; with the AlpaGasus label real associations may exist, and are listed);
3. over `--null-runs` fresh random labels on the unplanted pool: in how many runs any cue is
   reported (the family-wise error rate, which max-T holds at alpha).

Clusters are k-means (`--clusters`, 0 for none) over the embeddings of the *unplanted* texts
with assay's embedder and shared cache, so planting changes no cluster. `planted_pool` is the
hook the repair eval (evals/eval_bias_cue_repair.py) uses to get the same pool.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from assay.core.formats import record_to_sample
from assay.tools.bias_cue_candidates import candidates
from assay.tools.bias_cue_detect import Detection, detect

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "alpaca"
PLANTED = "Certainly! Here is a detailed answer:"
RATES = (0.7, 0.1)  # the plant's share of positive, negative responses


def key(record: dict) -> tuple[str, str, str]:
    """The stripped (instruction, input, output) triple records are matched on (data README)."""
    return (record["instruction"].strip(), record.get("input", "").strip(), record["output"].strip())


@dataclass
class Pool:
    """alpaca_5000's records (non-empty outputs), their labels and, once planted, which carry the plant."""

    records: list[dict]
    label: np.ndarray  # AlpaGasus claude_t45 membership
    random_label: np.ndarray  # same number of positives, drawn at random
    planted: np.ndarray  # by the AlpaGasus label
    planted_random: np.ndarray  # by the random label

    def texts(self, planted: np.ndarray | None) -> list[str]:
        """The responses, with PLANTED in front of those marked."""
        return [f"{PLANTED} {r['output']}" if planted is not None and planted[i] else r["output"]
                for i, r in enumerate(self.records)]


def plant(label: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Which responses carry the plant: RATES[0] of the positives, RATES[1] of the negatives."""
    return rng.random(label.size) < np.where(label, RATES[0], RATES[1])


def planted_pool(seed: int = 0) -> Pool:
    """The eval's pool, labels and plants, deterministic under `seed` (also the repair eval's input)."""
    records = [r for r in json.loads((DATA / "alpaca_5000.json").read_text()) if r["output"].strip()]
    members = {key(r) for r in json.loads((DATA / "alpagasus_claude_t45.json").read_text())}
    label = np.array([key(r) in members for r in records])
    rng = np.random.default_rng(seed)
    random_label = np.zeros(label.size, dtype=bool)
    random_label[rng.choice(label.size, int(label.sum()), replace=False)] = True
    return Pool(records, label, random_label, plant(label, rng), plant(random_label, rng))


def clusters_of(records: list[dict], k: int, seed: int) -> np.ndarray | None:
    """k-means labels of the unplanted samples' embeddings (the session's embedder and cache), or None."""
    if k <= 0:
        return None
    from assay.core.config import StoreSettings
    from assay.session.embeddings import embedder_for
    from assay.tools.coverage import cluster_pool

    texts = [record_to_sample(r, "alpaca", source=f"alpaca_5000[{i}]").text() for i, r in enumerate(records)]
    vectors = embedder_for(StoreSettings(), os.environ).encode(texts)
    return cluster_pool(vectors, k, seed, threads=1).labels


def planted_rank(found: Detection, planted: np.ndarray, texts: list[str], alpha: float) -> tuple[int | None, object]:
    """The rank among reported cues of the first one carried by the plant's responses (Jaccard >= 0.9)."""
    for rank, test in enumerate(found.significant(alpha), start=1):
        carried = np.array([test.cue.present(t) for t in texts])
        if (carried & planted).sum() / max((carried | planted).sum(), 1) >= 0.9:
            return rank, test
    return None, None


def cpu() -> float:
    """CPU seconds of this process so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clusters", type=int, default=20)
    parser.add_argument("--permutations", type=int, default=1000)
    parser.add_argument("--alpha", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--null-runs", type=int, default=20)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    wall, cpu0 = time.perf_counter(), cpu()
    pool = planted_pool(args.seed)
    clusters = clusters_of(pool.records, args.clusters, args.seed)
    print(f"pool: {len(pool.records)} alpaca_5000 responses, {int(pool.label.sum())} in claude_t45; plant "
          f"{PLANTED!r} on {RATES[0]:.0%} of positives, {RATES[1]:.0%} of negatives; clusters: "
          f"{args.clusters if clusters is not None else 'none'}; {time.perf_counter() - wall:.1f} s to here")
    out: dict = {"planted": {}, "unplanted": {}, "null_runs": {}}
    options = dict(permutations=args.permutations, seed=args.seed)

    print("\n| label | planted on | reported cues | planted cue's rank | its text | effect | adjusted p | seconds |")
    print("|---|---:|---:|---:|---|---:|---:|---:|")
    for name, label, planted in (("claude_t45", pool.label, pool.planted), ("random", pool.random_label, pool.planted_random)):
        texts, started = pool.texts(planted), time.perf_counter()
        found = detect(texts, label.astype(float), clusters, **options)
        rank, test = planted_rank(found, planted, texts, args.alpha)
        seconds = time.perf_counter() - started
        reported = found.significant(args.alpha)
        print(f"| {name} | {int(planted.sum())} | {len(reported)} | {rank} | {test.cue.text if test else '-'} | "
              f"{test.effect:+.3f} | {test.adjusted_p:.4f} | {seconds:.1f} |" if test else
              f"| {name} | {int(planted.sum())} | {len(reported)} | not found | - | - | - | {seconds:.1f} |")
        out["planted"][name] = {"rank": rank, "reported": [[t.cue.key(), t.effect, t.adjusted_p] for t in reported],
                                "tested": len(found.tests)}

    texts = pool.texts(None)
    found_candidates = candidates(texts)
    print(f"\nunplanted pool: {len(found_candidates)} candidate cues tested")
    print("\n| label | reported cues at alpha | cues (effect, adjusted p) |")
    print("|---|---:|---|")
    for name, label in (("claude_t45", pool.label), ("random", pool.random_label)):
        found = detect(texts, label.astype(float), clusters, found=found_candidates, **options)
        reported = found.significant(args.alpha)
        listed = "; ".join(f"{t.cue.kind} '{t.cue.text}' ({t.effect:+.3f}, {t.adjusted_p:.3f}, {t.prevalence:.1%})"
                           for t in reported) or "-"
        print(f"| {name} | {len(reported)} | {listed} |")
        out["unplanted"][name] = [[t.cue.key(), t.effect, t.adjusted_p, t.prevalence] for t in reported]

    rng = np.random.default_rng(args.seed + 1)
    runs_with_false = 0
    for run in range(args.null_runs):
        label = np.zeros(len(texts))
        label[rng.choice(len(texts), int(pool.label.sum()), replace=False)] = 1
        found = detect(texts, label, clusters, found=found_candidates, permutations=args.permutations, seed=run)
        runs_with_false += bool(found.significant(args.alpha))
    out["null_runs"] = {"runs": args.null_runs, "with_a_false_cue": runs_with_false}
    print(f"\nrandom labels on the unplanted pool: {runs_with_false} of {args.null_runs} runs report any cue at "
          f"alpha {args.alpha} (family-wise error; expected about {args.alpha * args.null_runs:.1f})")
    print(f"\ntotal: {time.perf_counter() - wall:.1f} s wall, {cpu() - cpu0:.1f} s CPU (machine shared, loaded)")
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
