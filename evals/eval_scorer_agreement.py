"""Eval: how well each cheap score ranks Alpaca samples the way AlpaGasus and Cherry LLM did.

    python evals/eval_scorer_agreement.py [--limit N] [--model PATH_OR_NAME] [--device cpu|cuda]

On `alpaca_5000`, membership in AlpaGasus `claude_t45` (Claude accuracy >= 4.5),
`helpfulness_t45` (ChatGPT helpfulness >= 4.5) and the Cherry 5 % (highest IFD under
LLaMA-7B) is a label; each score's AUROC against it says how well it ranks members first.
The response length is the baseline to beat: a score that only matches it has learned length.
IFD losses are cached in --cache-dir, keyed by model and sample text, so a killed run resumes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "alpaca"
LABELS = {  # file -> (column name, expected members in alpaca_5000, length-baseline AUROC from the data README)
    "alpagasus_claude_t45.json": ("claude_t45", 512, 0.39),
    "alpagasus_helpfulness_t45.json": ("helpfulness_t45", 225, 0.66),
    "cherry_alpaca_5_percent.json": ("cherry_5pct", 335, 0.88),
}
IFD_SCORES = ("ifd", "ppl", "loss_conditioned", "loss_answer")
BEATS_BY = 0.01  # AUROC margin over the length baseline worth a mark (smaller is noise at n=5000)


def triple(record: dict) -> tuple[str, str, str]:
    """How records are matched across files."""
    return (str(record["instruction"]).strip(), str(record.get("input") or "").strip(), str(record["output"]).strip())


def auroc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Probability that a random member outscores a random non-member (ties count half)."""
    order = np.argsort(scores, kind="mergesort")
    _, tie_group, tie_sizes = np.unique(scores[order], return_inverse=True, return_counts=True)
    mean_rank = np.cumsum(tie_sizes) - (tie_sizes - 1) / 2  # 1-based average rank of each tie group
    ranks = np.empty(len(scores))
    ranks[order] = mean_rank[tie_group]
    members = int(labels.sum())
    others = len(labels) - members
    if members == 0 or others == 0:
        return float("nan")
    return float((ranks[labels].sum() - members * (members + 1) / 2) / (members * others))


def model_key(model: str | None) -> str:
    """Names the model in the cache: a GGUF (the default one too) by file name and size."""
    if model is None or model.endswith(".gguf"):
        from assay.core.model_files import find_gguf

        gguf = Path(model) if model else find_gguf()
        return f"{gguf.name}:{gguf.stat().st_size}"
    return model


def ifd_losses(samples: list, args: argparse.Namespace) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """IFD scores for every sample (NaN where unscored), from the cache or computed in chunks."""
    from assay.tools.ifd import CausalLMScorer, LossResult

    key_prefix = json.dumps([model_key(args.model), args.max_length, args.dtype])
    keys = [hashlib.sha256((key_prefix + json.dumps([[m.role, m.content] for m in s.messages])).encode()).hexdigest()
            for s in samples]
    args.cache_dir.mkdir(parents=True, exist_ok=True)
    cache_file = args.cache_dir / f"ifd-{hashlib.sha256(key_prefix.encode()).hexdigest()[:12]}.jsonl"
    cached = {}
    if cache_file.exists():
        for line in cache_file.read_text().splitlines():
            row = json.loads(line)
            cached[row["key"]] = row
    # Shortest first over the whole run, so that each chunk's batches hold similar lengths.
    todo = sorted((i for i, k in enumerate(keys) if k not in cached), key=lambda i: len(samples[i].text()))
    stats = {"cached": len(samples) - len(todo), "computed": len(todo), "load_s": 0.0, "score_s": 0.0}
    if todo:
        scorer = CausalLMScorer(args.model, device=args.device, dtype=args.dtype, max_length=args.max_length,
                                batch_size=args.batch_size, max_batch_tokens=args.max_batch_tokens)
        started = time.perf_counter()
        scorer._load()
        stats["load_s"] = time.perf_counter() - started
        started = time.perf_counter()
        with cache_file.open("a") as out:
            for at in range(0, len(todo), args.chunk):
                chunk = todo[at : at + args.chunk]
                for i, result in zip(chunk, scorer.score([samples[i] for i in chunk]), strict=True):
                    row = {"key": keys[i], "loss_conditioned": result.loss_conditioned, "loss_answer": result.loss_answer,
                           "answer_tokens": result.answer_tokens, "truncated": result.truncated}
                    cached[keys[i]] = row
                    out.write(json.dumps(row) + "\n")
                out.flush()
                done, spent = at + len(chunk), time.perf_counter() - started
                print(f"  IFD {done}/{len(todo)} in {spent:.0f} s (shortest first)", file=sys.stderr, flush=True)
        stats["score_s"] = time.perf_counter() - started
        if str(scorer.device).startswith("cuda"):
            import torch

            stats["device"] = torch.cuda.get_device_name(scorer.device)
        else:
            stats["device"] = f"{scorer.device} ({os.cpu_count()} CPUs)"
    results = [LossResult(cached[k]["loss_conditioned"], cached[k]["loss_answer"], cached[k]["answer_tokens"],
                          cached[k]["truncated"]) for k in keys]
    stats["truncated"] = sum(r.truncated for r in results)
    values = {name: np.array([_nan(getattr(r, name)) for r in results]) for name in IFD_SCORES}
    stats["answer_tokens"] = sum(r.answer_tokens for r in results)
    return values, stats


def _nan(value: float | None) -> float:
    return float("nan") if value is None else float(value)


def heuristic_scores(samples: list) -> tuple[dict[str, np.ndarray], str]:
    """Numeric scores of the heuristic screen, where assay/tools/heuristics.py exists."""
    started = time.perf_counter()
    try:  # optional: its language detector, for one, is imported on first use
        from assay.tools.heuristics import HeuristicScreen

        verdicts = HeuristicScreen()(samples)
    except ImportError as err:
        return {}, f"heuristics skipped: {err}"
    names = sorted({name for v in verdicts for name in v.scores})
    values = {f"heur:{name}": np.array([v.scores.get(name, np.nan) for v in verdicts], dtype=float) for name in names}
    values["heur:kept"] = np.array([1.0 if v.keep else 0.0 for v in verdicts])
    return values, f"heuristics: {len(names)} scores in {time.perf_counter() - started:.1f} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--limit", type=int, default=None, help="only the first N records of alpaca_5000")
    parser.add_argument("--model", default=None, help="Hugging Face causal LM; default the embedded SmolLM2-135M")
    parser.add_argument("--device", default=None)
    parser.add_argument("--dtype", default=None, help="e.g. bfloat16; default float32")
    parser.add_argument("--max-length", type=int, default=512)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-batch-tokens", type=int, default=4096, help="padded tokens per forward pass")
    parser.add_argument("--chunk", type=int, default=200, help="samples scored between cache writes")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (1 is faster on a busy box)")
    parser.add_argument("--cache-dir", type=Path, default=Path("/tmp/assay-ifd-cache"))
    args = parser.parse_args()
    pool_file = args.data_dir / "alpaca_5000.json"
    if not pool_file.is_file():
        sys.exit(f"data not found: {pool_file} (see ../shared/data/README.md)")
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)

    from assay.core.formats import record_to_sample

    records = json.loads(pool_file.read_text())[: args.limit]
    samples = [record_to_sample(r, "alpaca", source=f"alpaca_5000:{i}") for i, r in enumerate(records)]
    labels = {}
    for name, (column, expected, _) in LABELS.items():
        members = {triple(r) for r in json.loads((args.data_dir / name).read_text())}
        labels[column] = np.array([triple(r) in members for r in records])
        if args.limit is None:
            assert labels[column].sum() == expected, (column, int(labels[column].sum()), expected)

    scores = {"response_words": np.array([len(r["output"].split()) for r in records], dtype=float)}
    ifd_values, stats = ifd_losses(samples, args)
    scores.update(ifd_values)
    heur_values, heur_note = heuristic_scores(samples)
    scores.update(heur_values)
    print_table(scores, labels, len(records))
    print_summary(scores, labels, stats, heur_note, args)


def print_table(scores: dict[str, np.ndarray], labels: dict[str, np.ndarray], n: int) -> None:
    """AUROC and 1 - AUROC of each score per label, with the length baseline on top."""
    columns = list(labels)
    print(f"\nAUROC against membership · alpaca_5000, n={n} · members: "
          + ", ".join(f"{c} {int(labels[c].sum())}" for c in columns))
    print("AUROC > 0.5: higher score ranks members first; 'neg' = 1 - AUROC (lower score first); "
          f"'*' = beats the measured length baseline by >= {BEATS_BY} in its best direction; missing values take the median\n")
    print(f"{'score':<28}{'missing':>8}" + "".join(f"{c:>22}" for c in columns))
    print(f"{'':<36}" + "".join(f"{'AUROC   neg':>22}" for _ in columns))
    print(f"{'baseline: length (README)':<36}" + "".join(f"{b:>14.2f}{1 - b:>6.2f}  " for _, _, b in LABELS.values()))
    length_best = {c: max(a, 1 - a) for c in columns for a in [auroc(scores["response_words"], labels[c])]}
    for name, values in scores.items():
        missing = int(np.isnan(values).sum())
        if missing == len(values) or np.nanstd(values) == 0:
            print(f"{name:<28}{missing:>8}   (constant or missing: no ranking)")
            continue
        filled = np.where(np.isnan(values), np.nanmedian(values), values)
        cells = []
        for c in columns:
            a = auroc(filled, labels[c])
            mark = "*" if name != "response_words" and max(a, 1 - a) >= length_best[c] + BEATS_BY else " "
            cells.append(f"{a:>14.3f}{1 - a:>6.3f}{mark} ")
        print(f"{name:<28}{missing:>8}" + "".join(cells))


def print_summary(scores: dict[str, np.ndarray], labels: dict[str, np.ndarray], stats: dict, heur_note: str,
                  args: argparse.Namespace) -> None:
    """Cherry's own selection rule beside length, and where the time went."""
    ifd, length, cherry = scores["ifd"], scores["response_words"], labels["cherry_5pct"]
    k = int(cherry.sum())
    usable = np.where(np.isnan(ifd) | (ifd > 1), -np.inf, ifd)  # Cherry ranks by IFD after dropping IFD > 1
    by_ifd, by_length = np.argsort(-usable, kind="stable")[:k], np.argsort(-length, kind="stable")[:k]
    print(f"\nCherry's rule (drop IFD > 1, keep the top k={k} by IFD): {cherry[by_ifd].mean():.3f} of them are "
          f"Cherry members; top k by length: {cherry[by_length].mean():.3f}; random: {cherry.mean():.3f}")
    print(f"IFD > 1 (instruction does not help): {int(np.nansum(ifd > 1))} samples; no IFD score: "
          f"{int(np.isnan(ifd).sum())}; truncated to {args.max_length} tokens: {stats['truncated']}")
    model = args.model or "SmolLM2-135M-Instruct (embedded GGUF)"
    if stats["computed"]:
        where = (f"{stats['computed']} computed on {stats['device']} in {stats['score_s']:.0f} s "
                 f"({stats['computed'] / stats['score_s']:.1f} samples/s, load {stats['load_s']:.0f} s), ")
    else:
        where = ""
    print(f"IFD scoring: {model}; {where}{stats['cached']} from the cache in {args.cache_dir}; "
          f"{stats['answer_tokens']} answer tokens scored")
    print(heur_note)


if __name__ == "__main__":
    main()
