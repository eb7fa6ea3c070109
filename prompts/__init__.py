"""Prompt templates (Jinja2, StrictUndefined), versioned, loaded with importlib.resources."""
