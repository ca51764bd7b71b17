"""kalbot.adapters.simulated: an in-process Kalshi (matching engine, accounts, fees, scenarios).

Public surface: ``Exchange`` (exchange.py), ``MarketSpec``, the records and events it hands
out, ``EngineError``/``ErrorCode``, fill models, ``SimulatedBroker`` and ``ExchangeMarketData``.
Nothing here does I/O; time comes from the injected clock.
"""
