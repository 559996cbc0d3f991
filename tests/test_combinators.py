"""gather and wait: results in argument order, the first failure, return_exceptions, return_when.

timeout() is tested with the rest of the QTimer glue, in test_qt.py.
"""

from __future__ import annotations

import gc
import threading
import weakref
from typing import Any

import pytest
from support import Gate, double, fail_with_value_error, settle

import qtasks

# -- gather -------------------------------------------------------------------


def test_gather_ten_thousand_results_in_order(qtasks_run: Any) -> None:
    """gather returns every result in argument order."""

    @qtasks.coroutine
    def body() -> Any:
        return (yield qtasks.gather(*(qtasks.run(double, i) for i in range(10_000))))

    assert [2 * i for i in range(10_000)] == qtasks_run(body(), timeout=60)


def test_gather_of_nothing_is_an_empty_list(qtasks_run: Any) -> None:
    """gather() gives []."""
    assert [] == qtasks_run(qtasks.gather())


def test_gather_first_failure_raises_and_cancels_the_rest(qtasks_run: Any) -> None:
    """The first child to fail fails the gather and cancels its siblings."""
    gate = Gate()
    failing = qtasks.run(fail_with_value_error, 3)
    blocked = qtasks.run(gate)
    gathered = qtasks.gather(blocked, failing)
    with pytest.raises(ValueError, match="bad value 3"):
        qtasks_run(gathered)
    assert blocked.cancelled()
    gate.opened.set()


def test_gather_return_exceptions_puts_them_in_the_list(qtasks_run: Any) -> None:
    """With return_exceptions the exceptions take their places in the results."""
    results = qtasks_run(
        qtasks.gather(qtasks.run(double, 1), qtasks.run(fail_with_value_error, 2), return_exceptions=True)
    )
    assert 2 == results[0]
    assert isinstance(results[1], ValueError)


def test_cancelling_a_gather_cancels_its_children(qtasks_run: Any) -> None:
    """Cancelling the gather cancels every child."""
    gate = Gate()
    children = [qtasks.run(gate) for _ in range(4)]
    gathered = qtasks.gather(*children)
    assert gathered.cancel()
    assert all(child.cancelled() for child in children)
    with pytest.raises(qtasks.CancelledError):
        gathered.result()
    gate.opened.set()


def test_gather_runs_plain_async_def_coroutine_objects(qtasks_run: Any) -> None:
    """gather() accepts the coroutine object of an undecorated async def and runs it on the GUI thread."""
    threads: list[int] = []

    async def plain(x: int) -> int:
        threads.append(threading.get_ident())
        value: int = await qtasks.run(double, x)
        threads.append(threading.get_ident())
        return value

    assert [2, 4] == qtasks_run(qtasks.gather(plain(1), plain(2)))
    assert 4 * [threading.get_ident()] == threads


# -- gather's arguments -------------------------------------------------------


def test_a_coroutine_object_given_twice_runs_once_and_fills_both_places(qtasks_run: Any) -> None:
    """gather(c, c) runs the coroutine once and gives its result in both places; wait() counts it once."""
    runs: list[int] = []

    async def child() -> int:
        runs.append(1)
        return await qtasks.run(double, 5)

    same = child()
    assert [10, 10] == qtasks_run(qtasks.gather(same, same))
    other = child()
    done, pending = qtasks_run(qtasks.wait([other, other]))
    assert (1, set()) == (len(done), pending)
    assert [1, 1] == runs


def test_a_coroutine_object_started_already_is_refused_with_the_fix(qtasks_run: Any) -> None:
    """A coroutine object passed again after qtasks started it: RuntimeError, saying to await its handle."""

    async def child() -> int:
        return await qtasks.run(double, 5)

    once = child()
    first = qtasks.gather(once)
    with pytest.raises(
        RuntimeError, match=r"coroutine object of .*child\(\) was started already: await the handle"
    ):
        qtasks.gather(once)
    assert [10] == qtasks_run(first)


def test_gather_rejects_non_awaitables() -> None:
    """gather names the argument that cannot be awaited."""
    with pytest.raises(TypeError, match=r"argument 1 is 'x'"):
        qtasks.gather(qtasks.gather(), "x")


def test_gather_given_a_list_says_to_unpack_it(qtasks_run: Any) -> None:
    """gather([t1, t2]) by mistake names the list and shows gather(*tasks)."""
    task = qtasks.run(double, 1)
    with pytest.raises(TypeError, match=r"argument 0 is \[<ThreadTask double\(\).*unpack.*gather\(\*tasks\)"):
        qtasks.gather([task])
    assert 2 == qtasks_run(task)


def test_gather_of_a_plain_generator_says_to_decorate_it() -> None:
    """gather() refuses a generator object that is not a qtasks coroutine and says how to make it one."""

    def plain() -> Any:
        yield qtasks.sleep(0)

    generator = plain()
    with pytest.raises(TypeError, match=r"<generator object.*decorate its function with @qtasks"):
        qtasks.gather(generator)
    generator.close()


def test_gather_with_a_bad_argument_starts_no_coroutine(qapp: Any) -> None:
    """gather() validates every argument before it starts any coroutine object."""
    started: list[str] = []

    async def child() -> None:
        started.append("started")

    coro = child()
    with pytest.raises(TypeError, match="argument 1 is 'x'"):
        qtasks.gather(coro, "x")
    coro.close()
    assert [] == started


# -- wait ---------------------------------------------------------------------


def test_wait_first_completed(qtasks_run: Any) -> None:
    """wait(FIRST_COMPLETED) returns as soon as one task is done, cancelling nothing."""
    gate = Gate()
    fast = qtasks.run(double, 1)
    slow = qtasks.run(gate)
    done, pending = qtasks_run(qtasks.wait([slow, fast], return_when=qtasks.FIRST_COMPLETED))
    assert {fast} == done
    assert {slow} == pending
    assert not slow.cancelled()
    gate.opened.set()
    qtasks_run(slow)


def test_wait_first_exception_and_all_completed(qtasks_run: Any) -> None:
    """FIRST_EXCEPTION returns on a failure; ALL_COMPLETED waits for everything."""
    gate = Gate()
    bad = qtasks.run(fail_with_value_error, 1)
    slow = qtasks.run(gate)
    done, pending = qtasks_run(qtasks.wait([slow, bad], return_when=qtasks.FIRST_EXCEPTION))
    assert ({bad}, {slow}) == (done, pending)
    gate.opened.set()
    done, pending = qtasks_run(qtasks.wait([slow, bad]))
    assert ({slow, bad}, set()) == (done, pending)
    assert "bad value 1" == str(bad.exception())  # the caller's to read


def test_wait_first_exception_stays_pending_after_a_success(qtasks_manual_pool: Any) -> None:
    """wait(return_when=FIRST_EXCEPTION) does not return when a success finishes first."""
    ok, bad, slow = (qtasks.run(double, i) for i in range(3))
    waiting = qtasks.wait([ok, bad, slow], return_when=qtasks.FIRST_EXCEPTION)
    results: list[Any] = []

    @qtasks.coroutine
    def body() -> Any:
        results.append((yield waiting))

    body()
    qtasks_manual_pool.complete(ok)
    assert not waiting.done()
    assert [] == results
    qtasks_manual_pool.fail(bad, ValueError("broken"))
    assert [({ok, bad}, {slow})] == results
    assert isinstance(bad.exception(), ValueError)
    slow.cancel()


def test_wait_on_nothing_is_done_at_once(qtasks_run: Any) -> None:
    """wait([]) finishes at once with two empty sets, whatever return_when says."""
    for when in (qtasks.ALL_COMPLETED, qtasks.FIRST_COMPLETED, qtasks.FIRST_EXCEPTION):
        assert (set(), set()) == qtasks_run(qtasks.wait([], return_when=when))


def test_wait_given_the_same_task_twice_finishes(qtasks_run: Any) -> None:
    """wait() treats its awaitables as a set, as asyncio.wait does: a repeated task is waited on once."""
    task = qtasks.run(double, 1)
    done, pending = qtasks_run(qtasks.wait([task, task]), timeout=2)
    assert ({task}, set()) == (done, pending)


def test_wait_for_the_same_task_twice_finishes(qtasks_run: Any) -> None:
    """wait() given one task twice returns once that task is done instead of waiting forever."""
    task = qtasks.run(int, 1)
    done, pending = qtasks_run(qtasks.wait([task, task]))
    assert ({task}, set()) == (done, pending)


def test_a_finished_wait_or_cancelled_shield_is_not_kept_alive_by_tasks_still_running(
    qtasks_run: Any,
) -> None:
    """Once a wait has returned, or a shield is cancelled, the tasks still running hold nothing of them.

    So `while pending: done, pending = await wait(pending, return_when=FIRST_COMPLETED)`
    costs the same each round, however many rounds came before.
    """
    settled: qtasks.Task[int] = qtasks.Task()
    running: qtasks.Task[int] = qtasks.Task()
    settled.set_result(1)
    waited = qtasks.wait([settled, running], return_when=qtasks.FIRST_COMPLETED)
    qtasks_run(waited)
    shielded = qtasks.shield(running)
    shielded.cancel()
    gone = [weakref.ref(waited), weakref.ref(shielded)]
    del waited, shielded
    settle(qtasks_run)
    assert [None, None] == [ref() for ref in gone]
    running.set_result(2)


def test_wait_repr_keeps_its_count_after_finishing(qtasks_run: Any) -> None:
    """A finished wait's repr still says how many tasks it waited on."""
    waited = qtasks.wait([qtasks.run(int, "1"), qtasks.run(int, "2")])
    qtasks_run(waited)
    assert "ALL_COMPLETED of 2" in repr(waited)


def test_wait_rejects_an_unknown_condition() -> None:
    """A misspelt return_when names the constants to use."""
    with pytest.raises(ValueError, match=r"qtasks\.FIRST_COMPLETED"):
        qtasks.wait([], return_when="FIRST")


def test_wait_rejects_a_condition_that_is_not_a_constant() -> None:
    """A return_when of the wrong type names the constants instead of failing on hashing."""
    with pytest.raises(ValueError, match=r"return_when=\['FIRST_COMPLETED'\]\): use qtasks\.ALL_COMPLETED"):
        qtasks.wait([], return_when=["FIRST_COMPLETED"])  # type: ignore[arg-type]


# -- as_completed ---------------------------------------------------------------


def test_as_completed_gives_results_in_finishing_order(qtasks_manual_pool: Any) -> None:
    """as_completed's awaitables give the inputs' results in the order the inputs finish."""
    first, second, third = (qtasks.run(double, i) for i in range(3))
    in_finishing_order = qtasks.as_completed([first, second, third])
    results: list[Any] = []

    @qtasks.coroutine
    def body() -> Any:
        for next_done in in_finishing_order:
            results.append((yield next_done))

    qtasks_manual_pool.complete(third)
    qtasks_manual_pool.complete(first)
    handle = body()
    assert [4, 0] == results
    qtasks_manual_pool.complete(second)
    assert [4, 0, 2] == results
    assert handle.done()


def test_as_completed_works_with_await_and_done_inputs(qtasks_run: Any) -> None:
    """In an async def, awaiting as_completed's awaitables gives every result, done inputs included."""

    @qtasks.coroutine
    async def body() -> list[int]:
        done_already = qtasks.Task[int]()
        done_already.set_result(7)
        inputs = [done_already, qtasks.run(double, 4)]
        return sorted([await next_done for next_done in qtasks.as_completed(inputs)])

    assert [7, 8] == qtasks_run(body())


def test_as_completed_raises_a_failure_at_its_turn_and_consumes_it(
    qtasks_manual_pool: Any, hook_calls: list[BaseException]
) -> None:
    """A failed input raises from the awaitable it reaches, and a failure caught there is not reported."""
    ok, bad = qtasks.run(double, 1), qtasks.run(double, 2)
    in_finishing_order = qtasks.as_completed([ok, bad])
    trace: list[Any] = []

    @qtasks.coroutine
    def body() -> Any:
        for next_done in in_finishing_order:
            try:
                trace.append((yield next_done))
            except ValueError as exc:
                trace.append(str(exc))

    body()
    qtasks_manual_pool.fail(bad, ValueError("broken"))
    qtasks_manual_pool.complete(ok)
    del bad
    gc.collect()
    assert ["broken", 2] == trace
    assert [] == hook_calls


def test_as_completed_failure_never_reached_is_reported_once(
    qtasks_manual_pool: Any, hook_calls: list[BaseException]
) -> None:
    """An input's failure the consumer never reaches is reported by its handle, once."""
    ok, bad = qtasks.run(double, 1), qtasks.run(double, 2)
    first_done = next(qtasks.as_completed([ok, bad]))
    results: list[Any] = []

    @qtasks.coroutine
    def body() -> Any:
        results.append((yield first_done))

    body()
    qtasks_manual_pool.complete(ok)
    qtasks_manual_pool.fail(bad, ValueError("never read"))
    assert [2] == results
    assert [] == hook_calls
    del bad
    gc.collect()
    assert ["never read"] == [str(exc) for exc in hook_calls]


def test_cancelling_an_as_completed_consumer_leaves_the_inputs_running(qtasks_manual_pool: Any) -> None:
    """Cancelling the coroutine awaiting as_completed cancels none of the inputs, as asyncio's."""
    inputs = [qtasks.run(double, i) for i in range(2)]
    results: list[Any] = []

    @qtasks.coroutine
    def body() -> Any:
        for next_done in qtasks.as_completed(inputs):
            results.append((yield next_done))

    handle = body()
    handle.cancel()
    qtasks_manual_pool.complete(inputs[0])
    assert handle.cancelled()
    assert [] == results
    assert [False, False] == [each.cancelled() for each in inputs]
    qtasks_manual_pool.complete(inputs[1])
    assert [0, 2] == [each.result() for each in inputs]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (lambda task: (task,), "needs an iterable of tasks, got <ThreadTask.*wrap one task in a list"),
        (lambda task: (task, task), "takes one iterable of tasks, got 2 arguments: pass them in a list"),
        (lambda task: ([[task]],), "argument 0 is .*pass one flat iterable of tasks"),
        (lambda task: ([(x for x in ())],), "plain generator is not a coroutine: decorate"),
        (lambda task: ([42],), "argument 0 is 42, which is not awaitable"),
    ],
)
def test_as_completed_rejects_bad_input_naming_the_fix(
    qtasks_manual_pool: Any, arguments: Any, message: str
) -> None:
    """as_completed given a task, several arguments, a nested list, a generator or a value says the fix."""
    task = qtasks.run(double, 1)
    with pytest.raises(TypeError, match=message):
        qtasks.as_completed(*arguments(task))
    qtasks_manual_pool.complete(task)


# -- shield ---------------------------------------------------------------------


def test_shield_gives_the_inner_result(qtasks_run: Any) -> None:
    """Awaiting a shield gives the awaitable's result."""
    assert 6 == qtasks_run(qtasks.shield(qtasks.run(double, 3)))


def test_cancelling_a_shield_or_its_awaiter_leaves_the_inner_task_running(qtasks_manual_pool: Any) -> None:
    """Cancelling the shield's handle, or the coroutine awaiting it, does not cancel the awaitable."""
    inner = qtasks.run(double, 5)
    shielded = qtasks.shield(inner)

    @qtasks.coroutine
    def body() -> Any:
        yield qtasks.shield(inner)

    awaiter = body()
    awaiter.cancel()
    assert shielded.cancel()
    qtasks_manual_pool.complete(inner)
    assert (True, True) == (shielded.cancelled(), awaiter.cancelled())
    assert 10 == inner.result()


def test_shield_failure_is_consumed_by_its_awaiter(
    qtasks_manual_pool: Any, hook_calls: list[BaseException]
) -> None:
    """The inner failure raised through an awaited shield is not reported besides."""
    inner = qtasks.run(double, 5)
    shielded = qtasks.shield(inner)
    trace: list[str] = []

    @qtasks.coroutine
    def body() -> Any:
        try:
            yield shielded
        except ValueError as exc:
            trace.append(str(exc))

    body()
    qtasks_manual_pool.fail(inner, ValueError("inner broke"))
    del inner
    gc.collect()
    assert ["inner broke"] == trace
    assert [] == hook_calls


def test_inner_failure_after_the_shield_was_cancelled_is_reported_once(
    qtasks_manual_pool: Any, hook_calls: list[BaseException]
) -> None:
    """When the shield was cancelled first, the inner task's later failure is reported exactly once."""

    @qtasks.coroutine
    def inner() -> Any:
        yield qtasks.run(double, 1)
        raise ValueError("failed after the shield")

    handle = inner()
    shielded = qtasks.shield(handle)
    shielded.cancel()
    qtasks_manual_pool.run_all()
    qtasks._runtime.bridge().run_pending()
    del handle, shielded
    gc.collect()
    assert ["failed after the shield"] == [str(exc) for exc in hook_calls]


def test_shield_rejects_a_non_awaitable() -> None:
    """shield() of a value that is not awaitable says what to pass."""
    with pytest.raises(TypeError, match="qtasks.shield.. argument 0 is 3, which is not awaitable"):
        qtasks.shield(3)
