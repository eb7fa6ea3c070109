"""Test helpers for assay: local fakes of external services."""
