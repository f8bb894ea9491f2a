"""Speech-analytics QA for outbound telemarketing calls (Mandarin).

The stages, one sub-package each: audio -> transcript (`asr`) -> utterances -> checks -> score
(`rules`) -> store (`storage`) -> reviews and metrics (`review`, `metrics`) -> use cases (`app`)
-> workers (`worker`) and HTTP (`api`).

The front door is loaded lazily, so that `import qa_service.api` never loads the recognizer.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from qa_service.app.scoring import QAService
    from qa_service.domain.results import CallResult
    from qa_service.rules.rubric import load_rubric
    from qa_service.rules.scoring import Scorer

__all__ = ["QAService", "load_rubric", "Scorer", "CallResult"]
__version__ = "0.1.0"

_FRONT_DOOR = {
    "QAService": "qa_service.app.scoring",
    "load_rubric": "qa_service.rules.rubric",
    "Scorer": "qa_service.rules.scoring",
    "CallResult": "qa_service.domain.results",
}


def __getattr__(name: str) -> Any:
    if name in _FRONT_DOOR:
        return getattr(import_module(_FRONT_DOOR[name]), name)
    raise AttributeError(f"module 'qa_service' has no attribute {name!r}")
