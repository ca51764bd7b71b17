"""kalbot.recorder."""
