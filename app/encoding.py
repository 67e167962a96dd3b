"""The one JSON encoding PixWave writes on the wire: compact, UTF-8, as given."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any


def render_json(body: Any) -> bytes:
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


def epoch(moment: datetime | None) -> int | None:
    return None if moment is None else int(moment.timestamp())
