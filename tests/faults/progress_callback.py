"""A progress listener raises."""

import common

import qtasks


def work() -> str:
    qtasks.report_progress(1)
    return "done"


def bad_listener(value: object) -> None:
    raise LookupError(f"boom-in-progress-callback {value}")


results = []
task = qtasks.run(work)
task.on_progress(bad_listener)
task.add_done_callback(lambda t: results.append(t.result()))
common.run_until_idle(lambda: results == ["done"])
