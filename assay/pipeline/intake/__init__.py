"""Intake: read sample files, validate each record, and store the new ones in a session."""
