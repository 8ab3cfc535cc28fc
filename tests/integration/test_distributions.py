"""What the two distributions ship, built as wheels the way a user or a container gets them.

A department team installs ``hedui-sdk`` alone, from an index, into an environment of its
own: it must bring no grpc, protobuf, SQLAlchemy or database driver, and a package made by
``hedui adapter new`` must pass its conformance suite there. hedui's own wheel must carry
every package of the source tree (a forgotten subpackage only shows in a container).
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]

# Distributions of the server side that an adapter package must never pull in.
SERVER_DISTRIBUTIONS = {"grpcio", "protobuf", "sqlalchemy", "psycopg", "alembic", "hedui"}


def _run(*args: str, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(args),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
    )


def _wheel(project: Path, out: Path) -> Path:
    built = _run(
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "--no-deps",
        "--no-build-isolation",
        "-q",
        "-w",
        str(out),
        str(project),
        cwd=out,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    (wheel,) = out.glob("*.whl")
    return wheel


def _packages_in_tree(*roots: str) -> set[str]:
    found = set()
    for root in roots:
        for init in (ROOT / root).rglob("__init__.py"):
            if "__pycache__" not in init.parts:
                found.add(".".join(init.parent.relative_to(ROOT).parts))
    return found


def _packages_in_wheel(wheel: Path) -> set[str]:
    with zipfile.ZipFile(wheel) as z:
        return {".".join(Path(n).parent.parts) for n in z.namelist() if n.endswith("/__init__.py")}


def test_the_server_wheel_carries_every_package_of_the_tree(tmp_path: Path) -> None:
    wheel = _wheel(ROOT, tmp_path)
    shipped = _packages_in_wheel(wheel)
    missing = _packages_in_tree("verifier", "audit") - shipped
    assert not missing, f"packages left out of the hedui wheel: {sorted(missing)}"
    assert {"hedui", "hedui.v1"} <= shipped
    # The SDK is its own distribution: hedui's wheel must not ship a second copy of it.
    assert not {p for p in shipped if p.split(".")[0] in {"hedui_sdk", "adapters"}}
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
    assert any(n.startswith("verifier/policy/regions/") and n.endswith(".toml") for n in names)


def test_the_sdk_wheel_carries_every_sdk_package_and_the_scaffold_templates(
    tmp_path: Path,
) -> None:
    wheel = _wheel(ROOT / "adapters", tmp_path)
    shipped = _packages_in_wheel(wheel)
    missing = {p.removeprefix("adapters.") for p in _packages_in_tree("adapters/hedui_sdk")}
    assert missing - shipped == set()
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
        declared = z.read(entry_points).decode()
    assert any(n.startswith("hedui_sdk/scaffold/template/") and n.endswith(".tmpl") for n in names)
    assert "[hedui.adapters]" in declared
    assert "tax = hedui_sdk.builtin.tax:create" in declared


@pytest.fixture(scope="module")
def sdk_only(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A fresh environment holding ``hedui-sdk[testing]`` and a scaffolded adapter package,
    installed from the index the way a department team would: no hedui in it."""
    root = tmp_path_factory.mktemp("sdk-only")
    made = _run(
        sys.executable,
        "-m",
        "verifier.cli.main",
        "adapter",
        "new",
        "county-tax",
        "--source",
        "tax",
        cwd=root,
    )
    assert made.returncode == 0, made.stderr
    venv.create(root / "venv", with_pip=True)
    python = root / "venv" / "bin" / "python"
    installed = _run(
        str(python),
        "-m",
        "pip",
        "install",
        "-q",
        f"{ROOT / 'adapters'}[testing]",
        str(root / "county-tax"),
        cwd=root,
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr
    return python, root / "county-tax"


def test_an_adapter_package_installs_with_the_sdk_alone(sdk_only: tuple[Path, Path]) -> None:
    python, _ = sdk_only
    listed = _run(
        str(python),
        "-c",
        "import importlib.metadata as m; print('\\n'.join(d.metadata['Name'] for d in m.distributions()))",
        cwd=python.parent,
    )
    assert listed.returncode == 0, listed.stderr
    names = {line.strip().lower() for line in listed.stdout.splitlines() if line.strip()}
    assert {"hedui-sdk", "hedui-adapter-county-tax"} <= names
    assert names & SERVER_DISTRIBUTIONS == set()
    imports = _run(
        str(python),
        "-c",
        "import importlib.util as u\n"
        "for m in ('grpc', 'sqlalchemy', 'psycopg', 'verifier', 'hedui', 'google'):\n"
        "    assert u.find_spec(m) is None, m\n"
        "import hedui_sdk, hedui_sdk.testing, county_tax.adapter\n"
        "print(county_tax.adapter.create.__module__)\n",
        cwd=python.parent,
    )
    assert imports.returncode == 0, imports.stderr
    assert imports.stdout.strip() == "county_tax.adapter"


def test_the_scaffolded_suite_passes_with_the_sdk_alone(sdk_only: tuple[Path, Path]) -> None:
    python, package = sdk_only
    ran = _run(str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", cwd=package)
    assert ran.returncode == 0, ran.stdout[-4000:] + ran.stderr[-2000:]
    assert " passed" in ran.stdout
    assert " failed" not in ran.stdout
