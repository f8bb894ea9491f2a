"""The base of every JSON model the service answers: times stored in UTC and answered in the
call center's zone with its offset, seconds rounded to 0.01, ratios to 0.001.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, PlainSerializer

from qa_service.config import in_call_center_zone

Instant = Annotated[datetime, PlainSerializer(in_call_center_zone, return_type=datetime)]


Seconds = Annotated[float, PlainSerializer(lambda v: round(v, 2), return_type=float)]


Ratio = Annotated[float, PlainSerializer(lambda v: round(v, 3), return_type=float)]


OptionalRatio = Annotated[
    float | None,
    PlainSerializer(lambda v: None if v is None else round(v, 3), return_type=float | None),
]


MAX_ROW_ID = 2**31 - 1  # integer primary keys (PostgreSQL int4): a larger id is a 422, not a 500


class Schema(BaseModel):
    model_config = ConfigDict(from_attributes=True, use_attribute_docstrings=True)
