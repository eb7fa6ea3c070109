"""Guideline refinement from review decisions (`assay rubric refine`): the judge's rubric, edited where people
disagreed with it, kept only when it agrees better with their decisions on held-out items."""
