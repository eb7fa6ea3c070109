"""Services: what runs tools and agents over a session, stage by stage. No rendering: the CLI, the viewer and the graph call in."""
