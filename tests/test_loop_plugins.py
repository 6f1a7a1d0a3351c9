"""Plugins: hook order and arguments, cost when unused, a raising plugin, the three we ship."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator

import pytest

from dugong import POLLIN, POLLOUT, PollCoroutine, PollNeeded
from dugong.loop import (
    Plugin,
    Progress,
    ProgressState,
    Reactor,
    Statistics,
    Task,
    Tracer,
    run_all,
)


class FakeClock:
    """A clock that moves only when told to."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Recorder(Plugin):
    """Records every hook call."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, object]] = []

    def task_spawned(self, task: Task[object]) -> None:
        self.calls.append(("spawned", task.name))

    def task_suspended(self, task: Task[object], request: PollNeeded) -> None:
        self.calls.append(("suspended", (task.name, request.mask)))

    def task_resumed(self, task: Task[object]) -> None:
        self.calls.append(("resumed", task.name))

    def task_finished(self, task: Task[object]) -> None:
        self.calls.append(("finished", task.name))

    def before_iteration(self, timeout: float | None) -> None:
        self.calls.append(("before", timeout))

    def after_iteration(self, callbacks: int) -> None:
        self.calls.append(("after", callbacks))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def reactor(clock: FakeClock) -> Iterator[Reactor]:
    with Reactor(clock=clock) as r:
        yield r


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    a, b = socket.socketpair()
    a.setblocking(False)
    b.setblocking(False)
    with a, b:
        yield a, b


def co_recv(sock: socket.socket, n: int) -> PollCoroutine[bytes]:
    data = b""
    while len(data) < n:
        try:
            data += sock.recv(n - len(data))
        except BlockingIOError:
            yield PollNeeded(sock.fileno(), POLLIN)
    return data


def test_hooks_are_called_in_order_with_their_arguments(
    reactor: Reactor, pair: tuple[socket.socket, socket.socket]
) -> None:
    a, b = pair
    recorder = Recorder()
    reactor.add_plugin(recorder)
    task = reactor.spawn(co_recv(a, 2), name="t")
    reactor.run_once(0)
    b.send(b"hi")
    reactor.run_once(0)
    assert task.result() == b"hi"
    assert recorder.calls == [
        ("spawned", "t"),
        ("before", 0.0),
        ("resumed", "t"),
        ("suspended", ("t", POLLIN)),
        ("after", 1),
        ("before", 0),
        ("resumed", "t"),
        ("finished", "t"),
        ("after", 1),
    ]
    reactor.remove_plugin(recorder)
    reactor.call_soon(lambda: None)
    reactor.run_once(0)
    assert len(recorder.calls) == 9


def test_only_overridden_hooks_are_called(reactor: Reactor) -> None:
    class OnlyFinished(Plugin):
        def __init__(self) -> None:
            self.finished = 0

        def task_finished(self, task: Task[object]) -> None:
            self.finished += 1

    class DuckTyped:
        """Not a subclass, and lacks most hooks."""

        def __init__(self) -> None:
            self.iterations = 0

        def after_iteration(self, callbacks: int) -> None:
            self.iterations += 1

    only = OnlyFinished()
    duck = DuckTyped()
    reactor.add_plugin(only)
    reactor.add_plugin(duck)  # type: ignore[arg-type]
    assert [p for p, _, _ in reactor._hooks.task_finished] == [only]
    assert [p for p, _, _ in reactor._hooks.after_iteration] == [only, duck][1:]
    assert reactor._hooks.task_resumed == ()
    assert reactor._hooks.before_iteration == ()

    def quick() -> PollCoroutine[int]:
        return 1
        yield  # pragma: no cover

    assert reactor.run_until_complete(quick()) == 1
    assert only.finished == 1
    assert duck.iterations >= 1


def test_attaching_twice_or_removing_a_stranger_is_an_error(reactor: Reactor) -> None:
    recorder = Recorder()
    reactor.add_plugin(recorder)
    with pytest.raises(ValueError, match="already attached"):
        reactor.add_plugin(recorder)
    reactor.remove_plugin(recorder)
    with pytest.raises(ValueError, match="not attached"):
        reactor.remove_plugin(recorder)


def test_a_raising_plugin_is_logged_and_removed_and_the_loop_goes_on(
    reactor: Reactor,
    pair: tuple[socket.socket, socket.socket],
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Broken(Plugin):
        calls = 0

        def task_resumed(self, task: Task[object]) -> None:
            Broken.calls += 1
            raise RuntimeError("plugin bug")

        def after_iteration(self, callbacks: int) -> None:
            Broken.calls += 1  # pragma: no cover

    a, b = pair
    broken = Broken()
    recorder = Recorder()
    reactor.add_plugin(broken)
    reactor.add_plugin(recorder)
    task = reactor.spawn(co_recv(a, 1), name="t")
    with caplog.at_level(logging.DEBUG, logger="dugong.loop"):
        reactor.run_once(0)
        b.send(b"!")
        assert reactor.run_until_complete(task) == b"!"
    assert Broken.calls == 1
    [record] = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert record.levelno == logging.ERROR
    assert "task_resumed" in record.getMessage() and "removed" in record.getMessage()
    assert record.exc_info is not None and record.exc_info[0] is RuntimeError
    with pytest.raises(ValueError):
        reactor.remove_plugin(broken)
    # The other plugin saw everything, including the hook call that failed for Broken.
    assert recorder.calls.count(("resumed", "t")) == 2
    assert ("finished", "t") in recorder.calls


def test_a_plugin_that_raises_in_two_hooks_of_one_event_is_removed_once(
    reactor: Reactor, caplog: pytest.LogCaptureFixture
) -> None:
    class Broken(Plugin):
        def before_iteration(self, timeout: float | None) -> None:
            raise RuntimeError("one")

        def after_iteration(self, callbacks: int) -> None:
            raise RuntimeError("two")  # pragma: no cover

    broken = Broken()
    reactor.add_plugin(broken)
    reactor.add_plugin(Recorder())
    reactor.call_soon(lambda: None)
    with caplog.at_level(logging.ERROR, logger="dugong.loop"):
        reactor.run_once(0)
    assert len(caplog.records) == 1
    assert reactor._hooks.after_iteration[0][0] is not broken


def test_a_plugin_that_removes_itself_and_then_raises(
    reactor: Reactor, caplog: pytest.LogCaptureFixture
) -> None:
    class Quitter(Plugin):
        def before_iteration(self, timeout: float | None) -> None:
            reactor.remove_plugin(self)
            raise RuntimeError("bye")

    reactor.add_plugin(Quitter())
    reactor.call_soon(lambda: None)
    with caplog.at_level(logging.ERROR, logger="dugong.loop"):
        reactor.run_once(0)
    assert len(caplog.records) == 1
    assert reactor._hooks.plugins == []


def test_default_hooks_do_nothing() -> None:
    class Nothing(Plugin):
        pass

    plugin = Nothing()
    with Reactor() as reactor:

        def nothing() -> PollCoroutine[None]:
            return
            yield  # pragma: no cover

        task = reactor.spawn(nothing())
        plugin.task_spawned(task)
        plugin.task_suspended(task, PollNeeded(0, POLLIN))
        plugin.task_resumed(task)
        plugin.task_finished(task)
        plugin.before_iteration(None)
        plugin.after_iteration(0)
        reactor.add_plugin(plugin)
        assert reactor._hooks.task_spawned == reactor._hooks.after_iteration == ()
        assert reactor.run_until_complete(task) is None


def test_removing_a_plugin_from_inside_a_hook_of_the_same_event(reactor: Reactor) -> None:
    later = Recorder()

    class Remover(Plugin):
        def after_iteration(self, callbacks: int) -> None:
            reactor.remove_plugin(later)

    reactor.add_plugin(Remover())
    reactor.add_plugin(later)
    reactor.call_soon(lambda: None)
    reactor.run_once(0)
    # The event being delivered still reaches the removed plugin; later ones do not.
    assert later.calls == [("before", 0.0), ("after", 1)]
    reactor.call_soon(lambda: None)
    reactor.run_once(0)
    assert len(later.calls) == 2


# ------------------------------------------------------------ Statistics


def test_statistics(reactor: Reactor, clock: FakeClock) -> None:
    p1, p2 = socket.socketpair(), socket.socketpair()
    with p1[0], p1[1], p2[0], p2[1]:
        for s in (*p1, *p2):
            s.setblocking(False)
        fd1, fd2 = p1[0].fileno(), p2[0].fileno()
        stats = Statistics(clock)
        reactor.add_plugin(stats)
        ok = reactor.spawn(co_recv(p1[0], 2))
        slow = reactor.spawn(co_recv(p2[0], 2))

        def fails() -> PollCoroutine[None]:
            yield PollNeeded(p1[0].fileno(), POLLOUT)
            raise ValueError

        failing = reactor.spawn(fails())
        reactor.run_once(0)  # all three start and wait
        clock.advance(2)
        p1[1].send(b"ok")
        reactor.run_once(0)  # ok and failing finish after 2 s of waiting
        clock.advance(3)
        slow.cancel()  # cancelled after 5 s of waiting
        assert ok.result() == b"ok" and failing.done()
    assert stats.tasks_spawned == 3
    assert stats.tasks_finished == 3
    assert stats.tasks_failed == 1
    assert stats.tasks_cancelled == 1
    assert stats.resumptions == 5  # three first steps, two wake-ups
    assert stats.iterations == 2
    assert stats.wait_time == pytest.approx(2 + 2 + 5)
    assert stats.wait_time_by_fd == {fd1: pytest.approx(4), fd2: pytest.approx(5)}
    summary = stats.summary()
    assert "3 tasks spawned, 3 finished (1 failed, 1 cancelled)" in summary
    assert "5 resumptions, 2 iterations, 9.000 s waiting on 2 fds" in summary


def test_statistics_per_fd(reactor: Reactor, clock: FakeClock) -> None:
    a, b = socket.socketpair()
    c, d = socket.socketpair()
    with a, b, c, d:
        fd_a, fd_c = a.fileno(), c.fileno()
        stats = Statistics(clock)
        reactor.add_plugin(stats)

        def waits(fd: int, mask: int) -> PollCoroutine[None]:
            yield PollNeeded(fd, mask)

        reactor.spawn(waits(fd_a, POLLIN))
        reactor.spawn(waits(fd_a, POLLOUT))
        last = reactor.spawn(waits(fd_c, POLLIN))
        reactor.run_once(0)
        clock.advance(1.5)
        b.send(b"x")
        reactor.run_once(0)
        clock.advance(1)
        d.send(b"x")
        reactor.run_until_complete(last)
        assert stats.wait_time_by_fd == {fd_a: pytest.approx(3.0), fd_c: pytest.approx(2.5)}


# ---------------------------------------------------------------- Tracer


def test_tracer_logs_at_debug_only(
    reactor: Reactor,
    pair: tuple[socket.socket, socket.socket],
    caplog: pytest.LogCaptureFixture,
) -> None:
    a, b = pair
    reactor.add_plugin(Tracer())

    def fails() -> PollCoroutine[None]:
        yield PollNeeded(a.fileno(), POLLIN | POLLOUT)
        raise KeyError("k")

    with caplog.at_level(logging.DEBUG, logger="dugong.loop"):
        b.send(b"x")
        ok = reactor.spawn(co_recv(a, 1), name="ok")
        reactor.run_until_complete(ok)
        bad = reactor.spawn(fails(), name="bad")
        with pytest.raises(KeyError):
            reactor.run_until_complete(bad)
        waiting = reactor.spawn(co_recv(a, 1), name="gone")
        reactor.run_once(0)
        waiting.cancel()
    messages = [r.getMessage() for r in caplog.records]
    assert all(r.levelno == logging.DEBUG for r in caplog.records)
    assert all(r.name == "dugong.loop" for r in caplog.records)
    assert "task ok spawned" in messages
    assert "task ok resumed" in messages
    assert "task ok returned" in messages
    assert f"task bad waits for fd {a.fileno()} POLLIN|POLLOUT" in messages
    assert "task bad raised KeyError: 'k'" in messages
    assert f"task gone waits for fd {a.fileno()} POLLIN" in messages
    assert "task gone cancelled" in messages
    assert not any(m.startswith("iteration") for m in messages)


def test_tracer_with_iterations_and_own_logger(reactor: Reactor, caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("my.app")
    reactor.add_plugin(Tracer(logger, iterations=True))
    reactor.call_soon(lambda: None)
    with caplog.at_level(logging.DEBUG, logger="my.app"):
        reactor.run_once(0)
    assert [(r.name, r.getMessage()) for r in caplog.records] == [
        ("my.app", "iteration: polling with timeout 0.0"),
        ("my.app", "iteration: 1 callbacks ran"),
    ]


def test_tracer_shows_unknown_mask_bits_as_a_number(
    reactor: Reactor, caplog: pytest.LogCaptureFixture
) -> None:
    tracer = Tracer()

    def nothing() -> PollCoroutine[None]:
        return
        yield  # pragma: no cover

    with caplog.at_level(logging.DEBUG, logger="dugong.loop"):
        tracer.task_suspended(reactor.spawn(nothing()), PollNeeded(3, 0x400))
    assert caplog.records[-1].getMessage().endswith("waits for fd 3 1024")


# -------------------------------------------------------------- Progress


def test_progress_counts_tasks_and_bytes_and_renders_throttled(reactor: Reactor, clock: FakeClock) -> None:
    rendered: list[ProgressState] = []
    progress = Progress(rendered.append, min_interval=1.0, clock=clock)
    reactor.add_plugin(progress)
    pairs = [socket.socketpair() for _ in range(3)]
    try:
        for a, _ in pairs:
            a.setblocking(False)

        def fetch(sock: socket.socket, key: str) -> PollCoroutine[bytes]:
            data = yield from co_recv(sock, 4)
            progress.add_bytes(key, len(data))
            return data

        tasks = [reactor.spawn(fetch(a, f"k{i}")) for i, (a, _) in enumerate(pairs)]
        assert progress.state().tasks_total == 3
        reactor.run_once(0)
        assert len(rendered) == 1  # first iteration: something changed, never rendered yet
        assert rendered[0].tasks_done == 0 and rendered[0].tasks_total == 3
        pairs[0][1].send(b"abcd")
        reactor.run_once(0)
        assert len(rendered) == 1  # throttled
        clock.advance(1)
        reactor.run_once(0)
        assert len(rendered) == 2
        assert rendered[1].tasks_done == 1
        assert rendered[1].bytes_done == 4
        assert rendered[1].bytes_by_key == {"k0": 4}
        assert not rendered[1].finished
        reactor.run_once(0)
        assert len(rendered) == 2  # nothing changed
        pairs[1][1].send(b"efgh")
        pairs[2][1].send(b"ijkl")
        reactor.run_once(0)
        # The last task finishing renders at once, throttle or not.
        final = rendered[-1]
        assert final.finished
        assert (final.tasks_done, final.tasks_failed, final.tasks_total) == (3, 0, 3)
        assert final.bytes_done == 12 and final.bytes_total is None
        assert [t.result() for t in tasks] == [b"abcd", b"efgh", b"ijkl"]
    finally:
        for a, b in pairs:
            a.close()
            b.close()


def test_progress_totals_and_failures(reactor: Reactor, clock: FakeClock) -> None:
    progress = Progress(tasks_total=4, bytes_total=100, clock=clock)
    reactor.add_plugin(progress)

    def fails() -> PollCoroutine[None]:
        raise OSError("x")
        yield  # pragma: no cover

    def ok() -> PollCoroutine[int]:
        return 1
        yield  # pragma: no cover

    with pytest.raises(OSError):
        run_all([ok(), fails()], reactor=reactor)
    state = progress.state()
    assert (state.tasks_done, state.tasks_failed, state.tasks_total) == (2, 1, 4)
    assert state.bytes_total == 100 and not state.finished
    progress.set_total(tasks=2)
    progress.set_total(bytes_total=7)
    progress.set_total()
    state = progress.state()
    assert state.finished and state.tasks_total == 2 and state.bytes_total == 7
    progress.render()  # no renderer: harmless


def test_progress_counts_cancelled_tasks_as_failed(reactor: Reactor) -> None:
    rendered: list[ProgressState] = []
    progress = Progress(rendered.append)
    reactor.add_plugin(progress)

    def never() -> PollCoroutine[None]:
        yield PollNeeded(0, POLLIN)  # pragma: no cover

    reactor.spawn(never()).cancel()
    assert progress.state().tasks_failed == 1
    assert rendered[-1].finished


def test_progress_with_tqdm_like_renderer(reactor: Reactor) -> None:
    """The command line adapts a renderer to a progress bar; no bar library needed here."""

    class Bar:
        def __init__(self) -> None:
            self.n = 0
            self.total = 0
            self.refreshes = 0
            self.history: list[int] = []

        def refresh(self) -> None:
            self.refreshes += 1
            self.history.append(self.n)

    bar = Bar()

    def render(state: ProgressState) -> None:
        bar.total = state.tasks_total
        bar.n = state.tasks_done
        bar.refresh()

    reactor.add_plugin(Progress(render, tasks_total=5, min_interval=0))

    def ok(i: int) -> PollCoroutine[int]:
        return i
        yield  # pragma: no cover

    assert run_all([ok(i) for i in range(5)], reactor=reactor, max_concurrency=2) == list(range(5))
    assert (bar.n, bar.total) == (5, 5)
    assert bar.history == sorted(bar.history)
    assert bar.history[0] < 5 and bar.history[-1] == 5
    assert bar.refreshes >= 3


class Silent(Plugin):
    pass


def test_the_reprs_of_the_plugins_show_their_state(
    reactor: Reactor, pair: tuple[socket.socket, socket.socket]
) -> None:
    a, _ = pair

    def writable(n: int, fail: bool) -> PollCoroutine[int]:
        for _ in range(n):
            yield PollNeeded(a.fileno(), POLLOUT)
        if fail:
            raise ValueError("failed")
        return n

    stats = Statistics(clock=reactor.time)
    progress = Progress(tasks_total=3, bytes_total=100)
    assert repr(stats) == (
        "<Statistics 0 tasks spawned, 0 finished (0 failed, 0 cancelled), 0 resumptions, "
        "0 iterations, 0.000 s waiting on 0 fds>"
    )
    for plugin in (stats, progress):
        reactor.add_plugin(plugin)
    assert reactor.run_until_complete(writable(2, False)) == 2
    with pytest.raises(ValueError):
        reactor.run_until_complete(writable(1, True))
    progress.add_bytes("a", 40)
    assert repr(stats).startswith(
        "<Statistics 2 tasks spawned, 2 finished (1 failed, 0 cancelled), 5 resumptions, "
    )
    assert repr(progress) == "<Progress 2 of 3 tasks done (1 failed), 40 of 100 bytes>"
    assert repr(Progress()) == "<Progress 0 of 0 tasks done (0 failed), 0 bytes>"
    assert repr(Tracer()) == "<Tracer logger='dugong.loop' iterations=False>"
    assert (
        repr(Tracer(logging.getLogger("mine"), iterations=True)) == "<Tracer logger='mine' iterations=True>"
    )
    assert repr(Silent()).startswith("<tests.test_loop_plugins.Silent object")
