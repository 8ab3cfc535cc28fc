"""What the SM2 signature beside Ed25519 costs per report: signing and verifying one
report's PAE bytes with the Ed25519 key and with the SM2 key (OpenSSL's libcrypto, SM3,
default distinguishing ID), interleaved in the same run, and sealing one report with
SM4-GCM next to AES-256-GCM.

    .venv/bin/python -m bench.sm2_signing [--rounds 2000] [--report-kb 40]

Prints medians in microseconds and the ratios SM2 / Ed25519 and SM4-GCM / AES-256-GCM.
"""

from __future__ import annotations

import argparse
import os
import secrets
import time
from collections.abc import Callable

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bench.common import median
from verifier.signing.dsse import REPORT_PAYLOAD_TYPE, pae
from verifier.signing.sm2 import Sm2PrivateKey, available
from verifier.storage.sealing import Sealer


def timed_us(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return (time.perf_counter() - t0) * 1e6


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=2000)
    ap.add_argument("--report-kb", type=int, default=40, help="payload size of one report")
    args = ap.parse_args()
    if not available():
        print("the system's libcrypto has no SM2 (OpenSSL 3 is needed)")
        return 1
    ed, sm = Ed25519PrivateKey.generate(), Sm2PrivateKey.generate()
    message = pae(REPORT_PAYLOAD_TYPE, secrets.token_bytes(args.report_kb * 1024))
    ed_sig, sm_sig = ed.sign(message), sm.sign(message)
    ed_pub, sm_pub = ed.public_key(), sm.public_key()
    # A report is JSON: compressible, unlike random bytes.
    report = (b'{"category":"wages","amount_fen":360000,"period":"2025-01"},' * 700)[
        : args.report_kb * 1024
    ]
    key = {"k": os.urandom(32)}
    aes, sm4 = Sealer("k", key), Sealer("k", key, "sm4-gcm")
    work: dict[str, Callable[[], object]] = {
        "ed25519 sign": lambda: ed.sign(message),
        "sm2 sign": lambda: sm.sign(message),
        "ed25519 verify": lambda: ed_pub.verify(ed_sig, message),
        "sm2 verify": lambda: sm_pub.verify(sm_sig, message),
        "aes-256-gcm seal": lambda: aes.seal(report, "reports/v/1"),
        "sm4-gcm seal": lambda: sm4.seal(report, "reports/v/1"),
    }
    times: dict[str, list[float]] = {name: [] for name in work}
    for fn in work.values():  # warm-up
        fn()
    for _ in range(args.rounds):
        for name, fn in work.items():
            times[name].append(timed_us(fn))
    med = {name: median(t) for name, t in times.items()}
    print(f"{args.rounds} rounds, report payload {args.report_kb} KiB, interleaved")
    for name, value in med.items():
        print(f"  {name:<18} median {value:9.1f} µs")
    print(f"  sm2/ed25519 sign   ratio {med['sm2 sign'] / med['ed25519 sign']:.2f}")
    print(f"  sm2/ed25519 verify ratio {med['sm2 verify'] / med['ed25519 verify']:.2f}")
    print(f"  both keys sign     {med['sm2 sign'] + med['ed25519 sign']:.1f} µs per report")
    print(f"  sm4/aes seal       ratio {med['sm4-gcm seal'] / med['aes-256-gcm seal']:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
