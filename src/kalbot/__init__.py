"""kalbot: an AI-assisted trading bot for Kalshi prediction markets."""

__version__ = "0.1.0"
