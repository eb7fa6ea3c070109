"""Bias cues (issue 16, RAZOR-style): detection over a session or a scored file (`assay cues detect`)."""
