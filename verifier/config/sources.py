"""``[sources.NAME]``: the adapter, where it calls, its credentials and options, and the
:class:`~verifier.domain.source_policy.SourcePolicy` knobs, flat in the same table.

The knobs' names, types, defaults and bounds are read off ``SourcePolicy`` itself, so a
knob added there is configurable here with nothing else to change.
"""

from __future__ import annotations

from dataclasses import MISSING, fields
from typing import TYPE_CHECKING, Annotated, Any, get_args, get_origin, get_type_hints

from annotated_types import Interval
from pydantic import AfterValidator, Field, create_model

from hedui_sdk import SourceKind
from verifier.config.errors import Problem, within
from verifier.config.model import SourceConfig
from verifier.config.secrets import is_reference
from verifier.config.sections import Section, scalar_options
from verifier.domain.source_policy import POLICY_KNOBS, SourcePolicy


def _credentials(refs: dict[str, str]) -> dict[str, str]:
    for name, ref in refs.items():
        if not is_reference(ref):
            # Never the value: a bare secret is exactly the mistake this catches.
            raise Problem("must start with env:, file: or value:", name)
    return refs


def _required(value: str) -> str:
    if not value:
        raise Problem("must be set")
    return value


class SourceTable(Section):
    """The keys of a ``[sources.NAME]`` table that are not policy knobs."""

    adapter: str | None = None
    """The entry point name in group ``hedui.adapters``; default: the source's name."""
    base_url: Annotated[str, AfterValidator(_required)]
    credentials: Annotated[dict[str, str], AfterValidator(_credentials)] = Field(
        default_factory=dict
    )
    options: Annotated[dict[str, Any], AfterValidator(scalar_options)] = Field(default_factory=dict)


def _knob(hint: Any, default: Any) -> tuple[Any, Any]:
    """A knob's field: its base type with the type's bounds as one validator."""
    base, *metadata = get_args(hint) if get_origin(hint) is Annotated else (hint,)
    limits = [m for m in metadata if isinstance(m, Interval)]
    annotation = Annotated[base, within(limits[0])] if limits else base
    return annotation, default


def _source_section() -> type[SourceTable]:
    hints = get_type_hints(SourcePolicy, include_extras=True)
    defaults = {f.name: f.default for f in fields(SourcePolicy) if f.default is not MISSING}
    knobs = {name: _knob(hints[name], defaults[name]) for name in POLICY_KNOBS}
    return create_model(  # type: ignore[call-overload, no-any-return]
        "SourceSection", __base__=SourceTable, __doc__=SourceTable.__doc__, **knobs
    )


if TYPE_CHECKING:
    SourceSection = SourceTable
else:
    SourceSection = _source_section()


def source_config(kind: SourceKind, table: SourceTable) -> SourceConfig:
    """The checked table as the value the rest of hedui uses."""
    return SourceConfig(
        source=kind,
        adapter=table.adapter or kind.value,
        base_url=table.base_url,
        policy=SourcePolicy(**{name: getattr(table, name) for name in POLICY_KNOBS}),
        credentials=dict(table.credentials),
        options={k: str(v) for k, v in table.options.items()},
    )


def check_source_names(names: Any) -> Any:
    """Each ``[sources.NAME]`` names a known source."""
    known = {k.value for k in SourceKind}
    for name in names if isinstance(names, dict) else ():
        if name not in known:
            raise Problem(f"unknown source; one of {', '.join(k.value for k in SourceKind)}", name)
    return names
