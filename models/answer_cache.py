"""A small LRU of request-independent results, shared by the requests one worker answers."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

CACHE_SIZE = 32


class AnswerCache:
    """The last few request-independent results (a small LRU), shared by the requests a worker answers.

    Not pickled with the bundle (the owner drops it in `__getstate__`). A result is built outside
    the lock, so a slow build never holds up other requests; two threads asking for the same new
    key may both build it once, harmlessly (the values are never mutated). Errors are not cached.
    """

    def __init__(self, size: int = CACHE_SIZE) -> None:
        self.size = size
        self._items: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, build: Callable[[], Any]) -> Any:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        value = build()
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return value

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        return len(self._items)
