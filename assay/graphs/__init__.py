"""LangGraph state machines: the curation loop and the expansion subgraph."""
