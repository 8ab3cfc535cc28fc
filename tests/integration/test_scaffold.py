"""``hedui adapter new`` makes a package that installs, registers and passes the kit at once.

The packages are installed into a throwaway virtual environment that sees this project's
environment through a ``.pth`` file, so .venv itself is never changed.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import venv
from dataclasses import dataclass
from pathlib import Path

import pytest

from hedui_sdk import scaffold
from hedui_sdk.contract import SourceKind
from hedui_sdk.testing import SandboxConformance

pytestmark = pytest.mark.slow

# The contract tests a scaffolded package inherits from the kit.
KIT_TESTS = [
    name
    for name in dir(SandboxConformance)
    if name.startswith("test_") and callable(getattr(SandboxConformance, name))
]


@dataclass(frozen=True)
class Env:
    python: Path
    root: Path

    def run(
        self, *args: str, cwd: Path | None = None, extra_env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.python), *args],
            cwd=cwd or self.root,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
            env={
                **os.environ,
                "COLUMNS": "250",
                "PYTHONDONTWRITEBYTECODE": "1",
                **(extra_env or {}),
            },
        )


def hedui(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "verifier.cli.main", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def scaffold_and_edit(root: Path, name: str, source: str, old: str, new: str) -> None:
    """``hedui adapter new NAME`` in ``root``, then one edit to the generated adapter.py."""
    made = hedui("adapter", "new", name, "--source", source, cwd=root)
    assert made.returncode == 0, made.stderr
    adapter_py = root / name / "src" / name.replace("-", "_") / "adapter.py"
    text = adapter_py.read_text(encoding="utf-8")
    assert old in text
    adapter_py.write_text(text.replace(old, new), encoding="utf-8")


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Env:
    """A venv with the generated packages installed: ``acme-tax``, a broken ``leaky-bank``
    and ``keyed-tax``, which needs more settings than the token."""
    root = tmp_path_factory.mktemp("scaffold")
    made = hedui("adapter", "new", "acme-tax", "--dir", str(root / "acme-tax"), cwd=root)
    assert made.returncode == 0, made.stderr
    # An unavailable department becomes "no record".
    scaffold_and_edit(
        root,
        "leaky_bank",
        "bank",
        "        return await self._gateway.query(q)\n",
        "        try:\n"
        "            return await self._gateway.query(q)\n"
        "        except Exception:\n"
        "            from datetime import UTC, datetime\n"
        "            return SourceResult.not_found(datetime.now(UTC))\n",
    )
    # An app key and a branch option besides the token, as real ones need.
    plain = "        self._gateway = GatewayAdapter(SOURCE, NAME, VERSION, settings)\n"
    scaffold_and_edit(
        root,
        "keyed-tax",
        "tax",
        plain,
        "        if not settings.credentials['app_key'].reveal():\n"
        "            raise ValueError('app_key is empty')\n"
        "        self._branch = settings.options['branch']\n" + plain,
    )

    venv.create(root / "venv", system_site_packages=True, with_pip=False)
    python = root / "venv" / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    # addsitedir (not a bare path) so .venv's own .pth files, hedui's editable finder
    # among them, are processed too.
    ours = sysconfig.get_path("purelib")
    (Path(purelib) / "_hedui_dev.pth").write_text(
        f"import site; site.addsitedir({ours!r})\n", encoding="utf-8"
    )
    e = Env(python, root)
    installed = e.run(
        "-m",
        "pip",
        "install",
        "--no-deps",
        "--no-index",
        "--no-build-isolation",
        "--disable-pip-version-check",
        "-q",
        str(root / "acme-tax"),
        str(root / "leaky_bank"),
        str(root / "keyed-tax"),
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr
    return e


def test_the_generated_package_has_the_expected_files(tmp_path: Path) -> None:
    written = scaffold.generate("acme-tax", source="tax", directory=tmp_path / "acme-tax")
    files = {p.relative_to(tmp_path / "acme-tax").as_posix() for p in written}
    on_disk = {
        p.relative_to(tmp_path / "acme-tax").as_posix()
        for p in (tmp_path / "acme-tax").rglob("*")
        if p.is_file()
    }
    assert (
        files
        == on_disk
        == {
            "README.md",
            "pyproject.toml",
            "src/acme_tax/__init__.py",
            "src/acme_tax/adapter.py",
            "src/acme_tax/py.typed",
            "tests/test_conformance.py",
        }
    )
    for path in written:
        assert "{{" not in path.read_text(encoding="utf-8"), path


def test_the_generated_suite_passes_against_the_sandbox(env: Env) -> None:
    done = env.run("-m", "pytest", "-p", "no:cacheprovider", "-q", cwd=env.root / "acme-tax")
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    # Every contract test of the kit, and the scaffold's own example test.
    assert f"{len(KIT_TESTS) + 1} passed" in done.stdout, done.stdout[-2000:]


def test_adapter_list_shows_the_installed_package(env: Env) -> None:
    done = env.run("-m", "verifier.cli.main", "adapter", "list")
    assert "acme-tax" in done.stdout, done.stdout + done.stderr
    assert "hedui-adapter-acme-tax" in done.stdout


def test_adapter_test_passes_an_honest_adapter(env: Env) -> None:
    done = env.run("-m", "verifier.cli.main", "adapter", "test", "acme-tax")
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "source 'tax'" in done.stdout
    assert f"{len(KIT_TESTS)} passed" in done.stdout


def test_adapter_test_fails_a_broken_adapter(env: Env) -> None:
    done = env.run("-m", "verifier.cli.main", "adapter", "test", "leaky_bank")
    assert done.returncode == 1, done.stdout[-4000:] + done.stderr[-2000:]
    assert "source 'bank'" in done.stdout
    assert "FAILED" in done.stdout
    assert "test_unavailable_is_transient" in done.stdout


def test_adapter_test_gives_an_adapter_the_credentials_and_options_it_needs(env: Env) -> None:
    bare = env.run("-m", "verifier.cli.main", "adapter", "test", "keyed-tax")
    assert bare.returncode == 2
    assert "missing setting 'app_key'" in bare.stderr
    done = env.run(
        *("-m", "verifier.cli.main", "adapter", "test", "keyed-tax"),
        *("--credential", "app_key=env:KEYED_TAX_APP_KEY", "--option", "branch=0532"),
        extra_env={"KEYED_TAX_APP_KEY": "k3y-of-the-tax-bureau"},
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert f"{len(KIT_TESTS)} passed" in done.stdout
    # The kit checked the app key never shows; the command itself never prints it.
    assert "k3y-of-the-tax-bureau" not in done.stdout + done.stderr


def test_adapter_test_refuses_a_malformed_credential(env: Env) -> None:
    done = env.run(
        "-m", "verifier.cli.main", "adapter", "test", "acme-tax", "--credential", "app_key"
    )
    assert done.returncode == 2
    assert "--credential takes KEY=VALUE" in done.stderr


def test_adapter_test_refuses_an_unknown_entry_point(env: Env) -> None:
    done = env.run("-m", "verifier.cli.main", "adapter", "test", "no-such-adapter")
    assert done.returncode == 2
    assert "no-such-adapter" in done.stderr


def test_the_project_environment_is_unchanged(env: Env) -> None:
    listed = subprocess.run(
        [
            sys.executable,
            "-c",
            "from importlib.metadata import entry_points;"
            "print(sorted(e.name for e in entry_points(group='hedui.adapters')))",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "tax" in listed
    assert "acme-tax" not in listed
    assert "leaky_bank" not in listed


# -- the generator on its own --------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        *("Acme", "1tax", "acme tax", "acme--tax", "-acme", "json", "adapters", "class", ""),
        # a built-in adapter's name (it would stand in for it), an installed module's
        *("bank", "social_insurance", "aiohttp"),
    ],
)
def test_unusable_names_are_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(scaffold.ScaffoldError):
        scaffold.generate(name, source="tax", directory=tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_an_unknown_source_is_refused(tmp_path: Path) -> None:
    with pytest.raises(scaffold.ScaffoldError, match="unknown source"):
        scaffold.generate("acme", source="weather", directory=tmp_path / "out")


def test_nothing_is_overwritten(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(scaffold.ScaffoldError, match="not an empty directory"):
        scaffold.generate("acme", source="tax", directory=tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]


@pytest.mark.parametrize("source", list(SourceKind), ids=lambda s: s.value)
def test_every_source_renders_to_valid_python(tmp_path: Path, source: SourceKind) -> None:
    files = scaffold.generate("dept-x", source=source, directory=tmp_path / "pkg")
    for path in files:
        if path.suffix == ".py":
            compile(path.read_text(encoding="utf-8"), str(path), "exec")
    adapter_py = (tmp_path / "pkg" / "src" / "dept_x" / "adapter.py").read_text(encoding="utf-8")
    assert f"SOURCE = SourceKind.{source.name}\n" in adapter_py
    assert 'NAME = "dept-x"' in adapter_py


def test_the_cli_refuses_a_bad_name(tmp_path: Path) -> None:
    done = hedui("adapter", "new", "Bad Name", cwd=tmp_path)
    assert done.returncode == 2
    assert "lowercase" in done.stderr
    assert list(tmp_path.iterdir()) == []
