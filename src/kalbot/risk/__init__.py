"""kalbot.risk."""
