"""Bench: token-cleaning scoring throughput (response tokens/s) of one causal LM, by batch size and dtype.

    python evals/bench_token_scoring.py [--config DIR | --model M] [--device cuda] [--dtype bfloat16]
                                        [--rows 512] [--batch-tokens 16384,65536] [--prompt-len 120]
                                        [--answer-len 250] [--repeat 3]

Needs only torch and transformers (and numpy): it runs the exact hot path of `assay tokens`
(assay/tools/causal_lm.py: length-bucketed batches, one forward pass and one device-to-host copy
a batch) on synthetic rows of random token ids with varied lengths. Without weights (the device
machine has none), `--config DIR` builds a random-init model from a folder's config.json; with
neither flag, a random-init model of SmolLM2-135M's shape. Each setting runs once to warm up,
then `--repeat` times; it prints wall and CPU seconds and response tokens/s (what `assay tokens`
scores: a sample costs two such passes with the default base, reference and response alone).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# SmolLM2-135M's architecture (the embedded model), for a random-init stand-in.
SMOLLM2_135M = dict(vocab_size=49152, hidden_size=576, intermediate_size=1536, num_hidden_layers=30,
                    num_attention_heads=9, num_key_value_heads=3, max_position_embeddings=8192,
                    rope_theta=100000.0, tie_word_embeddings=True, rms_norm_eps=1e-5)


def build_model(args: argparse.Namespace, dtype: object) -> object:
    """A model from --model (weights), --config (random init) or SmolLM2-135M's shape (random init)."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, LlamaConfig

    if args.model:
        from assay.tools.causal_lm import load_causal_lm

        return load_causal_lm(args.model, device=args.device, dtype=args.dtype)[1]
    config = AutoConfig.from_pretrained(args.config) if args.config else LlamaConfig(**SMOLLM2_135M)
    import transformers

    torch.manual_seed(0)
    dtype_kwarg = "dtype" if int(transformers.__version__.split(".")[0]) >= 5 else "torch_dtype"
    model = AutoModelForCausalLM.from_config(config, **{dtype_kwarg: dtype})
    return model.to(device=args.device, dtype=dtype).eval()


def synthetic_rows(n: int, vocab: int, prompt_len: int, answer_len: int, seed: int) -> list[tuple[list[int], int]]:
    """Rows of random ids: prompt and answer lengths drawn from 0.5x to 1.5x the given means."""
    import numpy as np

    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(n):
        p = int(rng.integers(prompt_len // 2, prompt_len * 3 // 2 + 1))
        a = int(rng.integers(answer_len // 2, answer_len * 3 // 2 + 1))
        rows.append((rng.integers(3, vocab, p + a).tolist(), p))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, help="folder with a config.json: random-init model of that shape")
    parser.add_argument("--model", help="HF name or folder, or .gguf: real weights (needs assay's deps)")
    parser.add_argument("--device", default=None)
    parser.add_argument("--dtype", default=None, help="bfloat16, float16, float32 (default: bfloat16 on cuda)")
    parser.add_argument("--rows", type=int, default=512)
    parser.add_argument("--prompt-len", type=int, default=120)
    parser.add_argument("--answer-len", type=int, default=250)
    parser.add_argument("--batch-tokens", default="8192,32768,131072", help="comma-separated max padded tokens")
    parser.add_argument("--batch-size", type=int, default=512, help="rows per batch at most")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    import torch

    from assay.tools.causal_lm import token_losses

    args.device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    args.dtype = args.dtype or ("bfloat16" if args.device.startswith("cuda") else "float32")
    dtype = getattr(torch, args.dtype)
    model = build_model(args, dtype)
    vocab = model.config.vocab_size
    rows = synthetic_rows(args.rows, vocab, args.prompt_len, args.answer_len, seed=0)
    answer_tokens = sum(len(ids) - start for ids, start in rows)
    all_tokens = sum(len(ids) for ids, _ in rows)
    name = args.model or (str(args.config) if args.config else "random-init SmolLM2-135M shape")
    gpu = torch.cuda.get_device_name() if args.device.startswith("cuda") else os.uname().machine
    print(f"model: {name} ({sum(p.numel() for p in model.parameters()) / 1e6:.0f}M params), device {args.device} "
          f"({gpu}), dtype {args.dtype}; {args.rows} rows, {answer_tokens:,} response tokens of {all_tokens:,}; "
          f"torch {torch.__version__}\n")
    print("| batch tokens | batch rows | wall s | CPU s | response tokens/s | all tokens/s | peak GPU GiB |")
    print("|---:|---:|---:|---:|---:|---:|---:|")

    def sync() -> None:
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()

    for batch_tokens in (int(b) for b in args.batch_tokens.split(",")):
        run = lambda: token_losses(model, rows, 0, args.device, batch_size=args.batch_size,  # noqa: E731
                                   max_batch_tokens=batch_tokens)
        if args.device.startswith("cuda"):
            torch.cuda.reset_peak_memory_stats()
        run()  # warm-up: kernels chosen, allocator grown
        sync()
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in range(args.repeat):
            losses = run()
        sync()
        wall, cpu = (time.perf_counter() - wall) / args.repeat, (time.process_time() - cpu) / args.repeat
        assert sum(len(x) for x in losses) == answer_tokens
        peak = torch.cuda.max_memory_allocated() / 2**30 if args.device.startswith("cuda") else float("nan")
        print(f"| {batch_tokens:,} | {args.batch_size} | {wall:.3f} | {cpu:.3f} | {answer_tokens / wall:,.0f} | "
              f"{all_tokens / wall:,.0f} | {peak:.1f} |")


if __name__ == "__main__":
    main()
