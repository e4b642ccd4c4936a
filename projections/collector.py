"""Python's cyclic garbage collector paused while a follower catches up from far behind.

A catch-up's batches hold thousands of rows and events for a second or two, so
they outlive the collector's young generations and reach the oldest one, whose
collections scan the whole heap again and again. Measured with
``bench/rebuild_profile.py`` on a 10-county store: a quarter to a third of the
rebuilds' Python CPU (the history 53 → 37 CPU-seconds, the ledger 53 → 41).

The rows and events are freed by reference counting when their batch is done;
only cycles need the collector. So while paused, the young generations are still
collected once the objects they hold have grown past ``YOUNG_LIMIT`` (checked after
every batch, ``after_batch``): without cycles that count stays near what one batch
holds alive and nothing is collected; with cycles they are reclaimed. The oldest
generation waits until the pause ends. (Collecting the young generations after
every batch instead cost 4 to 5 s of a 60 to 76 s rebuild.)

The pause is process-wide, as the collector is: followers catching up in several
threads at once share one, counted, and the collector resumes when the last of
them is done.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_pausers = 0
_was_enabled = True
_mutex = threading.Lock()


@contextmanager
def paused() -> Iterator[None]:
    """Automatic collection off for the duration (nested and concurrent uses share one pause)."""
    global _pausers, _was_enabled
    with _mutex:
        if _pausers == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _pausers += 1
    try:
        yield
    finally:
        with _mutex:
            _pausers -= 1
            if _pausers == 0 and _was_enabled:
                gc.enable()


#: Objects in the young generations (allocations less deallocations since they were last
#: collected) past which ``after_batch`` collects them: a few batches' worth.
YOUNG_LIMIT = 1_000_000


def after_batch() -> None:
    """Collect the young generations if cycles have piled up in them."""
    if gc.get_count()[0] >= YOUNG_LIMIT:
        gc.collect(1)


def pausing() -> bool:
    with _mutex:
        return _pausers > 0
