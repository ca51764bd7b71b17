"""kalbot.backtest."""
