"""The one JSON encoding PixWave writes on the wire: compact, UTF-8, as given."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, overload


def render_json(body: Any) -> bytes:
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


@overload
def epoch(moment: datetime) -> int: ...
@overload
def epoch(moment: None) -> None: ...
@overload
def epoch(moment: datetime | None) -> int | None: ...


def epoch(moment: datetime | None) -> int | None:
    """Seconds since 1970, as every answer gives times."""
    return None if moment is None else int(moment.timestamp())
