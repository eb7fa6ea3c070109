"""`assay ui`: a local web viewer for a session's trace, lineage and review items."""
