"""A phase's liquidation account: what the exchange delivered to a node, recorded by the
node's :class:`~soak.relay.Relay`, against what the node holds at the end.

The node is read over its native REST route, ``/liquidations/{symbol}?timeframe=1m``.
Its list of recent liquidations stops at 500 per symbol, fewer than a long phase brings,
so the account is kept per one-minute volume bucket, which counts every liquidation the
node holds: its count and its buy and sell volume. For each minute, against the
liquidations delivered in it (each once: the ``duplicate`` fault sends some twice):

- fewer held than delivered: the difference is lost;
- as many, but other volumes: a different liquidation is held in place of one delivered,
  one lost;
- more held than delivered: liquidations that never reached the node, counted too: the
  account itself is then wrong, and the soak must not pass.

A SIGKILL loses by definition what the node had been given and not yet stored (on its
socket, in its loop, on the way to Redis). A delivery in the :data:`KILL_MARGIN_S` before
a kill of its node took effect is therefore counted neither as delivered nor as lost,
only noted; what comes after it went to the restarted node and counts.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx

from marketcast.domain.intervals import Interval
from marketcast.domain.liquidations import Liquidation
from soak.relay import Delivery, Relay

M1 = Interval.parse("1m")
# A killed node had at most this long (real seconds) to store what it was last given: its
# loop lags under a thousand clients, but not by seconds.
KILL_MARGIN_S = 2.0
# Once the relays stop passing liquidations on, what the nodes were given must be held
# within this; the wait ends as soon as it is.
SETTLE_S = 30.0
_NOTES = 5


@dataclass
class Minute:
    """What was delivered of one symbol in one minute."""

    count: int = 0
    buy: Decimal = Decimal(0)
    sell: Decimal = Decimal(0)
    near_kill: int = 0  # delivered just before a kill: may or may not be held

    def add(self, liquidation: Liquidation) -> None:
        self.count += 1
        if liquidation.side == "BUY":
            self.buy += liquidation.quote_value
        else:
            self.sell += liquidation.quote_value


@dataclass
class LiquidationAccount:
    """Liquidations delivered (counted ones) and lost, over the nodes of a phase."""

    delivered: int = 0
    near_kill: int = 0
    lost: int = 0
    notes: list[str] = field(default_factory=list)

    def note(self, line: str) -> None:
        if len(self.notes) < _NOTES:
            self.notes.append(line)


def delivered_minutes(
    deliveries: Iterable[Delivery], kills: Sequence[float]
) -> tuple[dict[str, dict[int, Minute]], int]:
    """Each symbol's minutes of what was delivered, and how many deliveries came just before
    a kill (and never again away from one)."""
    counted: dict[tuple[object, ...], Liquidation] = {}
    near: dict[tuple[object, ...], Liquidation] = {}
    for delivery in deliveries:
        liquidation = delivery.liquidation
        key = (liquidation.symbol, *liquidation.key)  # the hub keeps each key once too
        close_to_kill = any(kill - KILL_MARGIN_S <= delivery.at_s <= kill for kill in kills)
        (near if close_to_kill else counted).setdefault(key, liquidation)
    minutes: dict[str, dict[int, Minute]] = defaultdict(lambda: defaultdict(Minute))
    for liquidation in counted.values():
        minutes[liquidation.symbol][M1.floor(liquidation.time_ms)].add(liquidation)
    only_near = [liquidation for key, liquidation in near.items() if key not in counted]
    for liquidation in only_near:
        minutes[liquidation.symbol][M1.floor(liquidation.time_ms)].near_kill += 1
    return minutes, len(only_near)


def check_symbol(
    account: LiquidationAccount, symbol: str, want: dict[int, Minute], held: list[Any]
) -> None:
    """Add to ``account`` what ``held`` (the node's one-minute buckets) lacks of ``want``."""
    have = {int(bucket["timestamp_ms"]): bucket for bucket in held}
    for open_ms in sorted(want.keys() | have.keys()):
        minute, bucket = want.get(open_ms, Minute()), have.get(open_ms)
        count = int(bucket["count"]) if bucket else 0
        account.delivered += minute.count
        if count < minute.count:
            account.lost += minute.count - count
            account.note(f"{symbol} {open_ms}: {minute.count} delivered, {count} held")
        elif count > minute.count + minute.near_kill:
            account.lost += count - minute.count - minute.near_kill
            account.note(f"{symbol} {open_ms}: {count} held, only {minute.count} delivered")
        elif bucket and not minute.near_kill:
            volumes = (float(minute.buy), float(minute.sell))
            if (bucket["buy_volume"], bucket["sell_volume"]) != volumes:
                account.lost += 1
                account.note(f"{symbol} {open_ms}: held volumes differ from those delivered")


async def held_minutes(http: str, symbol: str) -> list[Any]:
    """The node's one-minute liquidation buckets of ``symbol``, all it holds."""
    async with httpx.AsyncClient(base_url=http, timeout=10) as client:
        response = await client.get(f"/liquidations/{symbol}", params={"timeframe": "1m"})
        response.raise_for_status()
        buckets: list[Any] = response.json()["volume"]
        return buckets


async def read_account(
    served: Sequence[tuple[str, Relay]], symbols: Sequence[str]
) -> LiquidationAccount:
    account = LiquidationAccount()
    for http, relay in served:
        minutes, near_kill = delivered_minutes(relay.delivered, relay.kills)
        account.near_kill += near_kill
        for symbol in symbols:
            try:
                held = await held_minutes(http, symbol)
            except (httpx.HTTPError, KeyError, ValueError) as error:
                held = []
                account.note(f"{http} /liquidations/{symbol} unreadable: {error!r}")
            check_symbol(account, symbol, minutes.get(symbol, {}), held)
    return account


async def account_liquidations(
    served: Sequence[tuple[str, Relay]], symbols: Sequence[str]
) -> LiquidationAccount:
    """Stop the deliveries, wait (up to :data:`SETTLE_S`) until the nodes at ``served``
    (their origin and relay) hold every liquidation they were given, and account."""
    for _, relay in served:
        relay.freeze()
    started = time.monotonic()
    while True:
        account = await read_account(served, symbols)
        if not account.lost or time.monotonic() - started >= SETTLE_S:
            return account
        await asyncio.sleep(0.5)
