"""`retry`: a small decorator that re-runs a call on transient errors with exponential backoff."""
from __future__ import annotations

import functools
import logging
import time
from typing import Callable

log = logging.getLogger(__name__)


def retry(*, retry_on: tuple[type[BaseException], ...], attempts: int = 5, base_delay: float = 0.25,
          max_delay: float = 8.0, before_retry: Callable | None = None,
          give_up: Callable[[BaseException], BaseException] | None = None, sleep: Callable[[float], None] = time.sleep):
    """Call the function up to `attempts` times while it raises one of `retry_on`.

    Between attempts it sleeps base_delay, 2·base_delay, … (capped at max_delay) and then calls
    `before_retry(*args, **kwargs)` (e.g. reconnect) inside the next attempt, so a failing reconnect
    counts as a failed attempt. After the last attempt it raises `give_up(exc)` (or exc itself).
    """
    if attempts < 1:
        raise ValueError("attempts must be >= 1")

    def decorate(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            delay = base_delay
            for attempt in range(1, attempts + 1):
                try:
                    if attempt > 1 and before_retry is not None:
                        before_retry(*args, **kwargs)
                    return fn(*args, **kwargs)
                except retry_on as exc:
                    if attempt == attempts:
                        if give_up is None:
                            raise
                        raise give_up(exc) from exc
                    log.warning("%s failed (%s: %s); retry %d/%d in %.2fs", fn.__qualname__,
                                type(exc).__name__, exc, attempt, attempts - 1, delay)
                    sleep(delay)
                    delay = min(delay * 2, max_delay)
        return wrapper
    return decorate
