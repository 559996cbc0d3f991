"""A coroutine raises after it was resumed with a worker's result."""

import common

import qtasks


@qtasks.coroutine
def body():  # type: ignore[no-untyped-def]
    value = yield qtasks.run(abs, -3)
    raise RuntimeError(f"boom-after-resume {value}")


handle = body()
common.run_until_idle()
