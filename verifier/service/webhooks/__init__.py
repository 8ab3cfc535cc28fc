"""Webhooks: the outbox written in each event's transaction, delivered by a leased
worker to every subscriber, signed as the Standard Webhooks specification says.

- :mod:`.subscribers` — a configured subscriber (URL, event types, secrets);
- :mod:`.transport` — one HTTP POST and what came back (aiohttp);
- :mod:`.delivery` — the worker: dispatch, lease, send, record, retry;
- :mod:`.admin` — what ``hedui webhooks list|test|replay|enable`` does;
- :mod:`.hooks` — the events the use cases add to their unit of work.
"""
