"""Typed parameters: each entry of the spec table is an object that knows its name, what a
policy file may hold for it (:class:`Spec`) and the Python type the rules get.

Declared as class attributes of a reader (:class:`Reader`), a parameter reads as its typed
value (``snap.dibao_standard_urban`` is an ``int``); read from the class it is the
parameter itself (``Parameters.dibao_standard_urban.name``), which rules pass around when
the parameter to read depends on the household (the urban or the rural standard) and cite
by name. Every read goes through :meth:`Reader.entry`, so a recording reader (the
assessment's snapshot) knows exactly which entries a conclusion used.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import replace
from decimal import Decimal
from typing import Generic, TypeVar, overload

from verifier.policy.policies import Entry, Kind, ParamValue, Spec

T = TypeVar("T")


class ParameterTypeError(TypeError):
    """An entry's value is not of its parameter's kind (only an unvalidated policy has one)."""


def _mistyped(what: str, value: ParamValue) -> ParameterTypeError:
    return ParameterTypeError(f"expected {what}, got {type(value).__name__}")


def _scalar(cls: type[T], what: str) -> Callable[[ParamValue], T]:
    def convert(v: ParamValue) -> T:
        # bool is a subclass of int, but true/false is never a count or an amount.
        if isinstance(v, cls) and (cls is bool or not isinstance(v, bool)):
            return v
        raise _mistyped(what, v)

    return convert


as_int = _scalar(int, "an integer")
_as_decimal = _scalar(Decimal, "a decimal")
_as_bool = _scalar(bool, "true/false")
_as_str = _scalar(str, "a word")


def _as_strs(v: ParamValue) -> tuple[str, ...]:
    if isinstance(v, tuple):
        return tuple(str(x) for x in v)
    raise _mistyped("a list", v)


def _as_ints(v: ParamValue) -> tuple[int, ...]:
    if isinstance(v, tuple):
        return tuple(int(x) for x in v)
    raise _mistyped("a list", v)


class Named:
    """What every parameter has, whatever its type: the name and the spec."""

    __slots__ = ("name", "spec")

    def __init__(self, spec: Spec, name: str = "") -> None:
        self.spec = spec
        self.name = name

    def __set_name__(self, owner: type[object], name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, {self.spec!r})"


class Typed(Named, Generic[T]):
    """A parameter with the Python type its values read as."""

    __slots__ = ("convert",)

    def __init__(self, spec: Spec, convert: Callable[[ParamValue], T], name: str = "") -> None:
        super().__init__(spec, name)
        self.convert = convert


class Param(Typed[T]):
    """A required parameter: every policy file states it on every day it serves."""

    __slots__ = ()

    @overload
    def __get__(self, obj: None, owner: type[object] | None = None) -> Param[T]: ...
    @overload
    def __get__(self, obj: Reader, owner: type[object] | None = None) -> T: ...
    def __get__(self, obj: Reader | None, owner: type[object] | None = None) -> Param[T] | T:
        return self if obj is None else obj.get(self)


class OptionalParam(Typed[T]):
    """A parameter a policy file may leave out: reads as ``None`` where none is in force."""

    __slots__ = ()

    @overload
    def __get__(self, obj: None, owner: type[object] | None = None) -> OptionalParam[T]: ...
    @overload
    def __get__(self, obj: Reader, owner: type[object] | None = None) -> T | None: ...
    def __get__(
        self, obj: Reader | None, owner: type[object] | None = None
    ) -> OptionalParam[T] | T | None:
        return self if obj is None else obj.find(self)


class Family(Generic[T]):
    """Optional parameters of one kind named by a pattern over a fixed list of keys, such as
    ``recheck_months_{}`` for each roster class: ``Parameters.recheck_months["tekun"]``."""

    __slots__ = ("members", "pattern")

    def __init__(self, pattern: str, keys: Iterable[str], like: Param[T]) -> None:
        self.pattern = pattern
        self.members: Mapping[str, OptionalParam[T]] = {
            k: optional(like, pattern.format(k)) for k in keys
        }

    def __getitem__(self, key: str) -> OptionalParam[T]:
        return self.members[key]

    def __contains__(self, key: object) -> bool:
        return key in self.members

    def __iter__(self) -> Iterator[OptionalParam[T]]:
        return iter(self.members.values())


class Reader(ABC):
    """Reads typed parameters from entries; subclasses say where the entries come from."""

    @abstractmethod
    def entry(self, name: str) -> Entry:
        """The entry in force for ``name`` (raises when there is none)."""

    @abstractmethod
    def has(self, name: str) -> bool:
        """True when ``name`` has an entry in force."""

    def get(self, param: Param[T]) -> T:
        return param.convert(self.entry(param.name).value)

    def find(self, param: OptionalParam[T]) -> T | None:
        return self.require(param) if self.has(param.name) else None

    def require(self, param: OptionalParam[T]) -> T:
        """An optional parameter the caller knows to be in force (raises where it is not)."""
        return param.convert(self.entry(param.name).value)


def optional(param: Param[T], name: str = "") -> OptionalParam[T]:
    """``param`` made optional: a policy file may leave it out."""
    return OptionalParam(replace(param.spec, required=False), param.convert, name)


def _d(x: int | str | None) -> Decimal | None:
    return None if x is None else Decimal(x)


def fen(minimum: int | None = None) -> Param[int]:
    """Money, integer fen (``value_fen``)."""
    return Param(Spec(Kind.FEN, minimum=_d(minimum)), as_int)


def integer(minimum: int | None = None, maximum: int | None = None) -> Param[int]:
    return Param(Spec(Kind.INT, minimum=_d(minimum), maximum=_d(maximum)), as_int)


def multiplier(minimum: str | None = None, floor_reason: str = "") -> Param[Decimal]:
    """Times a standard: a decimal string ≥ 1 unless ``minimum`` says more."""
    spec = Spec(Kind.MULTIPLIER, minimum=_d(minimum), floor_reason=floor_reason)
    return Param(spec, _as_decimal)


def ratio() -> Param[Decimal]:
    return Param(Spec(Kind.RATIO), _as_decimal)


def percent() -> Param[Decimal]:
    return Param(Spec(Kind.PERCENT), _as_decimal)


def decimal() -> Param[Decimal]:
    """A non-negative decimal string (areas)."""
    return Param(Spec(Kind.DECIMAL), _as_decimal)


def flag() -> Param[bool]:
    return Param(Spec(Kind.BOOL), _as_bool)


def choice(choices: frozenset[str]) -> Param[str]:
    return Param(Spec(Kind.CHOICE, choices=choices), _as_str)


def words(choices: frozenset[str] | None = None) -> Param[tuple[str, ...]]:
    return Param(Spec(Kind.STR_LIST, choices=choices), _as_strs)


def numbers(choices: frozenset[int]) -> Param[tuple[int, ...]]:
    return Param(Spec(Kind.INT_LIST, choices=choices), _as_ints)


def spec_table(table: type[object]) -> dict[str, Spec]:
    """Every parameter ``table`` declares, by name, in the order declared."""
    out: dict[str, Spec] = {}
    for attr in vars(table).values():
        if isinstance(attr, Named):
            out[attr.name] = attr.spec
        elif isinstance(attr, Family):
            out.update((p.name, p.spec) for p in attr)
    return out
