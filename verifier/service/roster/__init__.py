"""The recipient roster (动态管理): import, listing and removal of the households a
region supports, their re-check schedule, and the scheduler that re-checks them. See
docs/roster.md."""
