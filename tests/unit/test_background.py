"""The background loop: a failed round is logged and survived, work goes on at once,
an idle round pauses until the interval passes, ``stop`` or the wake event is set."""

from __future__ import annotations

import asyncio

import pytest
import structlog

from verifier.service.background import run_rounds

# Long enough that a test whose loop paused where it must not would hang (and time out).
NEVER = 3600.0


class Script:
    """A round that answers ``steps`` in turn (a figure, or an error to raise) and sets
    ``stop`` with its last answer."""

    def __init__(self, stop: asyncio.Event, *steps: int | Exception) -> None:
        self.stop = stop
        self.steps = list(steps)
        self.calls = 0

    async def __call__(self) -> int:
        step = self.steps[self.calls]
        self.calls += 1
        if self.calls == len(self.steps):
            self.stop.set()
        if isinstance(step, Exception):
            raise step
        return step


async def test_a_failing_round_is_logged_by_error_type_and_the_loop_goes_on() -> None:
    stop = asyncio.Event()
    script = Script(stop, RuntimeError("a message that may hold personal data"), 0)
    with structlog.testing.capture_logs() as logs:
        await run_rounds(script, stop, 0.0, log=structlog.get_logger("t"), failed="t_failed")
    assert script.calls == 2
    assert logs == [{"event": "t_failed", "error": "RuntimeError", "log_level": "warning"}]


async def test_a_round_that_did_work_is_followed_at_once() -> None:
    stop = asyncio.Event()
    script = Script(stop, 2, 1, 0)
    await run_rounds(script, stop, NEVER, log=structlog.get_logger("t"), failed="t_failed")
    assert script.calls == 3


async def test_again_decides_which_figures_go_on_at_once() -> None:
    stop = asyncio.Event()
    script = Script(stop, 5, 5, 5)
    await run_rounds(
        script,
        stop,
        NEVER,
        log=structlog.get_logger("t"),
        failed="t_failed",
        again=lambda figure: figure >= 5,
    )
    assert script.calls == 3


async def test_an_idle_pause_ends_when_the_wake_event_is_set() -> None:
    stop = asyncio.Event()
    woken = asyncio.Event()
    woken.set()
    script = Script(stop, 0, 0)
    await run_rounds(
        script, stop, NEVER, log=structlog.get_logger("t"), failed="t_failed", wake=lambda: woken
    )
    assert script.calls == 2


async def test_an_idle_pause_ends_when_stop_is_set() -> None:
    stop = asyncio.Event()
    started = asyncio.Event()

    async def round_() -> int:
        started.set()
        return 0

    loop = asyncio.create_task(
        run_rounds(round_, stop, NEVER, log=structlog.get_logger("t"), failed="t_failed")
    )
    await started.wait()
    stop.set()
    await loop


async def test_cancelling_a_round_ends_the_loop() -> None:
    stop = asyncio.Event()

    async def round_() -> int:
        raise asyncio.CancelledError

    with pytest.raises(asyncio.CancelledError):
        await run_rounds(round_, stop, NEVER, log=structlog.get_logger("t"), failed="t_failed")
