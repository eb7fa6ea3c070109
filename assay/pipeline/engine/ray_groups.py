"""The global dedup's candidate groups on Ray: keys hash-shuffled over Ray tasks, links and components on the driver.

The local engine (dedup_groups.candidate_groups) sorts the key and signature columns with numpy on
one machine. Here a map task per pass-1 part reads those columns and explodes them into one row
per survivor and key: the exact key (band -1), and each LSH band's rows of the MinHash signature,
packed two 32-bit values to a 64-bit column (the rows themselves, not a hash of them, so equal
keys mean equal rows). It splits the rows by a hash of (band, key) into `partitions` shards, and
a reduce task per partition sorts its shards and returns the keys held by two survivors or more,
as groups of positions: the keys of the whole pool spread over the cluster, never on one node.
On the driver each exact group is chained, and the band groups are the LSH buckets that
dedup_links.similar_links joins, the very function the local engine calls. The connected
components of those links over the survivors in input order are the candidate groups: the same
components and the same scipy numbering (dedup_groups.components) as the local engine, so the
very same arrays.

The shuffle is Ray tasks, not Ray Data's groupby: that one starts its shuffle actors anew for
every call (10-15 s here for a 12-record pool) and hands groups back as Python lists.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from assay.pipeline.engine.parts import Parts
from assay.pipeline.screen.scoring import ScoreOptions

EXACT_BAND = -1  # the exact key's "band": exact and MinHash keys never group together
MAX_RETRIES = 3  # a task whose worker died runs again; an exception in it is an error


def candidate_groups(parts: Parts, batches: int, options: ScoreOptions,
                     partitions: int) -> tuple[int, np.ndarray, np.ndarray]:
    """(survivors, their positions in groups of two or more, each one's group label), as
    dedup_groups.candidate_groups returns them, the keys shuffled over `partitions` Ray reduce tasks."""
    import ray

    from assay.pipeline.engine.dedup_features import lsh_params
    from assay.pipeline.engine.dedup_groups import components
    from assay.pipeline.engine.dedup_links import similar_links
    from assay.pipeline.engine.screen_pass import PART as SCREEN_PART

    survivors, per_batch, signatures = _survivors(parts, batches)
    count = len(survivors)
    empty = np.zeros(0, dtype=np.int64)
    if not count:
        return 0, empty, empty
    bands, rows = lsh_params(options) if signatures is not None else (0, 0)
    width = max(2, (rows + 1) // 2)  # key columns: the exact key's two halves, or a band's rows two by two
    mapper = ray.remote(max_retries=MAX_RETRIES, retry_exceptions=False, num_returns=partitions)(_map_part)
    reducer = ray.remote(max_retries=MAX_RETRIES, retry_exceptions=False)(_reduce_partition)
    shards = [mapper.remote(str(parts.path(SCREEN_PART, index)), bands, rows, width, partitions)
              for index in range(batches)]
    if partitions == 1:
        shards = [[shard] for shard in shards]
    reduced = [reducer.remote(*[shard[p] for shard in shards]) for p in range(partitions)]
    del shards  # the driver keeps no reference: each shard is freed once its reduce task has run
    exact_nodes, exact_group, band_nodes, band_group = [], [], [], []
    groups_seen = 0
    for ref in reduced:
        group_band, flat, sizes = ray.get(ref)
        group = np.repeat(np.arange(groups_seen, groups_seen + len(sizes)), sizes)
        groups_seen += len(sizes)
        is_exact = np.repeat(group_band == EXACT_BAND, sizes)
        nodes = np.searchsorted(survivors, flat)
        exact_nodes.append(nodes[is_exact])
        exact_group.append(group[is_exact])
        band_nodes.append(nodes[~is_exact])
        band_group.append(group[~is_exact])
    links = [_chains(np.concatenate(exact_nodes), np.concatenate(exact_group))]
    if signatures is not None:
        nodes, group = np.concatenate(band_nodes), np.concatenate(band_group)
        heads = np.flatnonzero(np.diff(group)) + 1  # each band group's nodes are together, ascending
        buckets = np.split(nodes, heads) if len(nodes) else []
        links.append(similar_links(parts, per_batch, buckets, signatures, options, links[0]))  # as locally
    return (count, *components(count, survivors, links))


def _chains(flat: np.ndarray, group: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each group's nodes (`flat` holds the groups one after another, `group` their group) linked in a chain."""
    same = group[1:] == group[:-1]
    return flat[:-1][same], flat[1:][same]


def _map_part(path: str, bands: int, rows: int, width: int, partitions: int) -> tuple[np.ndarray, ...]:
    """A map task: one part's survivors exploded into (band, key, position) rows, split into `partitions` shards."""
    import pyarrow.parquet as pq

    table = pq.read_table(path, columns=["position", "keep", "exact_key", "signature"])
    rows_out = _explode_keys(table, bands, rows, width)
    mixed = rows_out["band"].astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    for column in range(width):  # wrapping arithmetic: a cheap, even mix of the key's columns
        mixed = (mixed ^ rows_out["keys"][:, column].view(np.uint64)) * np.uint64(0xBF58476D1CE4E5B9)
    shard = (mixed >> np.uint64(33)) % np.uint64(partitions)
    shards = tuple(rows_out[shard == p] for p in range(partitions))
    return shards if partitions > 1 else shards[0]  # type: ignore[return-value]


def _reduce_partition(*shards: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A reduce task: the partition's keys held by two survivors or more, as (each group's band, the groups'
    positions one group after another, ascending within each, each group's size)."""
    table = np.concatenate(shards) if shards else np.zeros(0, dtype=_dtype(2))
    keys = table["keys"]
    order = np.lexsort((table["position"], *(keys[:, c] for c in range(keys.shape[1] - 1, -1, -1)), table["band"]))
    table = table[order]
    keys = table["keys"]
    if not len(table):
        return np.zeros(0, np.int16), np.zeros(0, np.int64), np.zeros(0, np.int64)
    new = np.ones(len(table), dtype=bool)  # where a key's run starts
    new[1:] = (table["band"][1:] != table["band"][:-1]) | (keys[1:] != keys[:-1]).any(axis=1)
    starts = np.flatnonzero(new)
    sizes = np.diff(np.append(starts, len(table)))
    shared = sizes >= 2  # a key held by one survivor links nothing
    member = np.repeat(shared, sizes)
    return table["band"][starts[shared]], table["position"][member], sizes[shared]


def _dtype(width: int) -> np.dtype:
    return np.dtype([("band", np.int16), ("keys", np.int64, (width,)), ("position", np.int64)])


def _survivors(parts: Parts, batches: int) -> tuple[np.ndarray, list[int], np.ndarray | None]:
    """Pass 1's survivors: their input positions, ascending (the link graph's nodes, in the local engine's
    order), how many each batch holds, and their MinHash signatures (None when MinHash is off)."""
    import pyarrow as pa

    from assay.pipeline.engine.screen_pass import PART as SCREEN_PART

    positions, sizes, signatures = [], [], []
    for index in range(batches):
        table = parts.read_table(SCREEN_PART, index, columns=["position", "keep", "signature"])
        table = table.filter(table.column("keep").fill_null(False))
        positions.append(table.column("position").to_numpy())
        sizes.append(len(table))
        signatures.extend(table.column("signature").chunks)
    position = np.concatenate(positions) if positions else np.zeros(0, dtype=np.int64)
    column = pa.concat_arrays(signatures) if signatures else None
    if column is None or column.null_count == len(position):
        return position, sizes, None
    return position, sizes, column.flatten().to_numpy().reshape(len(position), -1)


def _explode_keys(table: Any, bands: int, rows: int, width: int) -> np.ndarray:
    """One row per survivor and key: (band, the key in `width` 64-bit columns, position)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    table = table.filter(pc.fill_null(table.column("keep"), False))
    position = table.column("position").to_numpy()
    found: list[tuple[int, np.ndarray, np.ndarray]] = []  # (band, key matrix, positions)
    exact = table.column("exact_key").combine_chunks()
    has = pc.is_valid(exact).to_numpy(zero_copy_only=False)
    if has.any():  # 16 bytes as two 64-bit halves
        halves = np.frombuffer(b"".join(exact.filter(pa.array(has)).to_pylist()), dtype="<i8").reshape(-1, 2)
        found.append((EXACT_BAND, halves, position[has]))
    signature = table.column("signature").combine_chunks()
    present = pc.is_valid(signature).to_numpy(zero_copy_only=False)
    if rows and present.any():
        matrix = signature.filter(pa.array(present)).flatten().to_numpy().reshape(int(present.sum()), -1)
        matrix = matrix.astype(np.uint64)
        for band in range(bands):  # as the local engine bands them (bands × rows may leave values unused)
            block = matrix[:, band * rows:(band + 1) * rows]
            packed = np.stack([block[:, i] << np.uint64(32) | (block[:, i + 1] if i + 1 < rows else np.uint64(0))
                               for i in range(0, rows, 2)], axis=1).view(np.int64)
            found.append((band, packed, position[present]))
    out = np.zeros(sum(len(p) for _, _, p in found), dtype=_dtype(width))
    at = 0
    for band, keys, positions in found:
        out["band"][at:at + len(positions)] = band
        out["keys"][at:at + len(positions), :keys.shape[1]] = keys  # narrower keys padded with zeros
        out["position"][at:at + len(positions)] = positions
        at += len(positions)
    return out
