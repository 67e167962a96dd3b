"""Bad configuration refuses to start and says which variable is wrong."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"PIXWAVE_DOCUMENT_KEY": "c2hvcnQ="}, "PIXWAVE_DOCUMENT_KEY"),
        ({"PIXWAVE_API_PORT": "0"}, "PIXWAVE_API_PORT"),
        ({"PIXWAVE_DATABASE_URL": "mysql://localhost/x"}, "PIXWAVE_DATABASE_URL"),
        ({"PIXWAVE_REDIS_URL": ""}, "PIXWAVE_REDIS_URL"),
    ],
)
def test_api_refuses_bad_configuration(
    service_env: dict[str, str], overrides: dict[str, str], named: str
) -> None:
    env = {**os.environ, **overrides}
    if overrides.get("PIXWAVE_REDIS_URL") == "":
        del env["PIXWAVE_REDIS_URL"]
    result = subprocess.run(
        [sys.executable, "-m", "app.cli", "api"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd="/",
    )
    assert result.returncode == 2
    assert named in result.stderr
