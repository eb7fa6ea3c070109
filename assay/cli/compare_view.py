"""The Rich view of `assay compare`: one table per layer, and a line saying what the numbers mean."""

from __future__ import annotations

from typing import Any


def fmt(value: Any, digits: int = 3) -> str:
    """A number for a cell; None as a dash."""
    if value is None:
        return "—"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return f"{value:.{digits}f}"


def compare_view(result: dict[str, Any]) -> Any:
    """Tables for the marginals, the dependencies, the embedding distribution, diversity and novelty."""
    from rich.console import Group
    from rich.table import Table

    from assay.cli.text import cells, plain
    from assay.tools.compare_sets import verdict

    a, b = result["a"], result["b"]
    name_a, name_b = f"A: {a['label']}", f"B: {b['label']}"
    sizes = plain(f"A = {a['label']} ({a['n']:,} of {a['total']:,} samples) · B = {b['label']} ({b['n']:,} of {b['total']:,})")

    marginals = Table(title="marginals (Jensen-Shannon distance 0-1; Wasserstein in pooled SDs)")
    for head, justify in (("feature", "left"), ("A mean", "right"), ("B mean", "right"), ("A median", "right"),
                          ("B median", "right"), ("JS", "right"), ("W/SD", "right")):
        marginals.add_column(head, justify=justify)  # type: ignore[arg-type]
    judge = result["judge"].get("scores")
    for m in [*result["marginals"], *([judge] if judge else [])]:
        if m["kind"] == "numeric":
            marginals.add_row(*cells(m["name"], fmt(m["mean_a"], 1), fmt(m["mean_b"], 1), fmt(m["median_a"], 1),
                                     fmt(m["median_b"], 1), fmt(m["js"]), fmt(m["wasserstein"])))
        else:
            top = lambda shares: ", ".join(f"{l} {s:.1%}" for l, s in list(zip(m["labels"], shares))[:3])  # noqa: E731
            marginals.add_row(*cells(m["name"], top(m["shares_a"]), top(m["shares_b"]), "", "", fmt(m["js"]), "—"))

    dependencies = Table(title="dependencies (Spearman's rho in each set; joint JS on a quantile grid)")
    for head in ("pair", "A rho", "B rho", "B − A", "joint JS"):
        dependencies.add_column(head, justify="left" if head == "pair" else "right")
    for d in result["dependencies"]:
        dependencies.add_row(*cells(d["name"], fmt(d["spearman_a"]), fmt(d["spearman_b"]), fmt(d["difference"]),
                                    fmt(d["joint_js"])))

    emb = result["embedding"]
    structure = Table(title="embedding distribution (sentence embeddings)")
    structure.add_column("measure")
    structure.add_column("value", justify="right")
    structure.add_column("reads as")
    for row in (("MMD²", fmt(emb["mmd2"], 4), "0: same distribution (unbiased: may dip below 0)"),
                ("MMD p-value", fmt(emb["mmd_p_value"]), f"{emb['permutations']} permutations; low: the sets differ"),
                ("Fréchet distance", fmt(emb["frechet"], 4), "0: same mean and covariance"),
                (f"precision (k={emb['k']})", fmt(emb["precision"]), "share of B inside A's k-NN manifold"),
                (f"recall (k={emb['k']})", fmt(emb["recall"]), "share of A inside B's k-NN manifold")):
        structure.add_row(*cells(*row))

    diversity = Table(title="diversity (each set on the same number of texts)")
    for head in ("measure", name_a, name_b):
        diversity.add_column(head, justify="left" if head == "measure" else "right")
    for key in result["diversity"]["a"]:
        diversity.add_row(*cells(key.replace("_", " "), fmt(result["diversity"]["a"][key]), fmt(result["diversity"]["b"][key])))

    nov = result["novelty"]
    lines = [
        f"novelty of B against A: nearest-neighbour cosine mean {nov['mean_nn_cosine']:.3f}, median "
        f"{nov['median_nn_cosine']:.3f}; {nov['near_copy_share']:.1%} of B within cosine {nov['near_copy_threshold']} "
        f"of an A sample (near copies)",
        f"judge scores: {result['judge']['judged_a']:,} of A and {result['judge']['judged_b']:,} of B judged",
        f"embeddings: {emb['embedded']:,} texts encoded, {emb['cached']:,} from the shared cache ({emb['model']})",
        verdict(result),
    ]
    return Group(sizes, marginals, dependencies, structure, diversity, *(plain(line) for line in lines))


def compare_brief(result: dict[str, Any]) -> Any:
    """A few lines for `assay expand`'s summary: the kept samples against the seeds' pool."""
    from rich.console import Group

    from assay.cli.text import plain
    from assay.tools.compare_sets import verdict

    a, b, emb, nov = result["a"], result["b"], result["embedding"], result["novelty"]
    div_a, div_b = result["diversity"]["a"], result["diversity"]["b"]
    marginals = {m["name"]: m for m in result["marginals"]}
    words = marginals["words"]
    judged = result["judge"].get("scores")
    lines = [
        f"kept vs {a['label']} ({b['n']:,} vs {a['n']:,} samples; `assay compare` for every measure):",
        f"  words: mean {words['mean_b']:.0f} vs {words['mean_a']:.0f} (JS {words['js']:.3f}); clusters JS "
        f"{marginals['cluster']['js']:.3f}",
        f"  embeddings: MMD² {emb['mmd2']:.4f} (p {emb['mmd_p_value']:.3f}), Fréchet {emb['frechet']:.3f}, "
        f"precision {emb['precision']:.2f}, recall {emb['recall']:.2f}",
        f"  diversity: distinct-2 {div_b['distinct_2']:.3f} vs {div_a['distinct_2']:.3f}, self-BLEU "
        f"{div_b['self_bleu']:.3f} vs {div_a['self_bleu']:.3f}",
        f"  novelty: nearest {a['label']} cosine mean {nov['mean_nn_cosine']:.3f}; {nov['near_copy_share']:.0%} near copies",
        *([f"  judge score: mean {judged['mean_b']:.2f} vs {judged['mean_a']:.2f}"] if judged else []),
        f"  {verdict(result)}",
    ]
    return Group(*(plain(line) for line in lines))
