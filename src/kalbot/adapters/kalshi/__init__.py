"""kalbot.adapters.kalshi."""
