"""kalbot.analysis."""
