"""`assay tokens`: token-level cleaning (IGTC): score response tokens, mask the least informative from the loss."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from assay.cli.options import FieldOpt, RecipeOpt, field_map, recipe_config, runtime

if TYPE_CHECKING:
    from assay.pipeline.tokens.run import TokenSummary


def tokens(
    path: Annotated[Path, typer.Argument(help="Session folder (scores its curated samples, else its active ones, and stores the masks for the viewer and report) or a sample file in any format assay reads (writes --out only).")],
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Training JSONL: id, messages (assistant turns with mask_spans), tokenizer, input_ids, labels (-100 on prompt and masked tokens). Needed for a file.")] = None,
    reference: Annotated[Optional[str], typer.Option("--reference", help="Reference causal LM: a Hugging Face name or folder, or a .gguf file. Default: the embedded SmolLM2.")] = None,
    base: Annotated[Optional[str], typer.Option("--base", help="Base causal LM (same forms). Default: the reference model itself with the instruction removed from the context (the response after the chat template's system prompt and an empty user turn); with --base both models see the full prompt.")] = None,
    tokenizer: Annotated[Optional[str], typer.Option("--tokenizer", help="Tokenizer of the written input_ids/labels (name, folder or .gguf). Default: the reference model's.")] = None,
    mask_share: Annotated[Optional[float], typer.Option("--mask-share", min=0.0, max=0.99, help="Share of response tokens to mask: the lowest-scoring ones. Default: the recipe's \\[tokens] mask_share (0.2).")] = None,
    scope: Annotated[Optional[str], typer.Option("--scope", help="global (one cut over all samples) or sample (the share within each sample). Default: global.")] = None,
    device: Annotated[Optional[str], typer.Option("--device", help="torch device, e.g. cuda or cpu (default: cuda when available).")] = None,
    dtype: Annotated[Optional[str], typer.Option("--dtype", help="torch dtype, e.g. bfloat16 on a GPU (default: float32).")] = None,
    batch_tokens: Annotated[Optional[int], typer.Option("--batch-tokens", min=64, help="Padded tokens per forward pass (default 4096; raise it on a GPU).")] = None,
    max_length: Annotated[Optional[int], typer.Option("--max-length", min=16, help="Tokens per scored turn with its context (default 1024); a longer turn's tail is not scored and stays in the loss.")] = None,
    max_samples: Annotated[Optional[int], typer.Option("--max-samples", min=1, help="Score only the first N samples.")] = None,
    recipe: RecipeOpt = None,
    fields: FieldOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON for scripts.")] = False,
) -> None:
    """Score every response token by loss(base) - loss(reference), the influence of token cleaning (IGTC), and mask
    the lowest-scoring share from the training loss. Tokens both models find easy (boilerplate, repeated filler) or
    both find hard (an unrelated pasted paragraph) score near 0 and are masked first. Every assistant turn is scored
    with the turns before it as context; each turn keeps at least one token in the loss."""
    from assay.cli.rate_progress import rate_progress
    from assay.core.errors import AssayError
    from assay.pipeline.tokens.run import tokens_path

    if scope is not None and scope not in ("global", "sample"):
        raise AssayError(f"--scope {scope!r}: choose global or sample")
    config = recipe_config(recipe, **{"tokens.reference": reference, "tokens.base": base, "tokens.tokenizer": tokenizer,
                                      "tokens.mask_share": mask_share, "tokens.scope": scope, "tokens.device": device,
                                      "tokens.dtype": dtype, "tokens.batch_tokens": batch_tokens,
                                      "tokens.max_length": max_length})
    with rate_progress() as progress:
        summary = tokens_path(path, out, runtime(), config, max_samples=max_samples, fields=field_map(fields),
                              progress=progress)
    if as_json:
        from assay.core.safe_text import json_text

        sys.stdout.write(json_text(summary.as_dict(), indent=2) + "\n")
        return
    from assay.cli.render import console

    console.print(tokens_view(summary))


def tokens_view(summary: TokenSummary) -> Any:
    """The pass in a few lines: what was masked, how fast, where it went."""
    from rich.console import Group

    from assay.cli.text import plain

    share = summary.masked / summary.tokens if summary.tokens else 0.0
    lines = [f"{summary.masked:,} of {summary.tokens:,} response tokens masked ({share:.1%}) in {summary.samples:,} "
             "samples",
             f"scorer: {summary.scorer}",
             f"{summary.seconds:.1f} s wall, {summary.cpu_seconds:.1f} s CPU: {summary.tokens_per_second:,.1f} "
             f"scored tokens/s (models loaded in {summary.load_seconds:.1f} s before)"]
    if summary.out:
        lines.append(f"wrote {summary.out} (input_ids/labels under {summary.tokenizer})")
    if summary.stored:
        lines.append("masks stored in the session: the viewer shades them, the report sums them by cluster")
    return Group(*(plain(line) for line in lines))
