"""Example assay plugins: a filter (`blocklist`), a scorer (`lexical_diversity`), a selector (`round_robin`), a judge (`strict`)."""
