"""kalbot.screener."""
