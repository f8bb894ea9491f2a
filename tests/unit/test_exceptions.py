"""One error family: every exception the package defines lives in qa_service/exceptions.py,
each of a kind the API answers with one status (api/errors.py), and routes raise the family,
never an HTTPException of their own."""

from __future__ import annotations

import ast
import builtins

import pytest

from qa_service import exceptions as ex
from qa_service.api.errors import STATUS, status_of
from qa_service.i18n import message
from tests.support import ROOT

PACKAGE = ROOT / "qa_service"
BUILTIN_ERRORS = {
    name
    for name, value in vars(builtins).items()
    if isinstance(value, type) and issubclass(value, BaseException)
}
# The request guard's own: FastAPI passes only HTTPExceptions through its body reading.
TRANSPORT = {("qa_service/api/errors.py", "BodyTooLarge")}


def sources():
    for path in sorted(PACKAGE.rglob("*.py")):
        if "migrations" not in path.parts:
            yield path.relative_to(ROOT).as_posix(), ast.parse(path.read_text(encoding="utf-8"))


def base_names(node: ast.ClassDef) -> set[str]:
    return {
        b.id if isinstance(b, ast.Name) else b.attr
        for b in node.bases
        if isinstance(b, (ast.Name, ast.Attribute))
    }


def test_every_exception_class_is_in_the_exceptions_module():
    family = {
        name
        for name, value in vars(ex).items()
        if isinstance(value, type) and issubclass(value, BaseException)
    }
    elsewhere = [
        f"{path}: {node.name}"
        for path, tree in sources()
        if path != "qa_service/exceptions.py"
        for node in ast.walk(tree)
        if isinstance(node, ast.ClassDef)
        and base_names(node) & (BUILTIN_ERRORS | family | {"HTTPException"})
        and (path, node.name) not in TRANSPORT
    ]
    assert not elsewhere, elsewhere


def test_only_the_error_module_builds_http_exceptions():
    built = [
        f"{path}:{node.lineno}"
        for path, tree in sources()
        if path != "qa_service/api/errors.py"
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and getattr(node.func, "id", getattr(node.func, "attr", None)) == "HTTPException"
    ]
    assert not built, built


@pytest.mark.parametrize(
    "error, status",
    [
        (ex.BadInput, 422),
        (ex.RubricError, 422),
        (ex.ReviewError, 422),
        (ex.TooLarge, 413),
        (ex.UnsupportedFormat, 415),
        (ex.NotFound, 404),
        (ex.RubricNotFound, 404),
        (ex.ReviewNotFound, 404),
        (ex.NoCalls, 404),
        (ex.Gone, 410),
        (ex.Conflict, 409),
        (ex.ReviewConflict, 409),
        (ex.RubricVersionConflict, 409),
        (ex.Unauthorized, 401),
        (ex.Forbidden, 403),
        (ex.QueueUnavailable, 503),
    ],
)
def test_each_kind_answers_one_status(error, status):
    assert status_of(error.__new__(error)) == status


def test_unmapped_errors_stay_server_errors():
    for error in (ex.QAError, ex.JobFailed, ex.ModelIntegrityError, ex.SchemaNotCurrent):
        assert not any(kind in STATUS for kind in error.__mro__), error


def test_builtin_bases_are_kept():
    """`except LookupError` / `except ValueError` / `except RuntimeError` still catch them."""
    assert issubclass(ex.RubricNotFound, LookupError) and issubclass(ex.NoCalls, LookupError)
    assert issubclass(ex.ReviewNotFound, ValueError) and issubclass(ex.ReviewConflict, ValueError)
    assert issubclass(ex.RubricVersionConflict, ValueError)
    for error in (
        ex.RubricError,
        ex.KnowledgeError,
        ex.ScriptError,
        ex.AudioError,
        ex.MetadataError,
    ):
        assert issubclass(error, ValueError), error
    for error in (ex.QueueUnavailable, ex.JobFailed, ex.SlotTaken, ex.SchemaNotCurrent):
        assert issubclass(error, RuntimeError), error


def test_rubric_errors_keep_their_problems():
    error = ex.KnowledgeError("kb.yaml", [(3, "facts.0.value", "is required")])
    assert isinstance(error, ex.RubricError) and error.problems == [
        (3, "facts.0.value", "is required")
    ]
    assert (
        str(error)
        == message("knowledge base refused") + ":\n  kb.yaml:3: facts.0.value: is required"
    )
