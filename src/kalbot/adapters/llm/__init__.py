"""kalbot.adapters.llm."""
