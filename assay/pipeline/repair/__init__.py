"""Repair and review: the round's rewrites as proposals, the review gate and decisions, and applying what was approved."""
