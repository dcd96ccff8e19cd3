"""OrderFox's contract (prefix ``/api/v1``): symbols, order book, candles, trades, liquidations.

The contract is described in ``docs/orderfox.md``.
"""
