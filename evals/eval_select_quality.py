"""Evaluation: what each selector picks from a scored alpaca_5000, beside random.

    python evals/eval_select_quality.py [--scored /tmp/a5k_scored.jsonl] [--sizes 500 1000]
                                        [--score auto|NAME] [--random-seeds 5] [--limit N]

Without --scored, alpaca_5000 is scored here first (heuristics, dedup, clusters; a few
minutes on CPU). For N = 500 and 1,000, each method's selection is compared with its pool:
mean quality, mean response length, cluster (and tag) coverage and normalised entropy, and
enrichment for the AlpaGasus labels — `claude_t45` (Claude rated accuracy ≥ 4.5) and
`helpfulness_t45` — matched on the stripped (instruction, input, output) triple:
enrichment = member share in the selection ÷ member share in the pool (1.0 = no better than
chance), and AUROC of the selection rank (picked early > picked late > not picked; 0.5 =
chance). Random is averaged over seeds (± one standard deviation).

Quality (`--score auto`): judge_overall when the file has it, else `ifd`, else none — then
every method selects for diversity alone and quality figures are blank.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "alpaca"
METHODS = ("mig", "deita", "kcenter")


def triple(record: dict[str, Any]) -> tuple[str, str, str]:
    return tuple(str(record.get(k) or "").strip() for k in ("instruction", "input", "output"))  # type: ignore[return-value]


def membership(path: Path, records: list[dict[str, Any]]) -> np.ndarray:
    members = {triple(r) for r in json.loads(path.read_text())}
    return np.array([triple(r) in members for r in records], dtype=bool)


def rank_auroc(selected: np.ndarray, labels: np.ndarray) -> float:
    """AUROC of a score that ranks picks by order (first = highest) above everything unpicked."""
    from scipy.stats import rankdata

    score = np.full(len(labels), -1.0)
    score[selected] = len(selected) - np.arange(len(selected))
    ranks = rankdata(score)
    positives, negatives = labels.sum(), (~labels).sum()
    return float((ranks[labels].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def score_alpaca(limit: int | None) -> Path:
    from assay.core.config import Config
    from assay.pipeline.screen.files import run_score
    from assay.session.session import Runtime

    source = DATA / "alpaca_5000.json"
    work = Path(tempfile.mkdtemp(prefix="assay-select-eval-"))
    if limit:
        (work / "alpaca.json").write_text(json.dumps(json.loads(source.read_text())[:limit]))
        source = work / "alpaca.json"
    out = work / "scored.jsonl"
    run_score(source, out, config=Config(), runtime=Runtime(env={"ASSAY_HOME": str(work / "home")}), session_dir=None,
              skip_invalid=False, methods=("exact", "minhash"), decontam=(), ifd=False, ifd_model=None, embed=True,
              clusters=None)
    return out


def cached_embed(folder: Path) -> Any:
    """The bundled embedder, keeping each text's vector in `folder`: a rerun (or another scored
    version of the same pool) encodes only texts it has not seen."""
    import hashlib

    from assay.session.embeddings import Embedder

    embedder = Embedder()
    keys_path, vectors_path = folder / "keys.npy", folder / "vectors.npy"

    def embed(texts: list[str]) -> np.ndarray:
        keys = np.array([hashlib.sha256(t.encode()).hexdigest()[:24] for t in texts])
        known_keys = np.load(keys_path) if keys_path.is_file() else np.array([], dtype=keys.dtype)
        known = np.load(vectors_path) if vectors_path.is_file() else None
        row_of = {k: i for i, k in enumerate(known_keys.tolist())}
        missing = sorted({k: i for i, k in enumerate(keys.tolist()) if k not in row_of}.values())
        if missing:
            fresh = embedder.encode([texts[i] for i in missing])
            known = fresh if known is None else np.concatenate([known, fresh])
            known_keys = np.concatenate([known_keys, keys[missing]])
            folder.mkdir(parents=True, exist_ok=True)
            np.save(keys_path, known_keys)
            np.save(vectors_path, known)
            row_of = {k: i for i, k in enumerate(known_keys.tolist())}
        return known[[row_of[k] for k in keys.tolist()]]  # type: ignore[index]

    return embed


STOPWORDS = {"a", "an", "the", "of", "me", "some", "this", "that", "these", "following", "given", "to", "for", "and",
             "in", "on", "with", "your", "my", "its", "their", "one", "two", "three", "five", "ten", "is", "are", "was",
             "were", "be", "do", "does", "did", "can", "you", "i", "it", "there", "what", "which", "how"}


def lexical_tags(record: dict[str, Any]) -> list[str]:
    """A crude, LLM-free stand-in for skill tags: the instruction's first word (its verb, in
    Alpaca's imperative style) and that word with the next content word ("generate list")."""
    words = [w.strip(".,:;!?\"'()").lower() for w in str(record.get("instruction", "")).split()]
    words = [w for w in words if w.isalpha()]
    if not words:
        return []
    content = [w for w in words[1:] if w not in STOPWORDS]
    return [words[0]] + ([f"{words[0]} {content[0]}"] if content else [])


def pick_score(path: Path, asked: str) -> str | None:
    if asked != "auto":
        return None if asked == "none" else asked
    with path.open() as handle:
        names = {k for line in handle for k in (json.loads(line).get("_assay", {}).get("scores") or {})}
    return next((name for name in ("judge_overall", "ifd") if name in names), None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scored", type=Path, default=None, help="scored alpaca_5000 (default: score it here first)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[500, 1000])
    parser.add_argument("--score", default="auto", help="quality score: auto, none or a name in _assay.scores")
    parser.add_argument("--random-seeds", type=int, default=5)
    parser.add_argument("--limit", type=int, default=None, help="score only the first N records (without --scored)")
    parser.add_argument("--lexical-tags", action="store_true",
                        help="when the file has no tags, tag each sample by its instruction's first words (LLM-free stand-in)")
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "assay-eval-select-cache",
                        help="folder keeping embeddings between runs")
    args = parser.parse_args()
    if not (DATA / "alpagasus_claude_t45.json").is_file():
        sys.exit(f"reference data not found under {DATA} (see ../shared/data/README.md)")

    from assay.pipeline.select.files import prepare_pool
    from assay.tools.selection import select
    from assay.tools.selection.summary import describe

    scored = args.scored or score_alpaca(args.limit)
    score = pick_score(scored, args.score)
    started = time.perf_counter()
    embed = cached_embed(args.cache)
    prepared = prepare_pool(scored, score=score, vectors=True, label_vectors=True, embed=embed)
    pool = prepared.pool
    records = [prepared.records[i] for i in prepared.rows]
    if args.lexical_tags and pool.labels is None:
        from dataclasses import replace

        from assay.tools.selection.base import LabelSets

        tags = LabelSets.from_lists([lexical_tags(r) for r in records])
        pool = replace(pool, labels=tags, label_vectors=embed(list(tags.names)))
        prepared.notes.append(f"lexical tags (first word, first word + next content word): {len(tags.names)} tags; "
                              "MIG runs on them with the label graph")
    print(f"pool: {pool.size} candidates from {scored}; quality: {score or 'none'}; "
          f"embedded in {time.perf_counter() - started:.0f} s")
    for note in prepared.notes:
        print(f"note: {note}")
    labels = {name: membership(DATA / f"alpagasus_{name}.json", records) for name in ("claude_t45", "helpfulness_t45")}
    words = np.array([float((r["_assay"].get("scores") or {}).get("response_words", np.nan)) for r in records])

    def figures(indices: np.ndarray) -> dict[str, float]:
        described = describe(pool, indices)
        row = {"quality": described["mean_quality"] if described["mean_quality"] is not None else np.nan,
               "words": float(np.nanmean(words[indices])), "clusters": described.get("cluster_coverage", np.nan),
               "entropy": described.get("cluster_entropy", np.nan), "tags": described.get("tag_coverage", np.nan),
               "tag_entropy": described.get("tag_entropy", np.nan)}
        for name, member in labels.items():
            row[f"{name}_enrich"] = member[indices].mean() / member.mean()
            row[f"{name}_auroc"] = rank_auroc(indices, member)
        return row

    columns = ("quality", "words", "clusters", "entropy", "tags", "tag_entropy", "claude_t45_enrich", "claude_t45_auroc",
               "helpfulness_t45_enrich", "helpfulness_t45_auroc")
    titles = ("mean q", "resp words", "clusters", "cl. entropy", "tags", "tag entropy", "claude enr", "claude AUC",
              "help enr", "help AUC")
    base = {name: member.mean() for name, member in labels.items()}
    print(f"base rates in the pool: claude_t45 {base['claude_t45']:.1%}, helpfulness_t45 {base['helpfulness_t45']:.1%}")
    for n in args.sizes:
        print(f"\nN = {n}")
        print(f"{'method':<10}" + "".join(f"{t:>13}" for t in titles) + f"{'seconds':>9}")
        whole = figures(np.arange(pool.size))
        print(f"{'pool':<10}" + "".join(f"{whole[c]:>13.3f}" if "_t45_" not in c else f"{'-':>13}" for c in columns))
        runs = []
        for seed in range(args.random_seeds):
            t = time.perf_counter()
            runs.append((figures(select("random", pool, n, seed=seed).indices), time.perf_counter() - t))
        cells = "".join(f"{np.mean([r[c] for r, _ in runs]):>7.3f}±{np.std([r[c] for r, _ in runs]):<5.3f}" for c in columns)
        print(f"{'random':<10}{cells}{np.mean([s for _, s in runs]):>9.2f}")
        for method in METHODS:
            t = time.perf_counter()
            chosen = select(method, pool, n)
            seconds = time.perf_counter() - t
            row = figures(chosen.indices)
            print(f"{method:<10}" + "".join(f"{row[c]:>13.3f}" for c in columns) + f"{seconds:>9.2f}")
            for warning in chosen.warnings:
                print(f"  warning: {warning}")


if __name__ == "__main__":
    main()
