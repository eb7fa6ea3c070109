"""Scoring and selection tools that need no LLM: heuristics, IFD, dedup, decontamination, selectors."""
