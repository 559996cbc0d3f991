"""A done callback raises, on a function task and on a coroutine."""

import common

import qtasks


@qtasks.coroutine
def body():  # type: ignore[no-untyped-def]
    return (yield qtasks.run(abs, -3))


def bad_callback(task: object) -> None:
    raise KeyError("boom-in-done-callback")


qtasks.run(abs, -1).add_done_callback(bad_callback)
body().add_done_callback(bad_callback)
calls = []
qtasks.run(abs, -2).add_done_callback(calls.append)
common.run_until_idle(lambda: len(calls) == 1)
