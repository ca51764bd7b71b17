"""kalbot.engine."""
