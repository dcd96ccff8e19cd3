"""HTTP and WebSocket edge: native API and the SmartTrade compatibility contract."""
