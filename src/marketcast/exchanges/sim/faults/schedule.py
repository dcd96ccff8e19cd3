"""The fault schedule grammar: which faults to inject, and when, as one line of text.

Grammar (whitespace around items is ignored)::

    schedule := item ("," item)*
    item     := fault "@" offset
    fault    := name (":" number)*
    offset   := number ["ms" | "s" | "m"]     real time since the simulator started;
                                              a bare number means seconds

    name and arguments                     effect (see :class:`~.injector.Faults`)
    drop                                   close every WebSocket abruptly
    stall:SECONDS                          sockets stay open, no data for SECONDS
    delay:SECONDS:DURATION                 hold each message SECONDS, for DURATION s
    duplicate:COUNT                        send the next COUNT messages twice
    malformed:COUNT                        send COUNT garbage frames
    skip_final:COUNT                       suppress the next COUNT ``x:true`` updates
    trade_gap:COUNT                        leave the next COUNT trades out of WS streams
    depth_gap[:COUNT]                      leave the next COUNT depth diffs out (U/u break)
    age_limit                              close connections as at Binance's 24 h limit
    shutdown[:GRACE]                       ``serverShutdown`` event, close GRACE s later
    rest_error:STATUS[:COUNT[:RETRY]]      next COUNT REST calls fail with STATUS
                                           (429, 418, 500, 502, 503), Retry-After RETRY s
    rest_latency:SECONDS                   add SECONDS to every REST response (0: off)
    downtime:DURATION_MS                   exchange down for DURATION_MS of virtual time

Example: ``drop@30s,stall:5@60s,downtime:180000@90s,rest_error:429:3:2@2m``.

Scheduled faults reach spot and USD-M futures alike (``sim.faults`` methods take a
``market=`` to reach only one).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

from marketcast.errors import InvalidRequest

ARITY: Final[dict[str, tuple[int, int]]] = {
    "drop": (0, 0),
    "stall": (1, 1),
    "delay": (2, 2),
    "duplicate": (1, 1),
    "malformed": (1, 1),
    "skip_final": (1, 1),
    "trade_gap": (1, 1),
    "depth_gap": (0, 1),
    "age_limit": (0, 0),
    "shutdown": (0, 1),
    "rest_error": (1, 3),
    "rest_latency": (1, 1),
    "downtime": (1, 1),
}
"""Fault name → (fewest, most) arguments."""

REST_ERROR_STATUSES: Final = frozenset({418, 429, 500, 502, 503})
_UNITS: Final = (("ms", 0.001), ("s", 1.0), ("m", 60.0))


class InvalidFaultSchedule(InvalidRequest):
    """A fault schedule that does not follow the grammar of this module."""

    code = "invalid_fault_schedule"


@dataclass(frozen=True, slots=True)
class FaultAction:
    """One fault to inject, e.g. ``FaultAction("stall", (5.0,))``."""

    name: str
    args: tuple[float, ...] = ()

    def __str__(self) -> str:
        return ":".join([self.name, *(f"{a:g}" for a in self.args)])


@dataclass(frozen=True, slots=True)
class ScheduledFault:
    """``action`` to run ``at_s`` real seconds after the simulator starts."""

    at_s: float
    action: FaultAction


@dataclass(frozen=True, slots=True)
class FaultSchedule:
    """Faults in the order they fire."""

    items: tuple[ScheduledFault, ...] = ()

    @staticmethod
    def parse(text: str) -> FaultSchedule:
        """Parse the grammar above; raise :class:`InvalidFaultSchedule` on any mistake."""
        items = [_parse_item(part.strip()) for part in text.split(",") if part.strip()]
        return FaultSchedule(tuple(sorted(items, key=lambda item: item.at_s)))

    def __str__(self) -> str:
        return ",".join(f"{item.action}@{item.at_s:g}s" for item in self.items)


def _parse_item(text: str) -> ScheduledFault:
    fault, at, offset = text.partition("@")
    if not at:
        raise InvalidFaultSchedule(f"fault {text!r} has no '@offset'")
    name, *raw_args = fault.strip().split(":")
    if name not in ARITY:
        raise InvalidFaultSchedule(f"unknown fault {name!r}; known: {', '.join(ARITY)}")
    fewest, most = ARITY[name]
    if not fewest <= len(raw_args) <= most:
        raise InvalidFaultSchedule(f"{name} takes {fewest}..{most} arguments, got {fault!r}")
    action = FaultAction(name, tuple(_number(arg, text) for arg in raw_args))
    _check(action, text)
    return ScheduledFault(_offset_s(offset.strip(), text), action)


def _check(action: FaultAction, text: str) -> None:
    if any(arg < 0 for arg in action.args):
        raise InvalidFaultSchedule(f"negative argument in {text!r}")
    if action.name == "rest_error" and int(action.args[0]) not in REST_ERROR_STATUSES:
        allowed = ", ".join(str(s) for s in sorted(REST_ERROR_STATUSES))
        raise InvalidFaultSchedule(f"rest_error status must be one of {allowed}: {text!r}")


def _offset_s(text: str, item: str) -> float:
    scale = 1.0
    for suffix, unit_s in _UNITS:  # "ms" is tried before "s" and "m"
        if text.endswith(suffix):
            text, scale = text.removesuffix(suffix), unit_s
            break
    offset = _number(text, item) * scale
    if offset < 0:
        raise InvalidFaultSchedule(f"negative offset in {item!r}")
    return offset


def _number(text: str, item: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise InvalidFaultSchedule(f"not a number: {text!r} in {item!r}") from None
    if not math.isfinite(value):
        raise InvalidFaultSchedule(f"not a finite number: {text!r} in {item!r}")
    return value
