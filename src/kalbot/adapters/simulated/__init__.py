"""kalbot.adapters.simulated: an in-process Kalshi (matching engine, accounts, fees, scenarios).

Public surface: ``Exchange`` (exchange.py), ``MarketSpec``, the records and events it hands
out, ``EngineError``/``ErrorCode``, fill models, ``SimulatedBroker`` and ``ExchangeMarketData``.
Nothing here does I/O; time comes from the injected clock.
"""

from kalbot.adapters.simulated.native import stale_modules as _stale_modules

if _stale := _stale_modules():
    raise ImportError(
        "the compiled simulated-exchange modules are older than their sources ("
        + ", ".join(_stale)
        + "): run `make native` to rebuild them, or `make pure` to run the Python sources"
    )
