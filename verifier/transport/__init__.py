"""Outbound network adapters of the service's ports (webhook HTTP), composed in bootstrap."""
