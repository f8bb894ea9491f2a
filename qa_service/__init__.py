"""Speech-analytics QA for outbound telemarketing calls (Mandarin).

The pipeline reads: audio -> transcript -> utterances -> checks -> score -> store.
"""
from qa_service.results import CallResult, Evidence, Finding, Highlight, Utterance

__all__ = ["CallResult", "Evidence", "Finding", "Highlight", "Utterance"]
__version__ = "0.1.0"
