"""Shared ground for the mTLS tests: a test PKI (the ``pki`` fixture) with certificates for
the calling system, another principal, and a stranger that is no principal at all.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import SYSTEM
from verifier.cli.certs import PkiLayout, init_pki

OTHER = "case-system-b"  # a principal of tests.helpers.config, regions 3415 only
STRANGER = "not-a-principal"


@pytest.fixture
def pki(tmp_path: Path) -> PkiLayout:
    return init_pki(tmp_path / "pki", systems=(SYSTEM, OTHER, STRANGER)).layout
