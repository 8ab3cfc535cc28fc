"""Configuration errors, and turning a pydantic validation error into one message that
names the key (``sources.tax.timout: unknown key``) and never repeats a value: a value
may be a password, a token or a URL with either in it."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, get_args, get_origin

from annotated_types import Interval
from pydantic import AfterValidator, BaseModel, ValidationError


class ConfigError(ValueError):
    """The configuration is wrong; the message names the key."""


class Problem(ValueError):
    """A validator's complaint about ``key`` of the table it checks (a check across keys
    reports the key that has to change)."""

    def __init__(self, message: str, key: str | int = "") -> None:
        super().__init__(message)
        self.key = key


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def range_text(limits: Interval) -> str:
    """``must be between 1 and 1024``, ``must be above 0 and at most 600``, …"""
    if limits.ge is not None and limits.le is not None:
        return f"must be between {_number(limits.ge)} and {_number(limits.le)}"  # type: ignore[arg-type]
    parts = []
    if limits.gt is not None:
        parts.append(f"above {_number(limits.gt)}")  # type: ignore[arg-type]
    if limits.ge is not None:
        parts.append(f"at least {_number(limits.ge)}")  # type: ignore[arg-type]
    if limits.lt is not None:
        parts.append(f"below {_number(limits.lt)}")  # type: ignore[arg-type]
    if limits.le is not None:
        parts.append(f"at most {_number(limits.le)}")  # type: ignore[arg-type]
    return "must be " + " and ".join(parts)


def within(limits: Interval) -> AfterValidator:
    """A validator for ``limits`` whose message states the whole range (pydantic's own
    names one bound at a time). NaN is outside every range."""

    def check(value: float) -> float:
        inside = not (isinstance(value, float) and math.isnan(value)) and all(
            (
                limits.gt is None or value > limits.gt,  # type: ignore[operator]
                limits.ge is None or value >= limits.ge,  # type: ignore[operator]
                limits.lt is None or value < limits.lt,  # type: ignore[operator]
                limits.le is None or value <= limits.le,  # type: ignore[operator]
            )
        )
        if not inside:
            raise Problem(range_text(limits))
        return value

    return AfterValidator(check)


def between(low: float, high: float) -> AfterValidator:
    """``low <= value <= high``."""
    return within(Interval(ge=low, le=high))


_TYPE_WORDS = {
    "bool_type": "bool", "bool_parsing": "bool",
    "int_type": "int", "int_parsing": "int", "int_from_float": "int",
    "float_type": "float", "float_parsing": "float", "finite_number": "a finite number",
    "string_type": "str", "list_type": "list", "tuple_type": "list",
    "dict_type": "a table", "model_type": "a table", "model_attributes_type": "a table",
    "dataclass_type": "a table",
}  # fmt: skip


def _is_model(annotation: Any) -> bool:
    # ``list[X]`` passes isinstance(..., type) but is no class: check its origin first.
    return (
        get_origin(annotation) is None
        and isinstance(annotation, type)
        and issubclass(annotation, BaseModel)
    )


def known_keys(root: type[BaseModel], loc: Sequence[str | int]) -> list[str]:
    """The keys the table at ``loc`` accepts (empty when it is not a known table)."""
    current: Any = root
    for part in loc:
        if _is_model(current):
            field = current.model_fields.get(str(part))
            if field is None:
                return []
            current = field.annotation
        elif get_origin(current) is dict:
            current = get_args(current)[1]
        else:
            return []
    return sorted(current.model_fields) if _is_model(current) else []


def _message(root: type[BaseModel], error: Mapping[str, Any], loc: list[str | int]) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind in ("value_error", "assertion_error"):
        cause = ctx.get("error")
        if isinstance(cause, Problem) and cause.key != "":
            loc.append(cause.key)
        return str(cause) if cause is not None else "is not valid"
    if kind == "extra_forbidden":
        known = known_keys(root, loc[:-1])
        return "unknown key" + (f"; known: {', '.join(known)}" if known else "")
    if kind == "missing":
        return "must be set"
    if kind in _TYPE_WORDS:
        return f"must be {_TYPE_WORDS[kind]}"
    if kind == "literal_error":
        expected = str(ctx.get("expected", "")).replace(" or ", ", ").replace("'", "")
        return f"must be one of {expected}"
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        key = {"greater_than": "gt", "greater_than_equal": "ge"}.get(kind, kind)
        key = {"less_than": "lt", "less_than_equal": "le"}.get(key, key)
        return range_text(Interval(**{key: ctx.get(key)}))
    # pydantic's templates describe the expectation, never the input.
    return str(error.get("msg", "is not valid")).replace("Input should be", "must be")


def describe(
    exc: ValidationError,
    root: type[BaseModel],
    source_of: Callable[[tuple[str, ...]], tuple[str, tuple[str, ...]] | None] | None = None,
) -> ConfigError:
    """The first error of ``exc`` as a :class:`ConfigError`: ``dotted.path: problem``.
    ``source_of`` names where a value came from when it was not the file (an
    environment variable): ``HEDUI_X__Y: problem``."""
    error = exc.errors(include_url=False, include_input=False)[0]
    loc: list[str | int] = list(error["loc"])
    message = _message(root, error, loc)
    path = tuple(str(p) for p in loc)
    origin = source_of(path) if source_of else None
    if origin is not None:
        name, rest = origin
        return ConfigError(f"{name}: {'.'.join(rest)}: {message}" if rest else f"{name}: {message}")
    where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")
    return ConfigError(f"{where}: {message}" if where else message)
