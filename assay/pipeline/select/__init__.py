"""Selection: the run's final selection (with skill tags for MIG) and `assay select` files."""
