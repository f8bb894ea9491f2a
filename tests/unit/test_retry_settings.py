"""Retries of transient failures: their backoff is a setting (QA_RETRY_INTERVALS), and a job
whose retry is booked for later reads `scheduled`, not `queued`."""

import pytest
from pydantic import ValidationError

from qa_service.app.dispatch import RQ_STATES, retry_policy
from qa_service.config import RETRY_INTERVALS_S, RETRY_MAX, Settings
from qa_service.domain.enums import JobState


def test_retry_intervals_default_and_from_the_environment(monkeypatch):
    monkeypatch.delenv("QA_RETRY_INTERVALS", raising=False)
    assert Settings().retry_intervals == RETRY_INTERVALS_S == (10, 60, 300)
    monkeypatch.setenv("QA_RETRY_INTERVALS", "5, 30")
    settings = Settings()
    assert settings.retry_intervals == (5, 30)
    retry = retry_policy(settings)
    assert retry.max == RETRY_MAX and retry.intervals == [5, 30]


@pytest.mark.parametrize(
    "value, says",
    [("soon", "not a list of whole seconds"), ("0,60", "1 second or more"), ("", "at least one")],
)
def test_bad_retry_intervals_are_named(monkeypatch, value, says):
    monkeypatch.setenv("QA_RETRY_INTERVALS", value)
    with pytest.raises(ValidationError) as caught:
        Settings()
    assert "QA_RETRY_INTERVALS" in str(caught.value) and says in str(caught.value)


def test_a_booked_retry_reads_scheduled():
    assert RQ_STATES["scheduled"] == JobState.SCHEDULED == "scheduled"
    assert RQ_STATES["queued"] == JobState.QUEUED
