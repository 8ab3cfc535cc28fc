"""``hedui adapter new``: generate an installable adapter package that passes the kit at once.

The templates live in ``adapters/hedui_sdk/scaffold/template/`` as package data. A file
``x.tmpl`` becomes ``x`` and a path segment ``__package__`` becomes the import package;
``{{key}}`` placeholders are replaced by :func:`placeholders`. The generated package
speaks department gateway protocol v1 through
:class:`~hedui_sdk.builtin.gateway.GatewayAdapter`, so its conformance suite passes against
the sandbox before a line is changed.
"""

from __future__ import annotations

import importlib.util
import keyword
import re
import sys
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from hedui_sdk.contract import SourceKind

TEMPLATE_SUFFIX = ".tmpl"
"""What every template file name ends with (so tools do not take it for a project file)."""

PACKAGE_SEGMENT = "__package__"
"""The template path segment replaced by the import package name."""

NAME_PATTERN = re.compile(r"[a-z][a-z0-9]*(?:[-_][a-z0-9]+)*")
"""An adapter (and entry-point) name: lowercase words joined by ``-`` or ``_``."""

RESERVED = frozenset(
    {"adapters", "hedui_sdk", "verifier", "audit", "hedui", "tests", "test", "src"}
)
"""Import names an adapter package must not take: they belong to hedui or to layouts."""

BUILTIN_NAMES = frozenset(kind.value for kind in SourceKind)
"""Entry-point names of hedui's built-in adapters (one per source, named after it)."""


class ScaffoldError(ValueError):
    """The name, source or target directory cannot be used; the message says why."""


def package_name(name: str) -> str:
    """The import package for adapter ``name``: ``acme-tax`` becomes ``acme_tax``."""
    return name.replace("-", "_")


def placeholders(name: str, source: SourceKind | str) -> dict[str, str]:
    """The values of the ``{{key}}`` placeholders for adapter ``name`` and ``source``.

    Raises :class:`ScaffoldError` when ``name`` is not a usable adapter name.
    """
    if len(name) > 60 or not NAME_PATTERN.fullmatch(name):
        raise ScaffoldError(
            f"adapter name {name!r} must be lowercase letters and digits, words joined by"
            " '-' or '_', starting with a letter (e.g. 'acme-tax')"
        )
    package = package_name(name)
    if package in RESERVED or package in sys.stdlib_module_names or keyword.iskeyword(package):
        raise ScaffoldError(f"adapter name {name!r} would shadow the module {package!r}")
    if name in BUILTIN_NAMES:
        raise ScaffoldError(
            f"adapter name {name!r} is hedui's built-in adapter for that source; name yours"
            f" after your organisation (e.g. 'acme-{name.replace('_', '-')}')"
        )
    if importlib.util.find_spec(package) is not None:
        raise ScaffoldError(f"adapter name {name!r} would shadow the installed module {package!r}")
    try:
        kind = SourceKind(source)
    except ValueError:
        raise ScaffoldError(
            f"unknown source {source!r}; one of {', '.join(k.value for k in SourceKind)}"
        ) from None
    return {
        "name": name,
        "package": package,
        "distribution": "hedui-adapter-" + name.replace("_", "-"),
        "class_name": "".join(w.capitalize() for w in re.split(r"[-_]", name)) + "Adapter",
        "source": kind.value,
        "source_member": kind.name,
        "source_upper": kind.value.upper(),
    }


def template_root() -> Traversable:
    """The template tree shipped as package data."""
    return resources.files("hedui_sdk.scaffold").joinpath("template")


def _templates(
    root: Traversable, prefix: tuple[str, ...] = ()
) -> list[tuple[tuple[str, ...], str]]:
    found: list[tuple[tuple[str, ...], str]] = []
    for entry in sorted(root.iterdir(), key=lambda e: e.name):
        if entry.is_dir():
            found += _templates(entry, (*prefix, entry.name))
        elif entry.name.endswith(TEMPLATE_SUFFIX):
            found.append(((*prefix, entry.name), entry.read_text(encoding="utf-8")))
    return found


def render(text: str, values: dict[str, str]) -> str:
    """``text`` with every ``{{key}}`` replaced; an unknown placeholder raises."""

    def value(match: re.Match[str]) -> str:
        key = match.group(1)
        if key not in values:
            raise ScaffoldError(f"template placeholder {{{{{key}}}}} has no value")
        return values[key]

    return re.sub(r"\{\{(\w+)\}\}", value, text)


def generate(name: str, *, source: SourceKind | str, directory: Path) -> list[Path]:
    """Write the package for adapter ``name`` into ``directory`` and return the files.

    ``directory`` must not exist or be empty: nothing is overwritten.
    """
    values = placeholders(name, source)
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise ScaffoldError(f"{directory} exists and is not an empty directory")
    rendered: list[tuple[Path, str]] = []
    for parts, text in _templates(template_root()):
        segments = [values["package"] if p == PACKAGE_SEGMENT else p for p in parts]
        segments[-1] = segments[-1].removesuffix(TEMPLATE_SUFFIX)
        rendered.append((directory.joinpath(*segments), render(text, values)))
    written: list[Path] = []
    for path, text in rendered:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


__all__ = [
    "NAME_PATTERN",
    "ScaffoldError",
    "generate",
    "package_name",
    "placeholders",
    "render",
    "template_root",
]
