"""The simulated exchange served over HTTP and WebSocket in Kalshi's own wire format."""
