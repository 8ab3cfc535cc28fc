"""``hedui sandbox``: stand-in department systems serving a synthetic population.

* :func:`generate_population` — the deterministic population (same seed, same bytes).
* :func:`start_sandbox` / :func:`run_sandbox` — every department over HTTP, speaking the
  department gateway protocol v1 (docs/gateway-protocol.md), with fault knobs.
"""

from adapters.sandbox.counties import SEED_COUNTIES, County
from adapters.sandbox.faults import DEFAULT_BANK_DELAY_S, SourceFaults, default_faults
from adapters.sandbox.people import Household, Mismatch, Person, Profile, Relation
from adapters.sandbox.population import REFERENCE_DATE, Population, generate_population
from adapters.sandbox.server import (
    DEFAULT_PORT,
    DEFAULT_SEED,
    SandboxHandle,
    current_as_of,
    describe,
    run_sandbox,
    start_sandbox,
)

__all__ = [
    "DEFAULT_BANK_DELAY_S",
    "DEFAULT_PORT",
    "DEFAULT_SEED",
    "REFERENCE_DATE",
    "SEED_COUNTIES",
    "County",
    "Household",
    "Mismatch",
    "Person",
    "Population",
    "Profile",
    "Relation",
    "SandboxHandle",
    "SourceFaults",
    "current_as_of",
    "default_faults",
    "describe",
    "generate_population",
    "run_sandbox",
    "start_sandbox",
]
