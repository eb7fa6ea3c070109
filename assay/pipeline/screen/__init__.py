"""Screening with the LLM-free tools (heuristics, dedup, decontamination, IFD, clusters): the run's pool, synthesized candidates, and `assay score` files."""
