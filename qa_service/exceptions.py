"""Every error the package raises on purpose, in one family.

`QAError` is the base; the API maps each kind to its HTTP status once (api/errors.py), the CLI
prints its message, and domain code never raises an HTTP exception of its own.
"""
from __future__ import annotations


class QAError(Exception):
    """An error whose message is meant for the person who sent the input."""


class NotFound(QAError, LookupError):
    """The named thing (rubric, evaluation, review, job) does not exist."""


class Conflict(QAError):
    """The request contradicts what is stored (a changed text under a stored version)."""


class BadInput(QAError, ValueError):
    """The input cannot be used as sent: the message names the file or field and the problem."""


class Unavailable(QAError):
    """A service the request needs (database, queue) does not answer; retry later."""


class ModelIntegrityError(QAError, RuntimeError):
    """A shipped model file is missing or not the one we ship."""
