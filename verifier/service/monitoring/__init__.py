"""Monitoring (监测预警): changes between checks, alerts, imported warnings, the outreach
ledger. See docs/alerts.md."""
