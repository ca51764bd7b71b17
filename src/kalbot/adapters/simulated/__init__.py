"""kalbot.adapters.simulated."""
