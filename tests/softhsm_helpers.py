"""A private SoftHSM2 token for the PKCS#11 tests, in a temporary directory.

SoftHSM2 reads ``SOFTHSM2_CONF`` when its module is initialised, and a process loads a
PKCS#11 module once; so one token directory serves the whole test run, made before the
module is first used, and each test makes its own keys under labels of its own. A missing
SoftHSM2 skips these tests locally and fails them under ``CI=true``
(``.ci/system-packages.sh`` installs it).
"""

from __future__ import annotations

import atexit
import functools
import os
import secrets
import shutil
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from hedui_sdk import SourceKind
from tests.conftest import IN_CI
from tests.fakes import FakeAdapter
from tests.helpers import APPLICANT_ID, CALLER, household_draft, make_app, soon
from tests.served import ServedStack
from verifier.config import Pkcs11Config

# Where Debian's softhsm2 package puts the module (the second path is its multiarch one).
MODULE_PATHS = (
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
)
TOKEN_LABEL = "hedui-test"
PIN_VARIABLE = "HEDUI_TEST_HSM_PIN"


@dataclass(frozen=True)
class SoftHsm:
    module: str
    token_label: str
    pin: str

    def config(self, *, audit: bool = True) -> Pkcs11Config:
        """``[keys.pkcs11]`` for fresh key labels in the token (the PIN by ``env:``)."""
        tag = uuid.uuid4().hex[:12]
        return Pkcs11Config(
            module=self.module,
            token_label=self.token_label,
            pin=f"env:{PIN_VARIABLE}",
            signing_key_label=f"sign-{tag}",
            audit_key_label=f"audit-{tag}" if audit else None,
        )


@functools.cache
def _token() -> SoftHsm | str:
    """The token, or why there is none."""
    util = shutil.which("softhsm2-util")
    module = next((p for p in MODULE_PATHS if Path(p).exists()), None)
    if util is None or module is None:
        return "SoftHSM2 is not installed (softhsm2-util and libsofthsm2.so)"
    directory = Path(tempfile.mkdtemp(prefix="hedui-softhsm-"))
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    (directory / "tokens").mkdir()
    conf = directory / "softhsm2.conf"
    conf.write_text(
        f"directories.tokendir = {directory / 'tokens'}\nobjectstore.backend = file\n"
        "log.level = ERROR\n"
    )
    os.environ["SOFTHSM2_CONF"] = str(conf)
    pin = secrets.token_hex(8)
    subprocess.run(
        [util, "--init-token", "--free", "--label", TOKEN_LABEL, "--pin", pin,
         "--so-pin", secrets.token_hex(8)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return SoftHsm(module, TOKEN_LABEL, pin)


@pytest.fixture
def softhsm(monkeypatch: pytest.MonkeyPatch) -> SoftHsm:
    """The test run's SoftHSM2 token, its PIN in ``HEDUI_TEST_HSM_PIN``."""
    token = _token()
    if isinstance(token, str):
        if IN_CI:
            pytest.fail(f"{token}: required under CI=true")
        pytest.skip(f"{token} (set CI=true to make this a failure)")
    monkeypatch.setenv(PIN_VARIABLE, token.pin)
    return token


def config_file(path: Path, database_url: str, keys_dir: Path, hsm: Pkcs11Config) -> Path:
    """A configuration file naming the token (TOML; the PIN by reference)."""
    audit = f'audit_key_label = "{hsm.audit_key_label}"\n' if hsm.audit_key_label else ""
    path.write_text(
        f'[database]\nurl = "{database_url}"\n[keys]\ndir = "{keys_dir}"\n'
        f'[keys.pkcs11]\nmodule = "{hsm.module}"\ntoken_label = "{hsm.token_label}"\n'
        f'pin = "{hsm.pin}"\nsigning_key_label = "{hsm.signing_key_label}"\n{audit}'
    )
    return path


async def served_report(database_url: str, keys_dir: Path, hsm: Pkcs11Config) -> tuple[bytes, str]:
    """A check through a real gRPC server signing with ``hsm``: the report's envelope and
    the JWKS the server serves."""
    adapters = {SourceKind.TAX: FakeAdapter(SourceKind.TAX, income_fen={APPLICANT_ID: 98_000})}
    stack = await ServedStack.serve(await make_app(database_url, keys_dir, adapters, pkcs11=hsm))
    try:
        view = await stack.app.service.create(
            CALLER, household_draft(), wait=True, wait_until=soon()
        )
        async with stack.client() as client:
            report = await client.report(view.record.id)
            return report.envelope, await client.jwks()
    finally:
        await stack.close()
