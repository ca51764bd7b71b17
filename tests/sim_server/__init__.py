"""Tests of the simulated exchange's Kalshi-compatible server (importable as ``sim_server``)."""
