"""Planning a round: measure the targets, choose the next action (the policy, or the LLM planner checked against it)."""
