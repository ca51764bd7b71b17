"""kalbot.strategy."""
