"""Token-level cleaning (issue 16, IGTC): score each response token, mask the lowest-scoring share
from the training loss, store the masks in the session and write a training JSONL.

`masks.py` turns samples into `TokenMask`s, `output.py` writes the JSONL, `run.py` is the entry
for `assay tokens` (a session or a file) and for `assay run` (`score_session_tokens`).
"""
