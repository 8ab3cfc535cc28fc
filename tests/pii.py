"""A scanner for raw personal data in logs, audit bodies and whole databases.

It finds (1) any 18-character resident ID number that is structurally real — a valid
GB 11643 check digit, a real birth date, a known province (``hedui_sdk.resident_id.problems``
is empty) — whether or not the test knows it; (2) every exact ID number the test used,
including malformed ones (a number with a wrong check digit still carries 17 real
digits); (3) every name the test used, raw or JSON-escaped (``\\u6d4b…``).

Findings say where and what, with the value masked: a report of a leak must not be a
leak itself. Sealed columns are AES-GCM ciphertext, so only plaintext leaks are found.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

import zstandard
from sqlalchemy import inspect, text
from sqlalchemy.engine import make_url

from audit.schema import AuditEntryRow
from hedui_sdk.resident_id import problems
from verifier.storage.engine import Database

_ID_TEXT = re.compile(r"(?<![0-9])[0-9]{17}[0-9Xx](?![0-9])")
_ID_BYTES = re.compile(rb"(?<![0-9])[0-9]{17}[0-9Xx](?![0-9])")
# bytea in `pg_dump` COPY text: "\\x" then hex (the backslash itself escaped by COPY).
_PG_BYTEA = re.compile(r"\\\\x([0-9a-fA-F]+)")


def mask(value: str) -> str:
    """IDs as the reports show them (``3703**********123X``); names as ``张*``."""
    if len(value) >= 10:
        return value[:4] + "*" * (len(value) - 8) + value[-4:]
    return value[:1] + "*" * max(len(value) - 1, 1)


@dataclass(frozen=True)
class Finding:
    where: str  # "log line 3", "table verifications row 2 column case_id", "audit seq 5"
    what: str  # "resident ID", "known ID", "name"
    masked: str

    def __str__(self) -> str:
        return f"{self.where}: {self.what} {self.masked}"


class PiiScanner:
    def __init__(
        self, known_ids: Iterable[str] = (), names: Iterable[str] = (), *, today: date | None = None
    ) -> None:
        self.known_ids = sorted({i for i in known_ids if i})
        self.names = sorted({n for n in names if n})
        self.today = today

    # -- values -------------------------------------------------------------------------
    def _real_id(self, candidate: str) -> bool:
        return not problems(candidate.upper(), today=self.today)

    def text(self, value: str, where: str) -> list[Finding]:
        found: dict[tuple[str, str], Finding] = {}
        for m in _ID_TEXT.finditer(value):
            if self._real_id(m.group()):
                found[("id", m.group().upper())] = Finding(where, "resident ID", mask(m.group()))
        for known in self.known_ids:
            if known in value or known.lower() in value:
                found.setdefault(("id", known), Finding(where, "known ID", mask(known)))
        for name in self.names:
            escaped = json.dumps(name)[1:-1]  # the \\uXXXX form JSON renderers write
            if name in value or escaped in value or escaped.lower() in value:
                found[("name", name)] = Finding(where, "name", mask(name))
        return list(found.values())

    def data(self, value: bytes, where: str) -> list[Finding]:
        """Raw bytes: ASCII digit runs are matched on the bytes themselves (not through a
        lossy decode); names and known IDs through a decode that keeps byte positions."""
        found = {
            str(f): f
            for m in _ID_BYTES.finditer(value)
            if self._real_id(m.group().decode())
            for f in [Finding(where, "resident ID", mask(m.group().decode()))]
        }
        for f in self.text(value.decode("utf-8", errors="replace"), where):
            found.setdefault(str(f), f)
        inflated = _inflated(value)
        if inflated is not None:  # a compressed column (report summaries) is read inflated
            for f in self.data(inflated, where + " (inflated)"):
                found.setdefault(str(f), f)
        return list(found.values())

    def value(self, value: Any, where: str) -> list[Finding]:
        if value is None:
            return []
        if isinstance(value, bytes | bytearray | memoryview):
            return self.data(bytes(value), where)
        return self.text(str(value), where)

    def lines(self, output: str, where: str = "log") -> list[Finding]:
        out: list[Finding] = []
        for n, line in enumerate(output.splitlines(), 1):
            out += self.text(line, f"{where} line {n}")
        return out

    # -- stores -------------------------------------------------------------------------
    async def audit(self, db: Database) -> list[Finding]:
        """Every audit body, as stored (the canonical JSON bytes)."""
        async with db.read_sessions() as s:
            rows = await s.execute(text(f"SELECT seq, body FROM {AuditEntryRow.__tablename__}"))
            return [f for seq, body in rows for f in self.value(body, f"audit seq {seq}")]

    async def database(self, db: Database) -> list[Finding]:
        """Every column of every table. PostgreSQL: the data of ``pg_dump`` when it is
        installed (what a backup would hold), else every column read back."""
        if not db.sqlite and shutil.which("pg_dump"):
            return await self._pg_dump(db)
        out: list[Finding] = []
        async with db.read_engine.connect() as conn:
            tables = await conn.run_sync(lambda c: inspect(c).get_table_names())
            for t in sorted(tables):
                result = await conn.execute(text(f'SELECT * FROM "{t}"'))
                cols = list(result.keys())
                for n, row in enumerate(result, 1):
                    for col, v in zip(cols, row, strict=True):
                        out += self.value(v, f"table {t} row {n} column {col}")
        return out

    async def _pg_dump(self, db: Database) -> list[Finding]:
        url = make_url(db.url)
        env = dict(os.environ)
        if url.password:  # through the environment: never on a command line
            env["PGPASSWORD"] = str(url.password)
        uri = url.set(drivername="postgresql", password=None).render_as_string()
        proc = await asyncio.create_subprocess_exec(
            "pg_dump", "--data-only", "--no-owner", "--no-privileges", uri,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env,
        )  # fmt: skip
        dump, errors = await proc.communicate()
        if proc.returncode != 0:
            raise RuntimeError(f"pg_dump failed: {errors.decode(errors='replace')[:500]}")
        out: list[Finding] = []
        table, n = "?", 0
        for line in dump.decode("utf-8", errors="replace").splitlines():
            if line.startswith("COPY "):
                table, n = line.split()[1], 0
                continue
            n += 1
            where = f"pg_dump table {table} row {n}"
            out += self.text(line, where)
            for m in _PG_BYTEA.finditer(line):
                out += self.data(bytes.fromhex(m.group(1)), where + " (bytea)")
        return out


def _inflated(value: bytes) -> bytes | None:
    """``value`` decompressed when it is a zlib stream or a zstd frame, else None (sealed
    values are encrypted as well: they do not decompress)."""
    try:
        if value[:4] == b"\x28\xb5\x2f\xfd":
            return zstandard.decompress(value)
        if len(value) > 2 and value[0] == 0x78 and int.from_bytes(value[:2]) % 31 == 0:
            return zlib.decompress(value)
    except (zlib.error, zstandard.ZstdError):
        return None
    return None


def assert_clean(findings: Iterable[Finding]) -> None:
    listed = [str(f) for f in findings]
    assert not listed, "raw personal data found:\n" + "\n".join(listed[:50])
