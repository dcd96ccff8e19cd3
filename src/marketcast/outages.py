"""An outage of something the node depends on, logged as an outage, not as each failure.

A Redis or an exchange that is away makes every caller fail, every few seconds, for as
long as it is away: one line per failure buries the log (seen: 741 lines in 82 s with
the exchange unreachable). :class:`OutageLog` writes one line when an outage begins,
one summary a minute while it lasts (how long, how many failures, the last reason,
when the next retry is due if the caller says), and one when it ends; the failures in
between go to DEBUG.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Final

log = logging.getLogger(__name__)

SUMMARY_EVERY_S: Final = 60.0


class OutageLog:
    """The outages of one dependency (``what``, e.g. ``"redis at redis://h:6379/0"``)."""

    def __init__(
        self,
        what: str,
        *,
        hint: str = "",
        clock: Callable[[], float] = time.monotonic,
        logger: logging.Logger = log,
    ) -> None:
        self.what = what
        self.hint = hint
        """Said once, with the first outage (what to do about it)."""
        self.since: float | None = None
        self.outages = 0
        self.failures = 0
        self._clock = clock
        self._log = logger
        self._summary_at = 0.0
        self._hinted = False

    @property
    def ongoing(self) -> bool:
        return self.since is not None

    def failed(self, reason: str, retry_in_s: float | None = None) -> None:
        now = self._clock()
        self.failures += 1
        retry = f"; next retry in {retry_in_s:.1f}s" if retry_in_s is not None else ""
        if self.since is None:
            self.since, self._summary_at = now, now + SUMMARY_EVERY_S
            self.outages += 1
            hint = f". {self.hint}" if self.hint and not self._hinted else ""
            self._hinted = self._hinted or bool(hint)
            self._log.warning("%s unavailable: %s%s%s", self.what, reason, retry, hint)
        elif now >= self._summary_at:
            self._summary_at = now + SUMMARY_EVERY_S
            self._log.warning(
                "%s still unavailable after %.0fs (%d failures; last: %s)%s",
                self.what,
                now - self.since,
                self.failures,
                reason,
                retry,
            )
        else:
            self._log.debug("%s unavailable: %s%s", self.what, reason, retry)

    def succeeded(self) -> None:
        if self.since is not None:
            lasted = self._clock() - self.since
            self._log.warning(
                "%s is back after an outage of %.1fs (%d failures)",
                self.what,
                lasted,
                self.failures,
            )
            self.since = None
            self.failures = 0
