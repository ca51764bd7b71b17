"""kalbot.adapters.store."""
