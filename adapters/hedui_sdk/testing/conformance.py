"""The adapter contract as pytest tests: subclass :class:`AdapterConformance` and run pytest.

Each ``test_*`` method checks one rule of :class:`~hedui_sdk.contract.Adapter`. The tests
are ordinary synchronous pytest tests that run the adapter in an event loop of their own,
so they need no pytest-asyncio and behave the same in any test suite. Every await on the
adapter is bounded: an adapter that hangs or swallows cancellation fails the test that
caught it instead of hanging the whole run.
"""

from __future__ import annotations

from hedui_sdk.testing.answers import AnswerChecks
from hedui_sdk.testing.deadlines import DeadlineChecks
from hedui_sdk.testing.failures import ErrorChecks
from hedui_sdk.testing.harness import UNKNOWN_TICKET, ConformanceHarness, Outcome, run_bounded
from hedui_sdk.testing.leaks import LeakChecks

__all__ = [
    "UNKNOWN_TICKET",
    "AdapterConformance",
    "ConformanceHarness",
    "Outcome",
    "run_bounded",
]


class AdapterConformance(AnswerChecks, DeadlineChecks, ErrorChecks, LeakChecks):
    """Base class of a conformance test suite for one adapter.

    Subclass it in a module pytest collects, with a name starting with ``Test``, and
    implement the hooks:

    * :meth:`make_adapter`: a new adapter (plain or ``async def``), pointed at a source
      that holds records on :meth:`subject_with_records` and none on
      :meth:`subject_without_records`;
    * :meth:`secret_values`: every credential value given to the adapter;
    * :meth:`faults`: a :class:`~hedui_sdk.testing.Faults` that makes that source misbehave
      (the tests that need a hook it lacks are skipped).

    :class:`~hedui_sdk.testing.SandboxConformance` implements all of them with the
    in-process sandbox. Class attributes tune the bounds; the defaults suit loopback.

    The tests come in groups, one class each, that this class combines:
    :class:`~hedui_sdk.testing.answers.AnswerChecks`,
    :class:`~hedui_sdk.testing.deadlines.DeadlineChecks`,
    :class:`~hedui_sdk.testing.failures.ErrorChecks` and
    :class:`~hedui_sdk.testing.leaks.LeakChecks`; the hooks, bounds and helpers are on
    :class:`~hedui_sdk.testing.harness.ConformanceHarness`.
    """
