"""The import contracts of pyproject.toml ([tool.importlinter]): the tree keeps them, and
an import that breaks the map fails `lint-imports` (hence `make lint`), naming it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("app", "outbox", "workers", "gatewaysim", "devtools")
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    """`lint-imports` on the packages under ``tree`` (first on the path, so a copy there
    is the one analysed)."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(ROOT / "pyproject.toml"), "--no-cache"],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def copy_of_the_tree(tmp_path: Path) -> Path:
    for package in PACKAGES:
        shutil.copytree(
            ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    return tmp_path


def plant(tree: Path, module: str, line: str) -> None:
    path = tree / module
    path.write_text(path.read_text() + f"\n{line}\n")


def test_the_tree_keeps_every_contract() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "broken"),
    [
        # The core reaching up into an area: the arrow the layers forbid.
        (
            "app/domain/money.py",
            "import app.payments.intents  # noqa",
            "app.domain.money -> app.payments.intents",
        ),
        # One area of a level reaching into another of the same level.
        (
            "app/refunds/service.py",
            "import app.webhooks.deliveries  # noqa",
            "app.refunds.service -> app.webhooks.deliveries",
        ),
        # A lower area reaching up into one that builds on it.
        (
            "app/merchants/service.py",
            "import app.payments.charging  # noqa",
            "app.merchants.service -> app.payments.charging",
        ),
        # Inside an area, a query module importing a use case.
        (
            "app/payments/repository.py",
            "import app.payments.charging  # noqa",
            "app.payments.repository -> app.payments.charging",
        ),
    ],
)
def test_a_planted_violation_fails(tmp_path: Path, module: str, line: str, broken: str) -> None:
    tree = copy_of_the_tree(tmp_path)
    plant(tree, module, line)
    result = lint_imports(tree)
    assert result.returncode == 1, result.stdout + result.stderr
    assert broken in result.stdout
