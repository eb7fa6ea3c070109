"""MIG's label graph and each candidate's information vector, as sparse matrices.

The semantic space is a graph over labels (tags): an edge joins two labels whose embeddings
have cosine ≥ a threshold (0.9 by default, as in the paper), weighted by that cosine; every
label has a self-loop. A candidate puts its quality score on each of its labels, and the
graph spreads it to neighbouring labels through the column-normalised adjacency matrix:
information = v · P with P[i, j] = W[i, j] / Σ_k W[k, j]. So a label j receives the mass of
every label linked to it, divided by j's weighted degree.

Nothing here is dense in N or L: the graph is built tile by tile and kept as CSR, and the
candidate × label matrix holds only the labels each candidate reaches.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from assay.tools.selection.base import LabelSets

ROW_BLOCK = 1024  # label rows per similarity tile


def label_adjacency(label_vectors: np.ndarray, threshold: float = 0.9, *, off_diagonal_weight: float = 1.0) -> sp.csr_matrix:
    """W: cosine between labels where ≥ threshold (else no edge), self-loops of weight 1.

    `off_diagonal_weight` scales the edges between different labels (the reference code's
    `prop_weight`, 1 by default): 0 gives an identity graph, labels that share nothing.
    """
    # float64: there are few labels, and an edge should not hinge on float32 rounding at the threshold.
    vectors = np.ascontiguousarray(label_vectors, dtype=np.float64)
    n = len(vectors)
    rows, cols, weights = [np.arange(n)], [np.arange(n)], [np.ones(n, dtype=np.float64)]
    if off_diagonal_weight > 0:
        for start in range(0, n, ROW_BLOCK):
            sims = vectors[start : start + ROW_BLOCK] @ vectors.T
            r, c = np.nonzero(sims >= threshold)
            off = r + start != c  # the diagonal is set to exactly 1 above
            rows.append(r[off] + start)
            cols.append(c[off])
            weights.append(sims[r[off], c[off]] * off_diagonal_weight)
    adjacency = sp.csr_matrix((np.concatenate(weights), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n))
    adjacency.sum_duplicates()
    adjacency.sort_indices()
    return adjacency


def propagation_matrix(adjacency: sp.spmatrix) -> sp.csr_matrix:
    """P = W with each column divided by its sum (self-loops keep every sum ≥ 1)."""
    adjacency = sp.csr_matrix(adjacency, dtype=np.float64)
    column_sums = np.asarray(adjacency.sum(axis=0)).ravel()
    scale = sp.diags(1.0 / np.where(column_sums > 0, column_sums, 1.0))
    propagation = sp.csr_matrix(adjacency @ scale)
    propagation.sort_indices()
    return propagation


def sample_label_matrix(labels: LabelSets, quality: np.ndarray | None, *, split_quality: bool = False) -> sp.csr_matrix:
    """V: candidate i puts its quality s_i on each of its labels (s_i / |labels| if split).

    The reference sampler's documented command spreads the full score to every label (its
    `--norm` flag, off there, is `split_quality` here). Without quality, s_i = 1.
    """
    n = labels.n_rows
    per_row = np.ones(n, dtype=np.float64) if quality is None else np.asarray(quality, dtype=np.float64)
    if split_quality:
        counts = np.diff(labels.indptr)
        per_row = per_row / np.where(counts > 0, counts, 1)
    data = np.repeat(per_row, np.diff(labels.indptr))
    return sp.csr_matrix((data, labels.indices, labels.indptr), shape=(n, len(labels.names)))


def information_matrix(labels: LabelSets, quality: np.ndarray | None, propagation: sp.spmatrix | None, *,
                       split_quality: bool = False) -> sp.csr_matrix:
    """I = V · P: each candidate's information over labels after propagation (CSR, sorted).

    `propagation=None` means no graph (labels are disjoint, e.g. k-means clusters): I = V.
    """
    values = sample_label_matrix(labels, quality, split_quality=split_quality)
    information = values if propagation is None else sp.csr_matrix(values @ propagation)
    information.sum_duplicates()
    information.sort_indices()
    information.eliminate_zeros()
    return information
