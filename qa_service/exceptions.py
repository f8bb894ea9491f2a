"""Every error the package raises on purpose, in one family.

`QAError` is the base; the API maps each kind to its HTTP status once (api/errors.py), the CLI
prints its message, and domain code never raises an HTTP exception of its own.
"""

from __future__ import annotations

from collections.abc import Callable

# The message catalog (qa_service.i18n, a stage above) puts its lookup here when it is imported,
# so the few sentences written here read in the service's language too.
_lookup: Callable[[str], str] = str


def use_catalog(lookup: Callable[[str], str]) -> None:
    global _lookup
    _lookup = lookup


def _(msgid: str) -> str:
    return _lookup(msgid)


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


class Unauthorized(QAError):
    """The request carries no API key, or one that is unknown or revoked."""


class Forbidden(QAError):
    """The caller is known but may not do this (its role, a path outside the import roots, a
    browser write without the session's CSRF token)."""


class TooManyRequests(QAError):
    """Too many failed attempts from one client (wrong API keys): refused until `retry_after`
    seconds have passed."""

    def __init__(self, message: str, retry_after: int):
        super().__init__(message)
        self.retry_after = retry_after


class Gone(NotFound):
    """The thing is still listed but its file is no longer on storage."""


class TooLarge(BadInput):
    """An upload over the size limit."""


class UnsupportedFormat(BadInput):
    """The input is not of a kind this takes (not an audio file name, a form instead of YAML)."""


# Rubrics and scripts -----------------------------------------------------------------------


class RubricError(BadInput):
    """A rubric that does not validate; `problems` are (line, field, reason)."""

    def __init__(
        self,
        source: str,
        problems: list[tuple[int | None, str, str]],
        heading: str | None = None,
        whole: str | None = None,
    ):
        self.source = source
        self.problems = problems
        whole = whole or _("(rubric)")
        lines = [
            f"{source}:{line if line is not None else '?'}: {field or whole}: {reason}"
            for line, field, reason in problems
        ]
        super().__init__((heading or _("rubric refused")) + ":\n  " + "\n  ".join(lines))


class KnowledgeError(RubricError):
    """A knowledge base that does not validate (a RubricError: callers that refuse a bad
    rubric refuse a rubric with a bad knowledge base the same way)."""

    def __init__(self, source: str, problems: list[tuple[int | None, str, str]]):
        super().__init__(source, problems, _("knowledge base refused"), _("(knowledge base)"))


class ScriptError(BadInput):
    """A script that cannot be audited (missing, unreadable, empty)."""


class RubricNotFound(NotFound):
    """No rubric stored under this id and version."""


class RubricVersionConflict(Conflict, ValueError):
    """The same rubric id and version stored already, with other content."""


class KnowledgeNotFound(NotFound):
    """No knowledge base stored under this id (and version)."""


class KnowledgeVersionConflict(Conflict, ValueError):
    """The same knowledge-base id and version stored already, with other content."""


class ScriptNotFound(NotFound):
    """No outbound script stored for this project (and version)."""


# Recordings --------------------------------------------------------------------------------


class AudioError(BadInput):
    """A recording that cannot be processed; the message names the file and the problem."""


class MetadataError(BadInput):
    """A recording's sidecar JSON or file name that cannot be read as its metadata."""


# Storage, queue and workers ----------------------------------------------------------------


class SchemaNotCurrent(QAError, RuntimeError):
    """The database is not at the schema this code needs (empty, behind, or ahead of it)."""


class QueueUnavailable(Unavailable, RuntimeError):
    """Redis does not answer: the job is kept pending and queued when it is back."""


class JobFailed(QAError, RuntimeError):
    """A job whose input is bad: retrying will not help (the error names file and problem)."""


class SlotTaken(Conflict, RuntimeError):
    """Another live worker process has this name (host and --slot)."""


# Reviews and reports -----------------------------------------------------------------------


class ReviewError(BadInput):
    """A review that cannot be applied as sent."""


class ReviewNotFound(NotFound, ReviewError):
    """The evaluation, finding or review a review names does not exist."""


class ReviewConflict(Conflict, ReviewError):
    """A review that contradicts the trail (withdrawn already, a finding added twice)."""


class NoCalls(NotFound):
    """The project has no evaluated calls to wrap up."""


# People, appeals, review tasks, calibration --------------------------------------------------


class UserError(BadInput):
    """A user that cannot be made as asked (a name taken, a short password, a role unknown)."""


class UserConflict(Conflict, UserError):
    """A user name taken already."""


class AppealError(BadInput):
    """An appeal or a ruling that cannot be made as sent."""


class AppealNotFound(NotFound, AppealError):
    """No such appeal (or none the caller may see)."""


class AppealConflict(Conflict, AppealError):
    """An appeal against the process: a second open one, after the window, ruled already."""


class TaskError(BadInput):
    """A sampling plan or a review task request that cannot be carried out as sent."""


class TaskNotFound(NotFound, TaskError):
    """No such plan or task."""


class TaskConflict(Conflict, TaskError):
    """A task in a state that does not allow the step (claimed by another, done already)."""


class CalibrationError(BadInput):
    """A calibration session or score that cannot be made as sent."""


class CalibrationNotFound(NotFound, CalibrationError):
    """No such calibration session (or none the caller takes part in)."""


class CalibrationConflict(Conflict, CalibrationError):
    """A step a session's state does not allow (scoring a closed one, closing it twice)."""
