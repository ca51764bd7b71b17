"""kalbot.adapters."""
