"""LLM agents (judge, decomposer, rewriter, synthesizer, planner): a prompt in, a typed verdict out."""
