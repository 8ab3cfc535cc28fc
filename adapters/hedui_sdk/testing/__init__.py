"""The adapter conformance kit: the :class:`~hedui_sdk.Adapter` contract as pytest tests.

A department team subclasses :class:`AdapterConformance` (its own source double and
:class:`Faults`) or, for an adapter that can talk to ``hedui sandbox``,
:class:`SandboxConformance` (name the factory and the source; the kit does the rest)::

    from hedui_sdk.testing import SandboxConformance
    from my_adapter.adapter import SOURCE, create

    class TestConformance(SandboxConformance):
        source = SOURCE
        factory = create

pytest then collects the inherited ``test_*`` methods. See docs/adapters.md.
"""

from hedui_sdk.testing.conformance import AdapterConformance, Outcome, run_bounded
from hedui_sdk.testing.faults import FaultNotSupported, Faults
from hedui_sdk.testing.sandbox import (
    SandboxConformance,
    SandboxFaults,
    SandboxServer,
    create_from_entry_point,
    sandbox_population,
)
from hedui_sdk.testing.scripted import ScriptedAdapter
from hedui_sdk.validation import RECORD_TYPES

__all__ = [
    "RECORD_TYPES",
    "AdapterConformance",
    "FaultNotSupported",
    "Faults",
    "Outcome",
    "SandboxConformance",
    "SandboxFaults",
    "SandboxServer",
    "ScriptedAdapter",
    "create_from_entry_point",
    "run_bounded",
    "sandbox_population",
]
