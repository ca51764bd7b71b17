"""kalbot.web."""
