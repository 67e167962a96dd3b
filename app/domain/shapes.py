"""What every request shape is made of: strict models and text PostgreSQL can hold."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints

# PostgreSQL text cannot hold NUL, so it is refused here rather than failing the insert.
Text = Annotated[str, StringConstraints(strict=True, pattern=r"^[^\x00]*$")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")
