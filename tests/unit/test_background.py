"""The background loop: a failed round is logged and survived, work goes on at once,
an idle round pauses until the interval passes, ``stop`` or the wake event is set."""

from __future__ import annotations

import asyncio

import pytest
import structlog

from verifier.service.background import run_rounds

# Long enough that a test whose loop paused where it must not would hang (and time out).
NEVER = 3600.0


async def test_a_failing_round_is_logged_by_error_type_and_the_loop_goes_on() -> None:
    stop = asyncio.Event()
    calls = 0

    async def round_() -> int:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("a message that may hold personal data")
        stop.set()
        return 0

    with structlog.testing.capture_logs() as logs:
        await run_rounds(round_, stop, 0.0, log=structlog.get_logger("t"), failed="t_failed")
    assert calls == 2
    assert logs == [{"event": "t_failed", "error": "RuntimeError", "log_level": "warning"}]


async def test_a_round_that_did_work_is_followed_at_once() -> None:
    stop = asyncio.Event()
    done = [2, 1, 0]

    async def round_() -> int:
        figure = done.pop(0)
        if not done:
            stop.set()
        return figure

    await run_rounds(round_, stop, NEVER, log=structlog.get_logger("t"), failed="t_failed")
    assert done == []


async def test_again_decides_which_figures_go_on_at_once() -> None:
    stop = asyncio.Event()
    rounds: list[int] = []

    async def round_() -> int:
        rounds.append(len(rounds))
        if len(rounds) == 3:
            stop.set()
        return 5

    await run_rounds(
        round_,
        stop,
        NEVER,
        log=structlog.get_logger("t"),
        failed="t_failed",
        again=lambda figure: figure >= 5,
    )
    assert rounds == [0, 1, 2]


async def test_an_idle_pause_ends_when_the_wake_event_is_set() -> None:
    stop = asyncio.Event()
    woken = asyncio.Event()
    rounds = 0

    async def round_() -> int:
        nonlocal rounds
        rounds += 1
        if rounds == 1:
            woken.set()
        else:
            stop.set()
        return 0

    await run_rounds(
        round_, stop, NEVER, log=structlog.get_logger("t"), failed="t_failed", wake=lambda: woken
    )
    assert rounds == 2


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
