"""HTTP and WebSocket edge: the native API and the SmartTrade and OrderFox contracts, over one
transport."""
