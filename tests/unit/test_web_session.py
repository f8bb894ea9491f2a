"""The web session's CSRF token survives the masking of the page that carries it."""

from __future__ import annotations

import secrets

from qa_service.api.web.session import csrf_token
from qa_service.domain.masking import mask


def test_csrf_tokens_hold_no_digit_the_masking_could_take_for_a_number():
    """A hex token has a run of 11 digits starting with 0 (a landline's shape) now and then:
    masked on a viewer's page, the sign-out and every write of that session were refused."""
    secret = secrets.token_bytes(32)
    for _ in range(2000):
        token = csrf_token(secret, secrets.token_urlsafe(16))
        assert len(token) == 64 and not any(ch.isdigit() for ch in token)
        assert mask(token) == token


def test_the_token_is_the_nonce_s_alone():
    secret = secrets.token_bytes(32)
    assert csrf_token(secret, "a") == csrf_token(secret, "a") != csrf_token(secret, "b")
    assert csrf_token(secret, "a") != csrf_token(secrets.token_bytes(32), "a")
