"""The seeds-against-synthetic comparison shaped for a page: rows, sentences and one paired-bar chart
per marginal. Shared by the session report (`assay/report/`) and the viewer (`assay/ui/`), which
are sibling interface layers and may not import each other, so it lives in the layer below both.

`session_comparison` runs `assay compare DIR`'s measures on a session that expanded (its vectors
come from the shared embedding cache, where the store put them); `compare_context` turns any
comparison result (the session's, or `assay compare --report`'s) into table rows and charts. The
charts are inline `<svg>` as `Markup` in the report's style (`assay/report/charts.py`): every
label escaped by `e`, hover text in `<title>`, no script and no remote reference.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from markupsafe import Markup, escape

from assay.core.safe_text import visible
from assay.tools.compare_sets import verdict

MIN_SYNTHETIC = 2  # fewer synthetic samples than this: nothing to compare
FONT = 'font-family="system-ui, sans-serif" font-size="11"'  # the report's chart style (report/charts.py)
AXIS, GRID = "#555", "#e3e3e3"
COLOUR_A, COLOUR_B = "#56B4E9", "#D55E00"  # Okabe-Ito blue and vermillion: colour-blind safe


def e(text: object) -> Markup:
    """HTML-escape any value for text or attribute use, its control characters made visible (`\\x1b`)."""
    return escape(visible(str(text)))


def _num(value: Any, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def session_comparison(session: Any) -> dict[str, Any]:
    """The section's context for a session: the comparison when it has synthetic samples, else a note."""
    from assay.pipeline.compare import SEED_OP, SYNTH_OP, compare_samples

    samples = list(session.samples.iter())
    seeds = [s for s in samples if s.op == SEED_OP]
    synthetic = [s for s in samples if s.op == SYNTH_OP]
    if len(synthetic) < MIN_SYNTHETIC or len(seeds) < 2:
        return {"note": f"The session holds {len(synthetic)} synthetic sample{'s' if len(synthetic) != 1 else ''} and "
                        f"{len(seeds)} seed{'s' if len(seeds) != 1 else ''}: nothing to compare (it needs two of each)."}
    result = compare_samples(seeds, synthetic, labels=("seeds", "synthetic"), store=session.config.store,
                             env=session.runtime.env)
    return compare_context(result)


def compare_context(result: dict[str, Any]) -> dict[str, Any]:
    """Rows, charts and sentences for the comparison section."""
    a, b = result["a"], result["b"]
    names = (f"A: {a['label']}", f"B: {b['label']}")
    marginals = [*result["marginals"], *([result["judge"]["scores"]] if "scores" in result["judge"] else [])]
    emb, nov = result["embedding"], result["novelty"]
    return {
        "note": None,
        "names": names,
        "sizes": f"A = {a['label']}: {a['n']:,} of {a['total']:,} samples · B = {b['label']}: {b['n']:,} of {b['total']:,}",
        "verdict": verdict(result),
        "marginals": [{"name": m["name"], "mean_a": _num(m.get("mean_a"), 1), "mean_b": _num(m.get("mean_b"), 1),
                       "js": _num(m["js"]), "w": _num(m.get("wasserstein"))} for m in marginals],
        "charts": [paired_bars(m["labels"], m["shares_a"], m["shares_b"], names=names,
                               title=f"{m['name']} · JS {m['js']:.3f}") for m in marginals],
        "dependencies": [{"name": d["name"], "a": _num(d["spearman_a"]), "b": _num(d["spearman_b"]),
                          "difference": _num(d["difference"]), "joint": _num(d["joint_js"])}
                         for d in result["dependencies"]],
        "embedding": [("MMD²", _num(emb["mmd2"], 4), "0: the same distribution (the unbiased estimate may dip below 0)"),
                      ("MMD p-value", _num(emb["mmd_p_value"]), f"{emb['permutations']} permutations; low: the sets differ"),
                      ("Fréchet distance", _num(emb["frechet"], 4), "0: the same mean and covariance"),
                      (f"precision (k = {emb['k']})", _num(emb["precision"]), "share of B inside A's k-NN manifold"),
                      (f"recall (k = {emb['k']})", _num(emb["recall"]), "share of A inside B's k-NN manifold")],
        "diversity": [(key.replace("_", " "), _num(result["diversity"]["a"][key]), _num(result["diversity"]["b"][key]))
                      for key in result["diversity"]["a"]],
        "novelty": (f"Nearest-neighbour cosine of B to A: mean {nov['mean_nn_cosine']:.3f}, median "
                    f"{nov['median_nn_cosine']:.3f}; {nov['near_copy_share']:.1%} of B within cosine "
                    f"{nov['near_copy_threshold']} of an A sample (near copies)."),
    }


def paired_bars(labels: Sequence[str], shares_a: Sequence[float], shares_b: Sequence[float], *, names: tuple[str, str],
                title: str, width: int = 520, height: int = 220) -> Markup:
    """Two bars per label (A, then B), heights the share in %, on one scale."""
    left, right, upper, lower = 38, 10, 36, 40
    plot_w, plot_h = width - left - right, height - upper - lower
    top = max([*(100 * s for s in shares_a), *(100 * s for s in shares_b), 1.0])
    slot = plot_w / max(len(labels), 1)
    bar_w = max(slot / 2 - 1.5, 1)
    parts = [f'<svg class="chart" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
             f'aria-label="{e(title)}" {FONT}>',
             f'<text x="{left}" y="14" font-weight="600">{e(title)}</text>']
    x = left
    for name, colour in zip(names, (COLOUR_A, COLOUR_B), strict=True):
        parts.append(f'<rect x="{x}" y="20" width="10" height="10" fill="{colour}"/>'
                     f'<text x="{x + 14}" y="29">{e(name)}</text>')
        x += 24 + 7 * len(name)
    for tick in (0.0, top / 2, top):
        y = upper + plot_h * (1 - tick / top)
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" stroke="{GRID}"/>'
                     f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end" fill="{AXIS}">{tick:.0f}%</text>')
    # Only as many axis labels as fit side by side (about 6.2 px a character); every bar's label is in its hover text.
    widest = 6.2 * min(max((len(label) for label in labels), default=1), 12) + 10
    every = max(1, math.ceil(widest / slot))
    for i, label in enumerate(labels):
        for j, (share, colour, name) in enumerate(((shares_a[i], COLOUR_A, names[0]), (shares_b[i], COLOUR_B, names[1]))):
            bar_h = plot_h * 100 * share / top
            bx = left + i * slot + 1 + j * (bar_w + 1)
            parts.append(f'<rect x="{bx:.1f}" y="{upper + plot_h - bar_h:.1f}" width="{bar_w:.1f}" height="{bar_h:.1f}" '
                         f'fill="{colour}"><title>{e(name)} · {e(label)}: {100 * share:.1f}%</title></rect>')
        if i % every == 0:
            shown = label if len(label) <= 12 else label[:11] + "…"
            parts.append(f'<text x="{left + (i + 0.5) * slot:.1f}" y="{height - lower + 14}" text-anchor="middle" '
                         f'fill="{AXIS}">{e(shown)}</text>')
    base = upper + plot_h
    parts.append(f'<line x1="{left}" x2="{width - right}" y1="{base}" y2="{base}" stroke="{AXIS}"/></svg>')
    return Markup("".join(parts))  # every label in parts went through e()
