"""Tasks: dugong coroutines driven by the reactor, on real socketpairs.

Deadlines use a fake clock and a selector that, instead of sleeping, moves
the fake clock forward by the timeout it was given: no test sleeps.
"""

from __future__ import annotations

import pickle
import selectors
import socket
from collections.abc import Callable, Generator, Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from _typeshed import FileDescriptorLike

from dugong import POLLIN, POLLOUT, ConnectionTimedOut, PollCoroutine, PollNeeded
from dugong.loop import (
    InvalidStateError,
    Plugin,
    Reactor,
    ResourceBusy,
    Task,
    TaskCancelled,
    TaskDeadlineExceeded,
)

Pair = tuple[socket.socket, socket.socket]


class FakeClock:
    """A clock that moves only when told to."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class JumpingSelector(selectors.PollSelector):
    """Polls without blocking; when nothing is ready, jumps the fake clock by the timeout."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__()
        self.clock = clock

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        ready = super().select(0)
        if ready or timeout is None or timeout <= 0:
            return ready
        self.clock.advance(timeout)
        return super().select(0)


def co_recv(sock: socket.socket, n: int) -> Generator[PollNeeded, None, bytes]:
    """Receive exactly *n* bytes."""
    data = bytearray()
    while len(data) < n:
        try:
            chunk = sock.recv(n - len(data))
        except BlockingIOError:
            yield PollNeeded(sock.fileno(), POLLIN)
            continue
        if not chunk:
            raise EOFError(f"got {len(data)} of {n} bytes")
        data += chunk
    return bytes(data)


def co_send(sock: socket.socket, data: bytes) -> Generator[PollNeeded, None, int]:
    """Send all of *data*."""
    view = memoryview(data)
    while view:
        try:
            sent = sock.send(view)
        except BlockingIOError:
            yield PollNeeded(sock.fileno(), POLLOUT)
            continue
        view = view[sent:]
    return len(data)


def co_nothing() -> Generator[PollNeeded, None, None]:
    """Returns at once."""
    return
    yield  # pragma: no cover


class Events(Plugin):
    """Records suspensions."""

    def __init__(self) -> None:
        self.suspended: list[tuple[str, PollNeeded]] = []

    def task_suspended(self, task: Task[object], request: PollNeeded) -> None:
        self.suspended.append((task.name, request))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=["jumping", "epoll"])
def reactor(request: pytest.FixtureRequest, clock: FakeClock) -> Iterator[Reactor]:
    """A reactor whose idle waits jump the fake clock, or the default one (on Linux, read straight from epoll)."""
    selector = JumpingSelector(clock) if request.param == "jumping" else None
    with Reactor(selector, clock=clock) as r:
        yield r


@pytest.fixture
def jumping_reactor(clock: FakeClock) -> Iterator[Reactor]:
    """For tests that wait for a deadline on the fake clock."""
    with Reactor(JumpingSelector(clock), clock=clock) as r:
        yield r


@pytest.fixture
def pairs() -> Iterator[Callable[[], Pair]]:
    made: list[socket.socket] = []

    def make() -> Pair:
        a, b = socket.socketpair()
        a.setblocking(False)
        b.setblocking(False)
        made.extend((a, b))
        return a, b

    yield make
    for sock in made:
        sock.close()


def fill(sock: socket.socket) -> int:
    """Fill the send buffer of *sock* until it would block; return the bytes sent."""
    total = 0
    chunk = b"x" * 65536
    while True:
        try:
            total += sock.send(chunk)
        except BlockingIOError:
            return total


# ------------------------------------------------------------ basics


def test_task_runs_to_completion(reactor: Reactor, pairs: Callable[[], Pair]) -> None:
    a, b = pairs()
    task = reactor.spawn(co_recv(a, 5), name="reader")
    assert task.name == "reader"
    assert task.reactor is reactor
    assert task.deadline is None
    states = [task.state]
    reactor.run_once(0)
    states.append(task.state)
    assert task.waiting_for == PollNeeded(a.fileno(), POLLIN)
    assert "waiting for PollNeeded" in repr(task)
    b.send(b"hel")
    reactor.run_once(0)
    states.append(task.state)
    assert not task.done()
    b.send(b"lo")
    reactor.run_once(0)
    states.append(task.state)
    assert states == ["pending", "waiting", "waiting", "done"]
    assert task.done()
    assert task.waiting_for is None
    assert task.result() == b"hello"
    assert task.exception() is None
    assert not task.cancelled()
    assert repr(task) == "<Task 'reader' done with a result>"
    assert reactor.interest().readers == ()


def test_default_name_is_the_coroutine_and_a_number(reactor: Reactor, pairs: Callable[[], Pair]) -> None:
    a, _ = pairs()
    t1 = reactor.spawn(co_recv(a, 1))
    t2 = reactor.spawn(co_send(a, b"x"))
    # The name is made when first asked for, from the number given at spawn.
    assert t2.name == "co_send#2"
    assert t1.name == "co_recv#1"
    t1.cancel()
    t2.cancel()
    assert repr(t1) == "<Task 'co_recv#1' done (cancelled)>"


def test_result_and_exception_before_done(reactor: Reactor, pairs: Callable[[], Pair]) -> None:
    a, _ = pairs()
    task = reactor.spawn(co_recv(a, 1))
    with pytest.raises(InvalidStateError, match="is not done"):
        task.result()
    with pytest.raises(InvalidStateError):
        task.exception()
    task.cancel()


def test_spawn_rejects_what_is_not_a_generator(reactor: Reactor) -> None:
    with pytest.raises(TypeError, match="spawn.. needs a dugong coroutine"):
        reactor.spawn(co_recv)  # type: ignore[arg-type]
    reactor.close()
    coroutine = co_nothing()
    with pytest.raises(RuntimeError, match="closed"):
        reactor.spawn(coroutine)
    coroutine.close()


def test_run_until_complete_with_a_coroutine_or_a_task(reactor: Reactor, pairs: Callable[[], Pair]) -> None:
    a, b = pairs()
    b.send(b"abc")
    assert reactor.run_until_complete(co_recv(a, 3)) == b"abc"
    task = reactor.spawn(co_send(a, b"1234"))
    assert reactor.run_until_complete(task) == 4
    # An already finished task: its result, without running the reactor.
    assert reactor.run_until_complete(task) == 4
    assert reactor.run_until_complete(co_recv(b, 4)) == b"1234"


def test_run_until_complete_raises_the_task_error(reactor: Reactor) -> None:
    def fail() -> PollCoroutine[int]:
        raise LookupError("nope")
        yield  # pragma: no cover

    with pytest.raises(LookupError, match="nope"):
        reactor.run_until_complete(fail())


def test_run_until_complete_refuses_a_foreign_task(
    reactor: Reactor, clock: FakeClock, pairs: Callable[[], Pair]
) -> None:
    a, _ = pairs()
    with Reactor(clock=clock) as other:
        task = other.spawn(co_recv(a, 1))
        with pytest.raises(ValueError, match="another reactor"):
            reactor.run_until_complete(task)


def test_run_until_complete_when_stopped_early(reactor: Reactor, pairs: Callable[[], Pair]) -> None:
    a, b = pairs()
    task = reactor.spawn(co_recv(a, 1))
    reactor.call_soon(reactor.stop)
    with pytest.raises(RuntimeError, match="stopped before"):
        reactor.run_until_complete(task)
    # The stop callback of the first call was removed: a second call completes.
    b.send(b"!")
    assert reactor.run_until_complete(task) == b"!"


# ------------------------------------------------------- many coroutines


def test_many_coroutines_on_socketpairs(reactor: Reactor, pairs: Callable[[], Pair]) -> None:
    """200 echo exchanges, each bigger than a socket buffer, all at once."""
    size = 300_000

    def echo(sock: socket.socket, n: int) -> PollCoroutine[int]:
        done = 0
        while done < n:
            chunk = yield from co_recv(sock, min(65536, n - done))
            yield from co_send(sock, chunk)
            done += len(chunk)
        return done

    def client(sock: socket.socket, i: int) -> PollCoroutine[bytes]:
        payload = bytes([i % 251]) * size
        sender = reactor.spawn(co_send(sock, payload))
        reply = yield from co_recv(sock, size)
        assert sender.done() and sender.result() == size
        return reply

    clients = []
    for i in range(200):
        a, b = pairs()
        reactor.spawn(echo(b, size))
        clients.append(reactor.spawn(client(a, i)))
    for i, task in enumerate(clients):
        assert reactor.run_until_complete(task) == bytes([i % 251]) * size
    assert reactor.interest() == ((), (), None)


def test_an_exception_in_one_task_does_not_disturb_the_others(
    reactor: Reactor, pairs: Callable[[], Pair]
) -> None:
    a, b = pairs()

    def broken() -> PollCoroutine[None]:
        yield PollNeeded(a.fileno(), POLLOUT)
        raise ArithmeticError("broken")

    bad = reactor.spawn(broken())
    good = reactor.spawn(co_recv(b, 4))
    a.send(b"ping")
    assert reactor.run_until_complete(good) == b"ping"
    assert bad.done()
    assert isinstance(bad.exception(), ArithmeticError)
    with pytest.raises(ArithmeticError):
        bad.result()
    assert "done with ArithmeticError: broken" in repr(bad)


def test_keyboard_interrupt_in_a_coroutine_leaves_the_reactor(
    reactor: Reactor, pairs: Callable[[], Pair]
) -> None:
    a, _ = pairs()

    def interrupted() -> PollCoroutine[None]:
        yield PollNeeded(a.fileno(), POLLOUT)
        raise KeyboardInterrupt

    task = reactor.spawn(interrupted())
    with pytest.raises(KeyboardInterrupt):
        reactor.run_until_complete(task)
    assert task.done()
    assert isinstance(task.exception(), KeyboardInterrupt)


# ---------------------------------------------------- spurious wake-ups


def test_coroutine_yielding_the_same_request_again_is_resumed_again(
    reactor: Reactor, pairs: Callable[[], Pair]
) -> None:
    """Resuming early is harmless: the coroutine just asks again."""
    a, _ = pairs()
    resumed = 0

    def stubborn() -> PollCoroutine[int]:
        nonlocal resumed
        for _ in range(5):
            yield PollNeeded(a.fileno(), POLLOUT)  # always writable
            resumed += 1
        return resumed

    assert reactor.run_until_complete(stubborn()) == 5


def test_spurious_wakeup_with_nothing_to_read(reactor: Reactor, pairs: Callable[[], Pair]) -> None:
    """The coroutine is woken for readability but another party drained the data first."""
    a, b = pairs()
    events = Events()
    reactor.add_plugin(events)
    task = reactor.spawn(co_recv(a, 4), name="reader")
    reactor.run_once(0)
    b.send(b"xx")
    # Steal the data before the task runs, from a callback queued ahead of it.
    reactor.call_soon(lambda: a.recv(100))
    reactor.run_once(0)
    assert task.state == "waiting"
    b.send(b"abcd")
    assert reactor.run_until_complete(task) == b"abcd"
    assert [r for _, r in events.suspended] == [PollNeeded(a.fileno(), POLLIN)] * 2


def test_either_direction_resumes_a_pollin_pollout_request(
    reactor: Reactor, pairs: Callable[[], Pair]
) -> None:
    a, b = pairs()
    fill(a)  # a is no longer writable
    wakeups = 0

    def both() -> PollCoroutine[str]:
        nonlocal wakeups
        while True:
            yield PollNeeded(a.fileno(), POLLIN | POLLOUT)
            wakeups += 1
            try:
                return a.recv(10).decode()
            except BlockingIOError:
                continue

    task = reactor.spawn(both())
    reactor.run_once(0)
    assert task.state == "waiting"
    assert reactor.interest()[:2] == ((a.fileno(),), (a.fileno(),))
    b.send(b"in")
    reactor.run_once(0)
    assert task.result() == "in"
    assert wakeups == 1
    assert reactor.interest()[:2] == ((), ())


def test_pollin_pollout_ready_both_ways_resumes_once(reactor: Reactor, pairs: Callable[[], Pair]) -> None:
    a, b = pairs()
    b.send(b"x")  # a is readable and writable
    wakeups = 0

    def both() -> PollCoroutine[None]:
        nonlocal wakeups
        yield PollNeeded(a.fileno(), POLLIN | POLLOUT)
        wakeups += 1
        yield PollNeeded(b.fileno(), POLLIN)  # never ready

    task = reactor.spawn(both())
    reactor.run_once(0)
    reactor.run_once(0)
    assert wakeups == 1
    assert task.waiting_for == PollNeeded(b.fileno(), POLLIN)
    task.cancel()


# -------------------------------------------------- one fd, two tasks


def test_two_tasks_on_one_fd_in_different_directions(reactor: Reactor, pairs: Callable[[], Pair]) -> None:
    """A sender and a reader of one connection, as in pipelining."""
    a, b = pairs()
    payload = bytes(range(256)) * 8000
    size = len(payload)

    def echo_server() -> PollCoroutine[None]:
        done = 0
        while done < size:
            chunk = yield from co_recv(b, min(100_000, size - done))
            yield from co_send(b, chunk)
            done += len(chunk)

    events = Events()
    reactor.add_plugin(events)
    reactor.spawn(echo_server())
    sender = reactor.spawn(co_send(a, payload), name="sender")
    reader = reactor.spawn(co_recv(a, size), name="reader")
    assert reactor.run_until_complete(reader) == payload
    assert sender.result() == size
    waits = {(name, r.mask) for name, r in events.suspended if r.fd == a.fileno()}
    assert ("sender", POLLOUT) in waits
    assert ("reader", POLLIN) in waits


def test_second_waiter_in_the_same_direction_gets_a_clear_error(
    reactor: Reactor, pairs: Callable[[], Pair]
) -> None:
    a, b = pairs()
    first = reactor.spawn(co_recv(a, 3), name="first")
    second = reactor.spawn(co_recv(a, 3), name="second")
    reactor.run_once(0)
    assert second.done()
    error = second.exception()
    assert isinstance(error, ResourceBusy)
    assert error.fd == a.fileno() and error.direction == "reading"
    assert f"fd {a.fileno()} is already waited on for reading" in str(error)
    assert "'first'" in str(error)
    b.send(b"one")
    assert reactor.run_until_complete(first) == b"one"


def test_busy_error_is_thrown_into_the_coroutine_which_may_go_on(
    reactor: Reactor, pairs: Callable[[], Pair]
) -> None:
    a, b = pairs()
    fill(a)
    reactor.spawn(co_send(a, b"more"), name="writer")

    def wants_both() -> PollCoroutine[str]:
        try:
            yield PollNeeded(a.fileno(), POLLIN | POLLOUT)
        except ResourceBusy as err:
            assert err.direction == "writing"
            # The reader slot taken before the writer slot failed was given back.
            assert reactor.interest().readers == ()
            data = yield from co_recv(a, 2)
            return data.decode()
        return "not reached"

    task = reactor.spawn(wants_both())
    reactor.run_once(0)
    assert reactor.interest().readers == (a.fileno(),)
    b.send(b"ok")
    assert reactor.run_until_complete(task) == "ok"


# ------------------------------------------------- wrong yielded values


@pytest.mark.parametrize(
    ("value", "error", "message"),
    [
        ((3, POLLIN), TypeError, "must yield PollNeeded"),
        (None, TypeError, "must yield PollNeeded.*not None"),
        (PollNeeded(3, 0), ValueError, "poll mask 0"),
        (PollNeeded(3, 0x400), ValueError, "poll mask"),
        (PollNeeded(-1, POLLIN), ValueError, "Invalid file descriptor"),
    ],
)
def test_wrong_yield_is_thrown_into_the_coroutine(
    reactor: Reactor, value: object, error: type[Exception], message: str
) -> None:
    def wrong() -> Generator[object, None, None]:
        yield value

    task = reactor.spawn(wrong())  # type: ignore[arg-type]
    with pytest.raises(error, match=message):
        reactor.run_until_complete(task)


def test_closed_fd_is_thrown_into_the_coroutine(clock: FakeClock) -> None:
    a, b = socket.socketpair()
    fd = a.fileno()
    a.close()
    b.close()

    def stale() -> PollCoroutine[str]:
        try:
            yield PollNeeded(fd, POLLIN)
        except OSError:
            return "told"
        return "not told"

    with Reactor(selectors.EpollSelector(), clock=clock) as reactor:
        assert reactor.run_until_complete(stale()) == "told"


def test_coroutine_may_catch_the_type_error_and_go_on(reactor: Reactor, pairs: Callable[[], Pair]) -> None:
    a, _ = pairs()

    def recovers() -> Generator[object, None, str]:
        try:
            yield "not a request"
        except TypeError:
            pass
        yield PollNeeded(a.fileno(), POLLOUT)
        return "recovered"

    assert reactor.run_until_complete(recovers()) == "recovered"  # type: ignore[arg-type]


# --------------------------------------------------------- cancellation


def conversation(a: socket.socket, log: list[str]) -> PollCoroutine[str]:
    """Suspends at four points: POLLIN, POLLIN, POLLOUT (buffer full), POLLIN."""
    try:
        first = yield from co_recv(a, 1)
        second = yield from co_recv(a, 1)
        fill(a)
        yield PollNeeded(a.fileno(), POLLOUT)
        third = yield from co_recv(a, 1)
        return (first + second + third).decode()
    except GeneratorExit:
        log.append("GeneratorExit")
        raise
    finally:
        log.append("finally")


def step_until_suspension(reactor: Reactor, events: Events, count: int, feed: Callable[[], None]) -> None:
    while len(events.suspended) < count:
        feed()
        reactor.run_once(0)


@pytest.mark.parametrize("point", [0, 1, 2, 3, 4])
def test_cancellation_at_every_suspension_point(
    reactor: Reactor, pairs: Callable[[], Pair], point: int
) -> None:
    a, b = pairs()
    events = Events()
    reactor.add_plugin(events)
    log: list[str] = []
    task = reactor.spawn(conversation(a, log))
    done: list[Task[str]] = []
    task.add_done_callback(done.append)

    def feed() -> None:
        if task.waiting_for == PollNeeded(a.fileno(), POLLIN):
            b.send(b"z")
        elif task.waiting_for is not None:
            while True:  # drain so that a becomes writable
                try:
                    b.recv(1 << 20)
                except BlockingIOError:
                    break

    step_until_suspension(reactor, events, point, feed)
    assert task.state == ("pending" if point == 0 else "waiting")
    assert task.cancel() is True
    assert task.done() and task.cancelled()
    assert log == ([] if point == 0 else ["GeneratorExit", "finally"])
    assert reactor.interest()[:2] == ((), ())
    assert "(cancelled)" in repr(task)
    with pytest.raises(TaskCancelled):
        task.result()
    with pytest.raises(TaskCancelled):
        task.exception()
    assert task.cancel() is False
    reactor.run_once(0)
    assert done == [task]


def test_conversation_completes_when_not_cancelled(reactor: Reactor, pairs: Callable[[], Pair]) -> None:
    """The control case of the test above: the same feeding finishes the coroutine."""
    a, b = pairs()
    log: list[str] = []
    task = reactor.spawn(conversation(a, log))
    while not task.done():
        if task.waiting_for == PollNeeded(a.fileno(), POLLIN):
            b.send(b"z")
        elif task.waiting_for is not None:
            b.recv(1 << 20)
        reactor.run_once(0)
    assert task.result() == "zzz"
    assert log == ["finally"]


def test_task_cancelling_itself_is_closed_at_its_next_yield(
    reactor: Reactor, pairs: Callable[[], Pair]
) -> None:
    a, _ = pairs()
    log: list[str] = []
    me: list[Task[None]] = []

    def suicidal() -> PollCoroutine[None]:
        try:
            assert me[0].cancel() is True
            assert me[0].cancel() is True
            log.append("still running")
            yield PollNeeded(a.fileno(), POLLOUT)
            log.append("resumed")  # pragma: no cover
        finally:
            log.append("finally")

    me.append(reactor.spawn(suicidal()))
    with pytest.raises(TaskCancelled):
        reactor.run_until_complete(me[0])
    assert log == ["still running", "finally"]


def test_coroutine_that_ignores_generator_exit_fails_the_task(
    reactor: Reactor, pairs: Callable[[], Pair]
) -> None:
    a, _ = pairs()

    def stubborn() -> PollCoroutine[None]:
        try:
            yield PollNeeded(a.fileno(), POLLIN)
        except GeneratorExit:
            pass
        # Ignoring GeneratorExit once; the garbage collector's close() succeeds.
        yield PollNeeded(a.fileno(), POLLIN)

    task = reactor.spawn(stubborn())
    reactor.run_once(0)
    task.cancel()
    assert task.done() and not task.cancelled()
    assert isinstance(task.exception(), RuntimeError)


def test_coroutine_that_raises_while_closing_fails_with_that_error(
    reactor: Reactor, pairs: Callable[[], Pair]
) -> None:
    a, _ = pairs()

    def cleanup_fails() -> PollCoroutine[None]:
        try:
            yield PollNeeded(a.fileno(), POLLIN)
        finally:
            raise OSError("cleanup failed")

    task = reactor.spawn(cleanup_fails())
    reactor.run_once(0)
    task.cancel()
    error = task.exception()
    assert isinstance(error, OSError) and str(error) == "cleanup failed"


def test_keyboard_interrupt_while_closing_propagates(reactor: Reactor, pairs: Callable[[], Pair]) -> None:
    a, _ = pairs()

    def interrupted() -> PollCoroutine[None]:
        try:
            yield PollNeeded(a.fileno(), POLLIN)
        finally:
            raise KeyboardInterrupt

    task = reactor.spawn(interrupted())
    reactor.run_once(0)
    with pytest.raises(KeyboardInterrupt):
        task.cancel()
    assert isinstance(task.exception(), KeyboardInterrupt)


def test_cancel_after_someone_else_took_the_slot_leaves_it_alone(
    reactor: Reactor, pairs: Callable[[], Pair]
) -> None:
    a, _ = pairs()
    fd = a.fileno()
    task = reactor.spawn(co_recv(a, 1))
    reactor.run_once(0)
    # Misuse: a callback replaces the task's registration behind its back.
    assert reactor.remove_reader(fd)
    reactor.add_reader(fd, lambda: None)
    task.cancel()
    assert task.cancelled()
    assert reactor.interest().readers == (fd,)
    reactor.remove_reader(fd)


def test_close_cancels_unfinished_tasks_without_running_done_callbacks(
    clock: FakeClock, pairs: Callable[[], Pair]
) -> None:
    a, _ = pairs()
    log: list[str] = []
    called: list[object] = []
    reactor = Reactor(clock=clock)
    waiting = reactor.spawn(conversation(a, log))
    reactor.run_once(0)
    pending = reactor.spawn(conversation(a, log))
    waiting.add_done_callback(called.append)
    reactor.close()
    assert waiting.cancelled() and pending.cancelled()
    assert log == ["GeneratorExit", "finally"]
    assert called == []


# ------------------------------------------------------------ deadlines


def test_deadline_throws_connection_timed_out_into_the_coroutine(
    jumping_reactor: Reactor, clock: FakeClock, pairs: Callable[[], Pair]
) -> None:
    reactor = jumping_reactor
    a, _ = pairs()
    start = clock.now
    seen: list[BaseException] = []

    def patient() -> PollCoroutine[str]:
        try:
            yield from co_recv(a, 1)
        except ConnectionTimedOut as err:
            seen.append(err)
            raise
        return "data"  # pragma: no cover

    task = reactor.spawn(patient(), deadline=start + 30, name="patient")
    assert task.deadline == start + 30
    with pytest.raises(TaskDeadlineExceeded) as raised:
        reactor.run_until_complete(task)
    assert clock.now == start + 30
    assert len(seen) == 1 and seen[0] is raised.value
    # Its own class, a ConnectionTimedOut, saying how many seconds (not the
    # reactor clock's reading) and what the task waited for (not an fd number).
    error = raised.value
    assert isinstance(error, ConnectionTimedOut)
    assert str(error) == "task 'patient' passed its deadline of 30 s while waiting to read"
    assert (error.seconds, error.task_name) == (30, "patient")
    assert error.waiting_for == PollNeeded(a.fileno(), POLLIN)
    assert reactor.interest()[:2] == ((), ())


@pytest.mark.parametrize(
    ("mask", "words"),
    [(POLLOUT, " while waiting to write"), (POLLIN | POLLOUT, " while waiting to read or write")],
)
def test_deadline_message_names_the_direction(mask: int, words: str) -> None:
    error = TaskDeadlineExceeded(2.5, "t", PollNeeded(7, mask))
    assert str(error) == "task 't' passed its deadline of 2.5 s" + words
    assert str(TaskDeadlineExceeded(1, "t")) == "task 't' passed its deadline of 1 s"


def test_deadline_error_survives_pickling() -> None:
    error = TaskDeadlineExceeded(2.5, "t", PollNeeded(7, POLLIN))
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is TaskDeadlineExceeded and str(copy) == str(error)
    assert copy.waiting_for == PollNeeded(7, POLLIN)


def test_deadline_is_cancelled_when_the_task_finishes_first(
    reactor: Reactor, clock: FakeClock, pairs: Callable[[], Pair]
) -> None:
    a, b = pairs()
    task = reactor.spawn(co_recv(a, 2), deadline=clock.now + 10)
    reactor.run_once(0)
    b.send(b"ok")
    assert reactor.run_until_complete(task) == b"ok"
    assert reactor.next_timeout() is None
    assert clock.now < 1010


def test_coroutine_may_survive_its_deadline(
    jumping_reactor: Reactor, clock: FakeClock, pairs: Callable[[], Pair]
) -> None:
    reactor = jumping_reactor
    a, b = pairs()

    def resilient() -> PollCoroutine[str]:
        try:
            yield PollNeeded(a.fileno(), POLLIN)
        except ConnectionTimedOut:
            pass
        # The deadline fires once; waiting again is up to the coroutine.
        data = yield from co_recv(a, 5)
        return data.decode()

    task = reactor.spawn(resilient(), deadline=clock.now + 1)
    reactor.run_once(0)
    reactor.run_once()  # jumps to the deadline
    assert clock.now == 1001
    assert task.state == "waiting"
    b.send(b"later")
    assert reactor.run_until_complete(task) == "later"


def test_past_deadline_still_lets_the_first_step_run(
    reactor: Reactor, clock: FakeClock, pairs: Callable[[], Pair]
) -> None:
    """The deadline limits waiting, not work that needs no wait."""
    a, b = pairs()
    b.send(b"now")
    assert reactor.run_until_complete(reactor.spawn(co_recv(a, 3), deadline=clock.now - 1)) == b"now"
    task = reactor.spawn(co_recv(a, 3), deadline=clock.now - 1)
    with pytest.raises(ConnectionTimedOut):
        reactor.run_until_complete(task)
    assert clock.now == 1000


# ------------------------------------------------------ done callbacks


def test_done_callbacks(reactor: Reactor, pairs: Callable[[], Pair]) -> None:
    a, _ = pairs()
    seen: list[str] = []

    def first(task: Task[int]) -> None:
        seen.append(f"first {task.result()}")

    def second(task: Task[int]) -> None:
        seen.append("second")  # pragma: no cover

    task = reactor.spawn(co_send(a, b"abc"))
    task.add_done_callback(first)
    task.add_done_callback(second)
    task.add_done_callback(second)
    assert task.remove_done_callback(second) == 2
    assert task.remove_done_callback(second) == 0
    reactor.run_once(0)
    assert task.done()
    assert seen == []  # scheduled, not called synchronously
    reactor.run_once(0)
    assert seen == ["first 3"]
    task.add_done_callback(first)
    reactor.run_once(0)
    assert seen == ["first 3", "first 3"]


# ---------------------------------------------- keeping a registration


class CountingSelector(selectors.DefaultSelector):
    """The default selector, counting the calls that change registrations."""

    def __init__(self) -> None:
        super().__init__()
        self.changes: list[tuple[str, int]] = []

    def register(
        self, fileobj: FileDescriptorLike, events: int, data: object = None
    ) -> selectors.SelectorKey:
        assert isinstance(fileobj, int)
        self.changes.append(("register", fileobj))
        return super().register(fileobj, events, data)

    def unregister(self, fileobj: FileDescriptorLike) -> selectors.SelectorKey:
        assert isinstance(fileobj, int)
        self.changes.append(("unregister", fileobj))
        return super().unregister(fileobj)

    def modify(self, fileobj: FileDescriptorLike, events: int, data: object = None) -> selectors.SelectorKey:
        assert isinstance(fileobj, int)
        self.changes.append(("modify", fileobj))
        return super().modify(fileobj, events, data)


def test_waiting_again_for_the_same_pollneeded_keeps_the_registration(
    pairs: Callable[[], Pair],
) -> None:
    """Re-registering at every wait costs two selector calls: the same PollNeeded object skips them."""
    a, b = pairs()
    selector = CountingSelector()
    need = PollNeeded(a.fileno(), POLLIN)

    def reader() -> PollCoroutine[bytes]:
        data = b""
        while len(data) < 5:
            try:
                data += a.recv(1)
            except BlockingIOError:
                yield need
        return data

    with Reactor(selector) as reactor:
        task = reactor.spawn(reader())
        reactor.run_once(0)
        for byte in b"hello":
            b.send(bytes([byte]))
            reactor.run_once(1)
        assert task.result() == b"hello"
        assert not reactor._fds.records  # the last registration was released
    fd = a.fileno()
    assert selector.changes == [("register", fd), ("unregister", fd)]


@pytest.mark.parametrize("mask", [POLLOUT, POLLIN | POLLOUT])
def test_waiting_again_to_write_keeps_the_registration_too(pairs: Callable[[], Pair], mask: int) -> None:
    a, _ = pairs()
    selector = CountingSelector()
    need = PollNeeded(a.fileno(), mask)
    woken = 0

    def writer() -> PollCoroutine[int]:
        nonlocal woken
        for _ in range(3):
            yield need  # a socketpair is writable at once
            woken += 1
        return woken

    with Reactor(selector) as reactor:
        task = reactor.spawn(writer())
        while not task.done():
            reactor.run_once(1)
        assert task.result() == 3
    fd = a.fileno()
    assert selector.changes == [("register", fd), ("unregister", fd)]


def test_a_new_socket_with_the_same_fd_number_is_registered_afresh(
    pairs: Callable[[], Pair],
) -> None:
    """A coroutine may close its socket and open another, which gets the same fd number."""
    first, first_peer = pairs()
    holder: dict[str, socket.socket] = {}

    def reconnecting() -> PollCoroutine[bytes]:
        fd = first.fileno()
        while True:
            try:
                first.recv(1)
                break
            except BlockingIOError:
                yield PollNeeded(fd, POLLIN)
        first.close()  # the parked registration now names a closed fd ...
        second, peer = socket.socketpair()
        second.setblocking(False)
        holder.update(second=second, peer=peer)
        assert second.fileno() == fd  # ... and the number is taken again at once
        while True:
            try:
                return second.recv(10)
            except BlockingIOError:
                yield PollNeeded(second.fileno(), POLLIN)  # equal, but not the same object

    with Reactor(CountingSelector()) as reactor:
        task = reactor.spawn(reconnecting())
        reactor.run_once(0)
        first_peer.send(b"x")
        reactor.run_once(1)
        assert task.state == "waiting"
        holder["peer"].send(b"again")
        reactor.run_once(1)  # would hang (or time out) if the old registration were kept
        assert task.result() == b"again"
    holder["second"].close()
    holder["peer"].close()


def test_a_parked_fd_taken_by_another_registration_in_the_same_iteration(
    reactor: Reactor, pairs: Callable[[], Pair]
) -> None:
    a, b = pairs()
    calls: list[str] = []
    need = PollNeeded(a.fileno(), POLLIN)

    def once() -> PollCoroutine[None]:
        while True:
            try:
                a.recv(1)
                break
            except BlockingIOError:
                yield need
        # Still in the step its wakeup began, while its registration is parked.
        reactor.add_reader(a.fileno(), lambda: calls.append("read"))

    task = reactor.spawn(once())
    reactor.run_once(0)
    b.send(b"x")
    reactor.run_once(0)
    assert task.done() and task.exception() is None
    b.send(b"y")
    reactor.run_once(0)
    assert calls == ["read"]
    assert reactor.remove_reader(a.fileno())
    assert not reactor._fds.records
