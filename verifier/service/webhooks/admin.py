"""What an operator does with webhooks (``hedui webhooks …``): see each subscriber's
deliveries, send a signed test event now, deliver events again, enable a subscriber a
410 disabled. Each action is an audit entry (``webhook_admin``); reading the list is
not personal data and is not audited."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from audit.entry import Actor, EntryDraft
from verifier.domain.caller import Caller
from verifier.domain.errors import FieldViolation, InvalidArgument, NotFound, PermissionDenied
from verifier.domain.ports import AttemptView, Store, SubscriberState, UnitOfWork
from verifier.domain.vocabulary import AuditAction, Role
from verifier.domain.webhooks import EVENT_ID, webhook_test
from verifier.service.webhooks.delivery import WebhookDelivery
from verifier.service.webhooks.subscribers import Subscriber
from verifier.service.webhooks.transport import Answer


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class SubscriberView:
    """A configured subscriber and its delivery state (no URL or secret)."""

    subscriber: Subscriber
    state: SubscriberState


@dataclass(frozen=True, slots=True)
class TestResult:
    event_id: str
    answer: Answer
    acknowledged: bool


class WebhookAdmin:
    def __init__(
        self,
        store: Store,
        delivery: WebhookDelivery,
        *,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self._store = store
        self._delivery = delivery
        self._clock = clock

    @staticmethod
    def _require_admin(caller: Caller) -> None:
        if caller.role != Role.ADMIN:
            raise PermissionDenied("ROLE_NOT_ALLOWED", "only admins operate webhooks")

    def _named(self, name: str, field: str) -> Subscriber:
        sub = self._delivery.subscribers.get(name)
        if sub is None:
            raise NotFound(f"{field}: no subscriber of that name is configured")
        return sub

    async def subscribers(self) -> list[SubscriberView]:
        subs = list(self._delivery.subscribers.values())
        async with self._store.unit_of_work(write=False) as uow:
            states = await uow.deliveries.states([s.name for s in subs])
        return [SubscriberView(s, st) for s, st in zip(subs, states, strict=True)]

    async def attempts(self, *, subscriber: str = "", limit: int = 20) -> list[AttemptView]:
        if not 1 <= limit <= 1000:
            raise InvalidArgument([FieldViolation("limit", "must be between 1 and 1000")])
        if subscriber:
            self._named(subscriber, "subscriber")
        async with self._store.unit_of_work(write=False) as uow:
            return await uow.deliveries.attempts(subscriber=subscriber, limit=limit)

    async def test(self, caller: Caller, name: str) -> TestResult:
        """Send a signed ``webhook.test`` event to ``name`` now (not through the outbox:
        nothing is retried), and tell what came back."""
        self._require_admin(caller)
        sub = self._named(name, "name")
        event = webhook_test(subscriber=name, at=self._clock(), nonce=uuid.uuid4().hex)
        await self._audit(caller, "test", {"subscriber": name, "event_id": event.id})
        answer = await self._delivery.send(sub, event.id, event.payload())
        return TestResult(
            event.id, answer, answer.status is not None and 200 <= answer.status < 300
        )

    async def replay(
        self, caller: Caller, *, since: datetime, subscriber: str = "", event_id: str = ""
    ) -> int:
        """Queue again the events since ``since`` (one, with ``event_id``) for every
        subscriber of their type, or only ``subscriber``; the same webhook-ids go out."""
        self._require_admin(caller)
        bad: list[FieldViolation] = []
        if since.tzinfo is None:
            bad.append(FieldViolation("since", "must carry a time zone (e.g. Z or +08:00)"))
        if event_id:
            EVENT_ID.check(event_id, "event", bad)
        if bad:
            raise InvalidArgument(bad)
        subs = (
            [self._named(subscriber, "subscriber")]
            if subscriber
            else list(self._delivery.subscribers.values())
        )
        now = self._clock()

        async def work(uow: UnitOfWork) -> int:
            if event_id and await uow.outbox.get(event_id) is None:
                raise NotFound("event: the outbox holds no event with that id")
            queued = await uow.deliveries.replay(
                [s.subscription() for s in subs], since=since, now=now, event_id=event_id
            )
            details: dict[str, object] = {
                "since": since.astimezone(UTC).isoformat(),
                "subscribers": [s.name for s in subs],
                "queued": queued,
            }
            if event_id:
                details["event_id"] = event_id
            await uow.audit.append([self._draft(caller, "replay", details)])
            return queued

        return await self._store.write(work)

    async def enable(self, caller: Caller, name: str) -> bool:
        """Deliver to ``name`` again after a 410 disabled it. False if it was not disabled."""
        self._require_admin(caller)
        self._named(name, "name")

        async def work(uow: UnitOfWork) -> bool:
            done = await uow.deliveries.enable(name)
            await uow.audit.append(
                [self._draft(caller, "enable", {"subscriber": name, "was_disabled": done})]
            )
            return done

        return await self._store.write(work)

    async def _audit(self, caller: Caller, operation: str, details: dict[str, object]) -> None:
        async def work(uow: UnitOfWork) -> None:
            await uow.audit.append([self._draft(caller, operation, details)])

        await self._store.write(work)

    @staticmethod
    def _draft(caller: Caller, operation: str, details: dict[str, object]) -> EntryDraft:
        return EntryDraft(
            actor=Actor(caller.system, caller.user, caller.role, caller.region_label()),
            action=AuditAction.WEBHOOK_ADMIN.value,
            outcome="ok",
            details={"operation": operation, **details},
        )
