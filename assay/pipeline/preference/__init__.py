"""Preference pairs from a curation session (DNPO-style dynamic sample labeling).

A session already holds preference evidence: rewrites the pairwise judge preferred in both
orders, synthetic siblings of one parent kept and rejected by the judge, and judged responses
to one instruction. `build.build_pairs` turns that evidence into TRL pairs (`prompt`,
`chosen`, `rejected`) with their margin, source and provenance, and `write.write_pairs`
writes them as JSONL, atomically.
"""
