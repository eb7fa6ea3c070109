"""The streaming engine's driver holds a bounded number of bytes per sample in its global dedup (issue 14:
peak RSS <= 4 GB at 1M samples), measured on a 20k synthetic pool (evals/scale_pool.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from assay.pipeline.engine.batches import InputStats, read_batches
from assay.pipeline.engine.parts import Parts
from assay.pipeline.engine.screen_pass import ScreenJob, screen_batch
from assay.pipeline.screen.scoring import ScoreOptions

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "evals"))
import scale_pool  # noqa: E402

pytestmark = pytest.mark.skipif(not (scale_pool.DATA / scale_pool.SOURCES[0]).exists(), reason="needs ../shared/data/alpaca")

# Bytes a survivor may cost the global dedup at its peak (Python and numpy objects, tracemalloc, plus Arrow's
# buffers): its 128-value signature (512), position and exact key (24), its share of the LSH buckets and of
# the fingerprints of the survivors near another (about 250 on this pool), the union-find and the sort
# temporaries: 1,750 bytes here all told, fixed costs included. The engine before held every batch's
# fingerprint column alive, a numpy array per bucket and every pair it tried: 4,660 bytes here, 2.7x.
BUDGET = 1200
FIXED = 16 << 20  # a chunk of rows read at a time, pair comparisons in chunks: whatever the pool's size

MEASURE = """
import json, sys, tracemalloc
from pathlib import Path
import pyarrow as pa, pyarrow.compute, pyarrow.parquet, scipy.sparse.csgraph  # imports are no part of the figure
import assay.pipeline.engine.dedup_links, assay.pipeline.engine.dedup_features, assay.pipeline.engine.screen_pass
import assay.tools.dedup, assay.tools.dedup_lsh, pandas
from assay.pipeline.engine.dedup_groups import candidate_groups
from assay.pipeline.engine.parts import Parts
from assay.pipeline.screen.scoring import ScoreOptions
tracemalloc.start()
count, positions, labels = candidate_groups(Parts(Path(sys.argv[1]), "memory"), int(sys.argv[2]),
                                            ScoreOptions(dedup=("exact", "minhash"), heuristics=False, embed=False))
print(json.dumps({"survivors": count, "grouped": len(positions), "python": tracemalloc.get_traced_memory()[1],
                  "arrow": pa.default_memory_pool().max_memory()}))
"""


def dedup_peak(folder: Path, batches: int, source: Path = ROOT) -> dict[str, int]:
    """The global dedup's candidate groups over the parts in `folder`, in a fresh process (so Arrow's peak is
    its alone): survivors, grouped, and the peak bytes of Python objects and of Arrow buffers."""
    done = subprocess.run([sys.executable, "-c", MEASURE, str(folder), str(batches)], cwd=source, check=True,
                          capture_output=True, text=True)
    return json.loads(done.stdout)


def test_the_global_dedup_holds_a_bounded_number_of_bytes_per_survivor(tmp_path: Path) -> None:
    pool = tmp_path / "pool.jsonl"
    scale_pool.write_pool(pool, 20_000, 0.2, seed=0)
    options = ScoreOptions(dedup=("exact", "minhash"), heuristics=False, embed=False)
    parts = Parts.open(tmp_path / "parts", "memory")
    batches = 0
    for batch in read_batches(pool, InputStats(), batch_size=5000, skip_invalid=False, max_record_bytes=1 << 20):
        screen_batch(ScreenJob(batch.index, batch.rows, options, parts.folder, parts.fingerprint))
        batches += 1
    peak = dedup_peak(parts.folder, batches)
    assert peak["survivors"] > 15_000 and peak["grouped"] > 1000  # the pool has copies to find
    used = peak["python"] + peak["arrow"]
    assert used <= BUDGET * peak["survivors"] + FIXED, (used / peak["survivors"], peak)
