"""Workers raise SystemExit and KeyboardInterrupt: reported, and the program keeps running."""

import common

import qtasks


def exits() -> None:
    raise SystemExit("boom-system-exit")


def interrupted() -> None:
    raise KeyboardInterrupt("boom-keyboard-interrupt")


@qtasks.coroutine
def body():  # type: ignore[no-untyped-def]
    yield qtasks.run(exits)


handle = body()
unawaited = qtasks.run(interrupted)
after = []
later = qtasks.run(abs, -5)
later.add_done_callback(lambda t: after.append(t.result()))
common.run_until_idle(lambda: after == [5])
