"""Property-based: schemathesis feeds every operation in /openapi.json generated and
mutated input, then follows the links between operations from the published request
examples; no answer may be a 5xx or stray from the published schema. Bounded by a fixed
number of examples per operation and a fixed seed, so the run is the same every time
(about a minute here)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.support import ApiProcess, Merchant

EXAMPLES_PER_OPERATION = 10
SEED = 20261121
CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
        "response_headers_conformance",
        "negative_data_rejection",
        "allow_header_conformance",
        "unsupported_method",
        "use_after_free",
        "ensure_resource_availability",
    ]
)


def test_openapi_operations_conform(api: ApiProcess, merchant: Merchant, tmp_path: Path) -> None:
    schemathesis = Path(sys.executable).parent / "schemathesis"
    result = subprocess.run(
        [
            str(schemathesis),
            "run",
            f"{api.url}/openapi.json",
            "--checks",
            CHECKS,
            "--header",
            f"Authorization: Bearer {merchant.api_key}",
            "--max-examples",
            str(EXAMPLES_PER_OPERATION),
            "--seed",
            str(SEED),
            "--report-dir",
            str(tmp_path),
            "--no-color",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-2000:]
