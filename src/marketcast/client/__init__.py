"""A typed asyncio client that keeps the hub's gap-free promise in Python.

It needs only ``httpx``, ``websockets`` and ``orjson`` (importing it loads none of the
server's dependencies), so it can be installed next to any program::

    import asyncio

    from marketcast.client import Client, Reset


    async def main() -> None:
        async with Client("http://127.0.0.1:8000") as client:
            # A range of candles over REST, oldest first, paged as needed.
            day = await client.history("BTCUSDT", "1m", limit=1440)
            print(f"{len(day)} candles, the last closed at {day[-2].close}")

            # Live candles: the 500 newest, then every change, across reconnects,
            # until the candle that was forming above has closed.
            async with client.candles("BTCUSDT", "1m", history=500) as stream:
                async for event in stream:
                    if isinstance(event, Reset):  # the hub could not continue: start over
                        print(f"reset: dropped {event.dropped} candles")
                    elif event.closed and event.time >= day[-1].time:
                        print(f"closed {event.time}: {event.close}")
                        break
                print(f"{len(stream.series)} candles held, oldest first")

            # The exact order book, kept from the depth channel.
            async with client.book("BTCUSDT") as book:
                async for _ in book:  # after the snapshot, then after every change
                    print(f"best bid {book.bids[0]}, best ask {book.asks[0]}")
                    break


    asyncio.run(main())

What a stream yields, and how a consumer keeps an exact copy:

- :meth:`Client.candles` yields :class:`Candle` objects: the snapshot oldest first, then
  each change (the forming candle as it grows, then its closed version). A consumer that
  upserts every yielded candle by ``time`` holds exactly the exchange's series; the
  stream's own copy, kept by the same rule, is ``stream.series``. Only changes are
  yielded: a candle the hub repeats (after a resume, say) is not yielded twice, and a
  closed candle is never followed by a forming copy of itself.
- When the hub cannot continue what is held (the client was away longer than the hub
  keeps history), the stream yields a :class:`Reset` first, having cleared its own copy:
  the consumer clears its copy too, and the candles that follow are the new snapshot.
  ``Reset.last_held`` says where the hole starts, for a consumer that wants to fill it
  with :meth:`Client.history`. Yielding an event, rather than clearing silently, is what
  lets a consumer that keeps its own copy (a chart, a database) stay exact.
- :meth:`Client.trades` yields :class:`Trade` objects in id order without a hole, and
  :class:`Reset` the same way when trades were lost for good.
- :meth:`Client.book` yields the :class:`OrderBook` after its snapshot and after every
  change; ``stream.bids`` and ``stream.asks`` are best first, as ``Decimal`` pairs.

Across disconnects (the hub restarts, a proxy drops the socket, the hub closes a slow
consumer with 4008) every stream reconnects after a capped, jittered exponential backoff
(0.25-0.5 s first, doubling up to 15-30 s; reset once subscribed again) and resumes:
candles with ``since`` = the newest open time held, trades with ``since`` = the last id
held, the book with a fresh snapshot. A stream raises only what waiting cannot fix:
:class:`AuthenticationError` for a missing or wrong token, :class:`HubError` for an unknown
symbol, interval or market. Each stream has a socket of its own, advances as it is
iterated, and closes its socket when its ``async with`` block ends (or on ``aclose()``;
:meth:`Client.aclose` closes every stream still open).

:func:`to_dataframe` turns candles into a pandas DataFrame (pandas is optional).
"""

from marketcast.client.book import Level, OrderBook
from marketcast.client.errors import (
    AuthenticationError,
    ClientError,
    HubError,
    HubUnavailable,
    OutOfSync,
)
from marketcast.client.events import Reset
from marketcast.client.frame import to_dataframe
from marketcast.client.hub import Client
from marketcast.client.series import Candle, CandleSeries
from marketcast.client.streams import BookStream, CandleStream, Stream, TradeStream
from marketcast.client.trades import Trade, TradeTape

__all__ = [
    "AuthenticationError",
    "BookStream",
    "Candle",
    "CandleSeries",
    "CandleStream",
    "Client",
    "ClientError",
    "HubError",
    "HubUnavailable",
    "Level",
    "OrderBook",
    "OutOfSync",
    "Reset",
    "Stream",
    "Trade",
    "TradeStream",
    "TradeTape",
    "to_dataframe",
]
