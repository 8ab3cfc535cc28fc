"""The registry refuses an entry-point name two distributions claim, and says why."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import pytest

from hedui_sdk import Secret
from hedui_sdk.contract import AdapterSettings
from hedui_sdk.registry import AdapterLoadError, clashes, describe, load

SETTINGS = AdapterSettings(
    base_url="http://127.0.0.1:9/bank", credentials={"token": Secret("t")}, timeout=1.0
)


@pytest.fixture
def impostor(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An installed distribution that registers ``bank``, as hedui's built-in does."""
    info = tmp_path / "impostor_bank-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: impostor-bank\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[hedui.adapters]\nbank = impostor_bank:create\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()


def test_no_name_is_claimed_twice_by_hedui_itself() -> None:
    assert clashes() == {}


@pytest.mark.usefixtures("impostor")
def test_a_name_claimed_twice_is_refused_naming_both_distributions() -> None:
    # The built-ins are registered by the SDK distribution, where their modules live.
    assert clashes()["bank"] == ["hedui-sdk", "impostor-bank"]
    with pytest.raises(AdapterLoadError, match=r"bank: registered by more than one") as caught:
        load({"bank": SETTINGS})
    assert "impostor-bank" in str(caught.value)


@pytest.mark.usefixtures("impostor")
async def test_adapter_list_shows_the_clash() -> None:
    [row] = [r for r in await describe({"bank": SETTINGS}) if r.entry_point == "bank"]
    assert (row.status, row.reason.split(" (")[0]) == (
        "refused",
        "registered by more than one distribution",
    )


def test_a_missing_setting_is_named_but_no_other_message_is_repeated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "needs_key.py").write_text(
        "def create(settings):\n    settings.credentials['app_key']\n"
        "def create_leaky(settings):\n    raise ValueError('token=' + settings.credentials['token'].reveal())\n"
    )
    info = tmp_path / "needs_key-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: needs-key\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[hedui.adapters]\nneeds-key = needs_key:create\nleaky = needs_key:create_leaky\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    with pytest.raises(AdapterLoadError) as caught:
        load({"needs-key": SETTINGS})
    assert "missing setting 'app_key'" in str(caught.value)
    with pytest.raises(AdapterLoadError) as caught:
        load({"leaky": SETTINGS})
    assert str(caught.value) == "leaky: could not be created: ValueError"
