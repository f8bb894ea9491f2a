"""A rubric's fields by the names people read: 版本对比 shows a changed field by its label,
the YAML key only as a hint. Every field of a rule model and of the scoring settings has one
(tests/unit/test_rubric_fields.py); a key without one shows as itself."""

from __future__ import annotations

from qa_service.i18n import _

FIELD_LABELS = {
    "id": "rule id (field)",
    "name": "rule name (field)",
    "any": "any of these phrases",
    "all": "all of these phrases",
    "regex": "patterns (regular expressions)",
    "unless": "exceptions (phrases)",
    "role": "who says it",
    "fuzzy": "fuzzy match threshold",
    "similar": "similar-meaning phrases",
    "similar_threshold": "meaning similarity threshold",
    "kind": "section kind",
    "within_first": "within the first utterances",
    "within_last": "within the last utterances",
    "weight": "points (weight)",
    "severity": "severity (field)",
    "deduct": "points deducted",
    "check": "built-in check",
    "hold_seconds": "longest hold (seconds)",
    "hold_phrases": "hold phrases",
    "reason_phrases": "phrases giving the reason",
    "transfer_phrases": "transfer phrases",
    "transfer_reasons": "transfer reason phrases",
    "farewell": "farewell phrases",
    "customer_says": "what the customer says",
    "agent_should": "what the agent should answer",
    "within_turns": "answer within turns",
    "customer_says_similar": "customer's similar-meaning phrases",
    "agent_should_similar": "agent's similar-meaning answers",
    "success": "success phrases",
    "refusal": "refusal phrases",
    "success_similar": "similar-meaning success phrases",
    "refusal_similar": "similar-meaning refusal phrases",
    "agent_success": "agent's acknowledgements of a sale",
    "agent_refusal": "agent's acknowledgements of a refusal",
    "agent_turns": "agent acknowledgement turns",
    "max_gap_seconds": "longest silence (seconds)",
    "max_deduct": "most points deducted",
    "with_attitude_error": "also an attitude error",
    "min_overlap_seconds": "shortest talk-over (seconds)",
    "max_count": "talk-overs allowed",
    "max_chars_per_minute": "fastest speech rate (characters a minute)",
    "min_chars_per_minute": "slowest speech rate (characters a minute)",
    "total": "total score",
    "pass_score": "pass mark",
    "excellent_score": "excellent mark",
    "hotwords": "recognition hot words",
    "script_phrases": "script phrases as hot words",
}


def field_label(key: str) -> str:
    """A rubric field's label in the service's language; the key itself where it has none."""
    return _(FIELD_LABELS[key]) if key in FIELD_LABELS else key
