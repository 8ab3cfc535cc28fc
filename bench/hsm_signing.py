"""What holding the signing key in an HSM costs: one report signature by an Ed25519 key
in a SoftHSM2 token (PKCS#11, CKM_EDDSA) next to the same signature by the file key,
measured in the same run, interleaved; and what a key backup and a restore take at the
format's scrypt cost.

    .venv/bin/python -m bench.hsm_signing [--signatures 2000] [--report-kb 40]

Needs SoftHSM2 (``.ci/system-packages.sh`` installs it); the token is made in a temporary
directory and removed afterwards.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bench.common import median, percentile
from verifier.signing.dsse import REPORT_PAYLOAD_TYPE, pae
from verifier.signing.key_backup import (
    BackupContents,
    open_backup,
    read_key_directory,
    seal_backup,
)
from verifier.signing.keystore import KeyStore
from verifier.signing.pkcs11_keys import Pkcs11Settings, Pkcs11Token

MODULES = ("/usr/lib/softhsm/libsofthsm2.so", "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so")


def token(directory: Path) -> Pkcs11Token:
    """A fresh SoftHSM2 token in ``directory`` (SOFTHSM2_CONF is set before the module
    loads)."""
    module = next(p for p in MODULES if Path(p).exists())
    (directory / "tokens").mkdir()
    conf = directory / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {directory / 'tokens'}\nlog.level = ERROR\n")
    os.environ["SOFTHSM2_CONF"] = str(conf)
    pin = secrets.token_hex(8)
    subprocess.run(
        ["softhsm2-util", "--init-token", "--free", "--label", "bench", "--pin", pin,
         "--so-pin", secrets.token_hex(8)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return Pkcs11Token(Pkcs11Settings(module, "bench", pin))


def timed_us(fn: Callable[[bytes], bytes], message: bytes) -> float:
    t0 = time.perf_counter()
    fn(message)
    return (time.perf_counter() - t0) * 1e6


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--signatures", type=int, default=2000)
    ap.add_argument("--report-kb", type=int, default=40, help="payload size of one report")
    args = ap.parse_args()
    if shutil.which("softhsm2-util") is None:
        print("SoftHSM2 is not installed (.ci/system-packages.sh installs it)")
        return 1
    directory = Path(tempfile.mkdtemp(prefix="hedui-bench-hsm-"))
    try:
        hsm_token = token(directory)
        hsm_token.generate("signing")
        held = hsm_token.key("signing")
        on_file = Ed25519PrivateKey.generate()
        message = pae(REPORT_PAYLOAD_TYPE, secrets.token_bytes(args.report_kb * 1024))
        for key in (held, on_file):  # warm-up
            key.sign(message)
        hsm_us: list[float] = []
        file_us: list[float] = []
        for _ in range(args.signatures):  # interleaved: both see the same machine load
            hsm_us.append(timed_us(held.sign, message))
            file_us.append(timed_us(on_file.sign, message))
        hsm_token.close()

        KeyStore(directory / "keys").ensure()
        files = read_key_directory(directory / "keys")
        t0 = time.perf_counter()
        data = seal_backup(BackupContents(files), "bench passphrase, long enough")
        t1 = time.perf_counter()
        open_backup(data, "bench passphrase, long enough")
        t2 = time.perf_counter()
    finally:
        shutil.rmtree(directory, ignore_errors=True)

    print(f"one report signature ({args.report_kb} KB payload), {args.signatures} each:")
    for name, values in (("file key", file_us), ("SoftHSM2 (PKCS#11)", hsm_us)):
        print(
            f"  {name:<20} median {median(values):7.1f} µs   p99 {percentile(values, 99):7.1f} µs"
        )
    print(f"  ratio HSM / file: median {median(hsm_us) / median(file_us):.2f}×")
    print(
        f"key backup of {len(files)} files (scrypt N=2^17, r=8, p=1): seal {t1 - t0:.2f} s, "
        f"open {t2 - t1:.2f} s, {len(data)} bytes"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
