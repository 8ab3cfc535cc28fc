"""Finding and loading adapters through the ``hedui.adapters`` entry-point group.

Built-in and third-party adapters load the same way. Only names on the allowlist (the
sources in hedui's config) are loaded; everything else is listed but left alone.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points

from hedui_sdk.contract import Adapter, AdapterSettings, SourceKind

GROUP = "hedui.adapters"


@dataclass(frozen=True, slots=True)
class AdapterInfo:
    """What ``hedui adapter list`` shows for one entry point."""

    entry_point: str
    target: str
    distribution: str
    distribution_version: str
    status: str
    """``loaded``, ``available`` (not on the allowlist) or ``refused``."""
    reason: str = ""
    source: str = ""
    adapter_name: str = ""
    adapter_version: str = ""


class AdapterLoadError(RuntimeError):
    """An allowlisted adapter could not be loaded; the message says which and why."""


def discover() -> dict[str, EntryPoint]:
    """Every entry point in the group, by name (see :func:`clashes` for names taken twice)."""
    return {ep.name: ep for ep in entry_points(group=GROUP)}


def clashes() -> dict[str, list[str]]:
    """Names that more than one installed distribution registers, with those distributions.

    Such a name is refused rather than loaded: which one wins would depend on install
    order, and a package could silently stand in for a built-in adapter.
    """
    owners: dict[str, set[str]] = {}
    for ep in entry_points(group=GROUP):
        owners.setdefault(ep.name, set()).add(_dist(ep)[0] or ep.value)
    return {name: sorted(d) for name, d in owners.items() if len(d) > 1}


def _clash_reason(owners: list[str]) -> str:
    return f"registered by more than one distribution ({', '.join(owners)}): uninstall all but one"


def _cause(exc: Exception) -> str:
    """An exception named for an operator: its type, and for a missing key the key's name.

    Other messages are left out: a factory's exception may quote its settings, which
    hold credentials.
    """
    if isinstance(exc, KeyError) and exc.args and isinstance(exc.args[0], str):
        return f"KeyError (missing setting {exc.args[0]!r})"
    return type(exc).__name__


def _dist(ep: EntryPoint) -> tuple[str, str]:
    dist = ep.dist
    return (dist.metadata["Name"], dist.version) if dist is not None else ("", "")


def check_adapter(obj: object) -> str:
    """Why ``obj`` does not keep the :class:`Adapter` contract, or '' when it does."""
    for attr in ("name", "version"):
        if not isinstance(getattr(obj, attr, None), str) or not getattr(obj, attr):
            return f"attribute {attr!r} must be a non-empty string"
    if not isinstance(getattr(obj, "source", None), SourceKind):
        return "attribute 'source' must be an hedui_sdk.SourceKind"
    for method in ("query", "poll", "aclose"):
        fn = getattr(obj, method, None)
        if fn is None or not inspect.iscoroutinefunction(fn):
            return f"method {method!r} must be an async def"
    return ""


def _not_loaded(
    name: str,
    ep: EntryPoint,
    allow: Mapping[str, AdapterSettings],
    taken_twice: Mapping[str, list[str]],
) -> AdapterInfo | None:
    """The row of an entry point that is not to be created: not allowlisted (available), or
    its name taken by two distributions (refused). None when it is to be created."""
    dist, dist_version = _dist(ep)
    if name not in allow:
        return AdapterInfo(name, ep.value, dist, dist_version, "available", "not in config")
    if name in taken_twice:
        reason = _clash_reason(taken_twice[name])
        return AdapterInfo(name, ep.value, dist, dist_version, "refused", reason)
    return None


def load(
    allow: Mapping[str, AdapterSettings],
    available: Mapping[str, EntryPoint] | None = None,
) -> tuple[dict[str, Adapter], list[AdapterInfo]]:
    """Create the allowlisted adapters.

    Returns the adapters by entry-point name and an info row for every entry point seen.
    Raises :class:`AdapterLoadError` when an allowlisted name is missing or broken:
    a configured source that silently does not load would make every check incomplete.
    """
    eps = dict(available if available is not None else discover())
    taken_twice = clashes() if available is None else {}
    loaded: dict[str, Adapter] = {}
    infos: list[AdapterInfo] = []
    problems: list[str] = []
    for name in sorted(set(eps) | set(allow)):
        ep = eps.get(name)
        if ep is None:
            problems.append(
                f"{name}: no entry point named {name!r} in group {GROUP!r} is installed"
            )
            continue
        dist, dist_version = _dist(ep)
        unloaded = _not_loaded(name, ep, allow, taken_twice)
        if unloaded is not None:
            infos.append(unloaded)
            if unloaded.status == "refused":
                problems.append(f"{name}: {unloaded.reason}")
            continue
        try:
            factory: Callable[[AdapterSettings], object] = ep.load()
            adapter = factory(allow[name])
        except Exception as exc:
            reason = f"could not be created: {_cause(exc)}"
            infos.append(AdapterInfo(name, ep.value, dist, dist_version, "refused", reason))
            problems.append(f"{name}: {reason}")
            continue
        reason = check_adapter(adapter)
        if reason:
            infos.append(AdapterInfo(name, ep.value, dist, dist_version, "refused", reason))
            problems.append(f"{name}: {reason}")
            continue
        assert isinstance(adapter, Adapter)
        loaded[name] = adapter
        infos.append(
            AdapterInfo(
                name,
                ep.value,
                dist,
                dist_version,
                "loaded",
                "",
                adapter.source.value,
                adapter.name,
                adapter.version,
            )
        )
    if problems:
        raise AdapterLoadError("; ".join(problems))
    return loaded, infos


async def describe(allow: Mapping[str, AdapterSettings]) -> list[AdapterInfo]:
    """Info rows without raising, closing what it created: for ``hedui adapter list``."""
    infos: list[AdapterInfo] = []
    taken_twice = clashes()
    for name, ep in sorted(discover().items()):
        dist, dist_version = _dist(ep)
        unloaded = _not_loaded(name, ep, allow, taken_twice)
        if unloaded is not None:
            infos.append(unloaded)
            continue
        try:
            adapters, rows = load({name: allow[name]}, {name: ep})
            infos.extend(rows)
            for a in adapters.values():
                await a.aclose()
        except AdapterLoadError as exc:
            infos.append(AdapterInfo(name, ep.value, dist, dist_version, "refused", str(exc)))
    for name in sorted(set(allow) - set(discover())):
        infos.append(AdapterInfo(name, "", "", "", "refused", "no such entry point is installed"))
    return infos
