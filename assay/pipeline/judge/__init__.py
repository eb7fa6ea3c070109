"""Judging: a round's unjudged samples, a pool batch with its verdicts recorded, `assay judge` files and pairs, claim verification, the cheap quality model."""
