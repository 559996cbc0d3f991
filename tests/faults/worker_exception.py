"""A worker raises: once awaited by a coroutine that lets it escape, once never awaited."""

import common

import qtasks


def boom_awaited() -> None:
    raise ValueError("boom-awaited")


def boom_unawaited() -> None:
    raise ValueError("boom-unawaited")


@qtasks.coroutine
def body():  # type: ignore[no-untyped-def]
    yield qtasks.run(boom_awaited)


handle = body()
unawaited = qtasks.run(boom_unawaited)
common.run_until_idle()
