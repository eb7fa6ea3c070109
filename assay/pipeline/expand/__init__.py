"""Expansion (AIDE multi-hop synthesis): the steps the expansion subgraph runs, a round's expansion jobs, and `assay expand` requests."""
