"""Keep run journals and failure files of every test (and its subprocesses) out of the real
user state folder: platformdirs honours XDG_STATE_HOME, which the suite's INSTANTLY_* cleanup
leaves alone and subprocesses inherit. (MERGE: fold into tests/conftest.py's ``isolated``
fixture as ``INSTANTLY_STATE_DIR``.)"""

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _state_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg-state"))
