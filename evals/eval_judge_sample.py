"""Eval: how much `--judge-sample K` saves, and how well its classifier agrees — against a PROXY judge.

    python evals/eval_judge_sample.py [--ks 5,10,20] [--floor 4] [--noise 0] [--seeds 3] [--limit N] [--dry-run]

No LLM is called. The "LLM judge" is a proxy: overall = 5 when the sample is in AlpaGasus
`claude_t45` (Claude rated its accuracy >= 4.5), else 3 (plus Gaussian noise with --noise,
rounded and clipped to 1–5). The pipeline is `assay.pipeline.judge.pool`'s sampled mode, step for step:
K per cluster judged by the proxy, the classifier trained on them (`assay.pipeline.judge.quality_model`),
doubtful predictions routed to the proxy within the LLM cap. Pool: the screened `alpaca_5000`
(`assay score` output with tool scores and clusters; active samples only), MiniLM embeddings
cached in --vector-cache. Judging everything costs one call per sample and agrees perfectly with
the proxy by construction: it is the reference row; response length and chance are the floor.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import sys
import time
from dataclasses import replace
from pathlib import Path
from random import Random

os.environ.setdefault("HF_HUB_OFFLINE", "1")
for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")  # small matrices: one BLAS thread beats several fighting for busy cores

import numpy as np  # noqa: E402  (after the thread limits, which numpy reads on import)

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "evals"))
from eval_scorer_agreement import auroc, triple  # noqa: E402  (the same matching and AUROC as the scorer eval)

DEFAULT_DATA = REPO.parent / "shared" / "data" / "alpaca"


def load_pool(scored: Path, limit: int | None) -> tuple[list, list[dict]]:
    """Active samples of the scored file as Samples (cluster tag, tool scores) and their raw records."""
    from assay.core.formats import record_to_sample

    samples, records = [], []
    for line in scored.open():
        record = json.loads(line)
        meta = record.pop("_assay")
        if meta["status"] != "active":
            continue
        sample = record_to_sample(record, "alpaca", scored.name)
        samples.append(sample.model_copy(update={"tags": {"cluster": [str(meta["cluster"])]},
                                                 "scores": meta["scores"] or {}}))
        records.append(record)
        if limit and len(samples) >= limit:
            break
    return samples, records


def embeddings(texts: list[str], cache: Path, shared: Path | None) -> np.ndarray:
    """MiniLM vectors of the texts; each cached under a hash of its text (eval_dedup's scheme, whose cache is read too)."""
    keys = [hashlib.sha256(t.encode("utf-8")).hexdigest()[:32] for t in texts]
    known: dict[str, np.ndarray] = {}
    for path in (shared, cache):
        if path is not None and path.is_file():
            with np.load(path) as stored:
                known.update(zip(stored["keys"], stored["vectors"], strict=True))
    missing = [i for i, key in enumerate(keys) if key not in known]
    if missing:
        from assay.session.embeddings import Embedder

        started = time.perf_counter()
        known.update(zip([keys[i] for i in missing], Embedder().encode([texts[i] for i in missing]), strict=True))
        print(f"embedded {len(missing)} texts in {time.perf_counter() - started:.0f} s")
    vectors = np.array([known[key] for key in keys], dtype=np.float32)
    if missing or not cache.is_file():
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.savez(cache, keys=np.array(keys), vectors=vectors)
    return vectors


def run_once(samples: list, vectors: np.ndarray, proxy: np.ndarray, k: int, floor: float | None, seed: int,
             settings, score_features: bool = True, embedding: bool = True) -> dict:
    """One sampled-judging pass as `assay.pipeline.judge.pool` runs it; the proxy stands in for the LLM."""
    from assay.pipeline.judge.pool import sample_per_cluster
    from assay.pipeline.judge.quality_model import QualityModel, build_features, route

    started = time.perf_counter()
    rng = Random(f"{seed}:judge-sample")  # what Session.rng("judge-sample") is for llm.seed = seed
    row = {s.id: i for i, s in enumerate(samples)}
    sampled = [row[s.id] for s in sample_per_cluster(samples, k, rng)]
    chosen = set(sampled)
    rest = [i for i in range(len(samples)) if i not in chosen]
    y = proxy[sampled]
    if len(y) < settings.min_verdicts or len(set(y)) < 2:
        return {"fallback": True, "llm_calls": len(samples)}
    order = sampled + rest
    model_seed = rng.getrandbits(32)
    features = build_features(vectors[order],
                              [samples[i].scores if score_features else {} for i in order],
                              components=settings.components_for(len(y)) if embedding else 0, seed=model_seed)
    model = QualityModel.fit(features.matrix[: len(y)], y, floor=floor, settings=settings, seed=model_seed)
    predicted = model.predict(features.matrix[len(y) :])
    slots = math.floor(settings.max_llm_share * len(samples)) - len(sampled)
    routing = route(predicted, floor=floor, llm_slots=slots, settings=settings)
    final = proxy.astype(float).copy()  # sampled and routed rows keep the proxy's verdict
    kept = np.array(routing.by_classifier, dtype=int)
    final[np.array(rest)[kept]] = predicted.overall[kept]
    truth = proxy[rest][kept]
    sigma = predicted.sigma[kept]
    right_side = (predicted.overall[kept] >= floor) == (truth >= floor) if floor is not None else None
    passes, kept_final = proxy >= floor if floor is not None else None, final >= floor if floor is not None else None
    fallback = not model.beats_mean  # the library would then judge everything by LLM
    return {
        "fallback": fallback, "llm_calls": len(samples) if fallback else len(sampled) + len(routing.to_llm), "sampled": len(sampled),
        "uncertain": len(routing.to_llm), "classifier": len(kept), "cv_mae": model.cv_mae,
        "mae": float(np.mean(np.abs(predicted.overall[kept] - truth))),
        "mean_mae": float(np.mean(np.abs(y.mean() - truth))),
        "auroc_pred": auroc(predicted.overall, proxy[rest] >= 4), "auroc_final": auroc(final, proxy >= 4),  # 4: between 3 and 5
        "coverage95": float(np.mean(np.abs(predicted.overall[kept] - truth) <= 1.96 * sigma)),
        "right_side": float(np.mean(right_side)) if right_side is not None else float("nan"),
        "confidence": float(np.mean(predicted.confidence(floor)[kept])),
        "recall": float(np.mean(kept_final[passes])) if floor is not None else float("nan"),
        "precision": float(np.mean(passes[kept_final])) if floor is not None and kept_final.any() else float("nan"),
        "seconds": time.perf_counter() - started,
    }


COLUMNS = (("LLM calls", 10), ("saved", 7), ("sampled", 8), ("uncert.", 8), ("MAE clf", 11), ("MAE mean", 11),
           ("AUROC pred", 11), ("AUROC final", 12), ("recall", 11), ("precision", 11), ("cov95", 11),
           ("right side", 11), ("conf", 12), ("s", 11))
LABELS = {"claude": ("alpagasus_claude_t45.json", "AlpaGasus claude_t45 (Claude accuracy >= 4.5)"),
          "helpfulness": ("alpagasus_helpfulness_t45.json", "AlpaGasus helpfulness_t45 (ChatGPT helpfulness >= 4.5)"),
          "cherry": ("cherry_alpaca_5_percent.json", "the Cherry 5 % (highest IFD; mostly long responses)")}


def mean_of(runs: list[dict], key: str) -> str:
    """Mean ± sd over the runs that have the figure."""
    values = [r[key] for r in runs if key in r and not (isinstance(r[key], float) and math.isnan(r[key]))]
    if not values:
        return "-"
    if not isinstance(values[0], float):
        return f"{np.mean(values):.0f}"
    return f"{np.mean(values):.2f}" + (f"±{np.std(values):.2f}" if len(values) > 1 else "")


def print_row(name: str, cells: list[str]) -> None:
    print(f"{name:<22}" + "".join(f"{c:>{w}}" for c, (_, w) in zip(cells, COLUMNS, strict=True)))


def main() -> None:
    """Run the eval and print its table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--scored", type=Path, default=Path("/tmp/a5k_scored.jsonl"),
                        help="`assay score` output of alpaca_5000 (tool scores and clusters)")
    parser.add_argument("--vector-cache", type=Path, default=Path("/tmp/assay-eval-judge-sample/vectors.npz"))
    parser.add_argument("--shared-vectors", type=Path, default=Path("/tmp/assay_dedup_minilm_vectors.npz"),
                        help="eval_dedup's vector cache, read if present (same model, same texts)")
    parser.add_argument("--label", choices=sorted(LABELS), default="claude", help="membership the proxy judge scores 5")
    parser.add_argument("--ks", default="5,10,20")
    parser.add_argument("--floor", type=float, default=4.0, help="quality floor (0 = none)")
    parser.add_argument("--noise", type=float, default=0.0, help="sd of Gaussian noise on the proxy score")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--share", type=float, default=None, help="max LLM share (default: the library's)")
    parser.add_argument("--max-wrong-side", type=float, default=None,
                        help="doubt limit on the chance of the wrong side of the floor (default: the library's)")
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--dry-run", action="store_true", help="a quick pass: first 600 samples, K=3, one seed")
    args = parser.parse_args()
    from assay.pipeline.judge.quality_model import QualityModelSettings

    ks = [3] if args.dry_run else [int(k) for k in args.ks.split(",")]
    seeds = 1 if args.dry_run else args.seeds
    overrides = {"max_llm_share": args.share, "max_wrong_side": args.max_wrong_side}
    settings = QualityModelSettings(**{k: v for k, v in overrides.items() if v is not None})
    floor = args.floor or None
    samples, records = load_pool(args.scored, 600 if args.dry_run else args.limit)
    label_file, label_name = LABELS[args.label]
    members = {triple(r) for r in json.loads((args.data / label_file).read_text())}
    is_member = np.array([triple(r) in members for r in records])
    noise = np.random.default_rng(1234).normal(0, args.noise, len(samples)) if args.noise else np.zeros(len(samples))
    proxy = np.clip(np.rint(np.where(is_member, 5.0, 3.0) + noise), 1, 5)
    vectors = embeddings([s.text() for s in samples], args.vector_cache, args.shared_vectors)
    length = np.array([s.scores.get("response_words", 0.0) for s in samples])
    n = len(samples)
    print(f"PROXY JUDGE, not an LLM: overall = 5 if in {label_name} else 3 (noise sd {args.noise}).\n"
          f"{n} screened alpaca_5000 samples, {int(is_member.sum())} members, "
          f"{len({s.tags['cluster'][0] for s in samples})} clusters; floor {floor}, max LLM share "
          f"{settings.max_llm_share:.0%}, max wrong-side chance {settings.max_wrong_side}; mean ± sd over {seeds} seed(s).\n")
    print_row("method", [name for name, _ in COLUMNS])
    dash = ["-"] * len(COLUMNS)
    print_row("judge everything", [str(n), "0%", "-", "-", "0 (ref)", "-", "-", "1.00", "1.00", "1.00", "-", "1.00", "-", "-"])
    length_auroc = max(auroc(length, is_member), auroc(-length, is_member))
    direction = "longer" if auroc(length, is_member) >= 0.5 else "shorter"
    print_row(f"length ({direction})", ["0", "100%", *dash[2:6], f"{length_auroc:.2f}", f"{length_auroc:.2f}", *dash[8:]])
    print_row("chance", ["0", "100%", *dash[2:6], "0.50", "0.50", *dash[8:]])
    variants = [(f"K={k}", k, True, True, settings) for k in ks]
    if not args.dry_run:
        middle = ks[len(ks) // 2]
        gaussian = replace(settings, min_per_side=10**9)  # never fits the floor classifier
        variants += [(f"K={middle} scores only", middle, True, False, settings),
                     (f"K={middle} embedding only", middle, False, True, settings),
                     (f"K={middle} no floor clf", middle, True, True, gaussian)]
    for name, k, use_scores, use_embedding, chosen in variants:
        runs = [run_once(samples, vectors, proxy, k, floor, seed, chosen, use_scores, use_embedding)
                for seed in range(seeds)]
        calls = float(np.mean([r["llm_calls"] for r in runs]))
        fallbacks = sum(r["fallback"] for r in runs)
        keys = ("sampled", "uncertain", "mae", "mean_mae", "auroc_pred", "auroc_final", "recall", "precision",
                "coverage95", "right_side", "confidence", "seconds")
        print_row(name + "*" * fallbacks, [f"{calls:.0f}", f"{1 - calls / n:.0%}", *(mean_of(runs, key) for key in keys)])
    print("\nno floor clf: the wrong-side chance from a Gaussian around the regression instead of the logistic"
          " floor classifier.")
    print("* one per run in which the classifier did not beat the mean verdict (cv RMSE): the library then judges"
          " everything by LLM, and LLM calls count it so; the other figures are the classifier's anyway.\n"
          "MAE clf: classifier verdicts vs proxy (MAE mean: the sampled verdicts' mean instead). AUROC pred: every"
          " prediction of the unsampled samples, for membership; AUROC final: the score each sample ends with (proxy"
          " where judged, prediction elsewhere). recall / precision: of the samples at or above the floor by the proxy,"
          " share kept by the final scores / of those kept, share truly above. cov95: classifier verdicts within 1.96"
          " sigma of the proxy. right side: classifier verdicts on the proxy's side of the floor, beside conf, the mean"
          " confidence claimed for them. s: seconds per run (features, fit, predict, route).")


if __name__ == "__main__":
    main()
