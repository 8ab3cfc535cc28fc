"""``BaseAdapter``: the :class:`~hedui_sdk.contract.Adapter` contract with its optional parts
filled in, so that an adapter for a source that answers at once is one method long."""

from __future__ import annotations

import abc

from hedui_sdk.contract import SourceKind, SourceQuery, SourceResult
from hedui_sdk.errors import PermanentSourceError
from hedui_sdk.registry import check_adapter

__all__ = ["BaseAdapter"]


class BaseAdapter(abc.ABC):
    """Subclass this, set ``name``, ``version`` and ``source``, and write :meth:`query`.

    ::

        class TaxAdapter(BaseAdapter):
            name = "tax-gateway"
            version = "1.2.0"
            source = SourceKind.TAX

            async def query(self, q: SourceQuery) -> SourceResult:
                ...

    What it gives you:

    * :meth:`poll` refuses every ticket with :class:`~hedui_sdk.errors.PermanentSourceError`.
      That is the right answer for a source that never answers PENDING: a ticket it did
      not issue is not an answer about anyone, and must never become "no record".
      Override it when your department answers later (banks do).
    * :meth:`aclose` does nothing. Override it to close your HTTP session or pool.

    A concrete subclass that forgets ``name``, ``version`` or ``source`` is refused when
    the class is defined, not on the first check.
    """

    name: str
    """Unique adapter name recorded in every report, e.g. ``"tax-gateway"``."""
    version: str
    """The adapter's own version, recorded in every report: bump it with every change."""
    source: SourceKind
    """The source this adapter answers for."""

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        # ABCMeta computes __abstractmethods__ only after this hook runs, so ask the
        # method itself: a class that still leaves query abstract is a further base.
        if getattr(cls.query, "__isabstractmethod__", False):
            return
        problem = check_adapter(cls)
        if problem:
            raise TypeError(f"adapter class {cls.__qualname__}: {problem}")

    @abc.abstractmethod
    async def query(self, q: SourceQuery) -> SourceResult:
        """Ask the source about ``q.subject``; see :class:`~hedui_sdk.contract.Adapter`."""

    async def poll(self, ticket: str) -> SourceResult:
        """Refuse the ticket: this source answers at once and issues none."""
        raise PermanentSourceError(f"{self.name} answers at once and issues no tickets")

    async def aclose(self) -> None:  # noqa: B027 - optional on purpose: most sources hold nothing
        """Nothing to release."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, source={self.source.value})"
