"""Every built-in adapter passes the conformance kit against the sandbox.

One :class:`~hedui_sdk.testing.SandboxConformance` subclass per source, exactly as a
department writes one for its own adapter.
"""

from __future__ import annotations

from hedui_sdk import SourceKind
from hedui_sdk.builtin import FACTORIES
from hedui_sdk.testing import SandboxConformance


def _suite(source: SourceKind) -> type[SandboxConformance]:
    return type(
        f"TestBuiltin_{source.value}",
        (SandboxConformance,),
        {"source": source, "factory": staticmethod(FACTORIES[source]), "__module__": __name__},
    )


for _source in SourceKind:
    _cls = _suite(_source)
    globals()[_cls.__name__] = _cls


def test_one_suite_per_source() -> None:
    suites = [v for k, v in globals().items() if k.startswith("TestBuiltin_")]
    assert sorted(s.source for s in suites) == sorted(SourceKind)
