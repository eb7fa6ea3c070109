"""The streaming, memory-bounded engine of `assay score`: batches, parts on disk, passes on an executor."""
