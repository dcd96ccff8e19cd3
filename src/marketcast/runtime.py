"""How the serving process runs CPython's cyclic garbage collector.

Fan-out allocates container objects per delivered update (queued entries, their keys,
coroutine frames) that live for milliseconds. With the default young-generation
threshold (700 net allocations) a collection ran every few milliseconds under load,
promoted those objects before they died and so kept triggering full collections, each
walking every tracked object of the process: with 1000 clients about 850k objects and
200-300 ms with the event loop stopped, 24 of them in a 35 s run. ``bench/fanout.py``
at 1000 clients x 30 topics, ``batch_ms=20``: 136k -> 170k delivered updates/s, p99
405 -> 119 ms.

Short-lived objects now die young, before any collection sees them; what survives
start-up (modules, the app, the bootstrapped hub) is frozen, so the full collections
that still happen, rarely, do not walk it again and again.
"""

from __future__ import annotations

import gc

# Net allocations of tracked objects between young collections: at 100k+ updates/s a
# collection every few hundred milliseconds, of objects that are mostly still in use.
YOUNG_THRESHOLD = 50_000
# Young collections per middle one, middle ones per full one (CPython also waits for
# the survivors since the last full collection to reach a quarter of the old objects).
# A middle collection walks the survivors of that many young ones. While thousands of
# clients connect nearly everything survives (~330 objects per connection): at 20 young
# per middle one, each middle collection walked ~1M objects with the loop stopped,
# ~310 ms, at 10,000 clients; at 5, ~65 ms. Full collections stay as far apart as they
# were (200 young collections: 5 x 40, where it was 20 x 10).
MIDDLE_THRESHOLD = 5
OLD_THRESHOLD = 40


def tune_collector() -> None:
    gc.set_threshold(YOUNG_THRESHOLD, MIDDLE_THRESHOLD, OLD_THRESHOLD)


def freeze_startup_objects() -> None:
    """Exempt everything alive now from later collections (call once start-up is done).

    Frozen objects are still freed by reference counting; only a reference cycle among
    them would stay, and start-up state lives as long as the process anyway.
    """
    gc.collect()
    gc.freeze()
