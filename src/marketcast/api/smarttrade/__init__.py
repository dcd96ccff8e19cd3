"""SmartTrade's contract (REST and WebSocket), served from the one pipeline.

The contract is described in ``docs/smarttrade.md``. Its ``/health``, ``/symbols``,
``/candles``, ``/streaming/status`` and ``/signals`` routes are the native ones.
"""
