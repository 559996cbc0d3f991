"""The exceptions qtasks raises into user code."""

from __future__ import annotations

import builtins

__all__ = ["CancelledError", "TimeoutError"]


class CancelledError(BaseException):
    """The task was cancelled.

    Derives from `BaseException`, like `asyncio.CancelledError`, so that an
    ``except Exception`` in a coroutine or worker does not swallow it.
    """


class TimeoutError(builtins.TimeoutError):  # noqa: A001 - the public name, as in asyncio
    """An awaitable did not finish within the time given to it."""
