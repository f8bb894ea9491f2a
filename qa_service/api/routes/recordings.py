import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, File, Form, UploadFile
from fastapi.responses import FileResponse, JSONResponse
from pydantic import BaseModel, Field

from qa_service.api.deps import (
    Admin,
    DispatcherDep,
    Identifier,
    Member,
    Reviewer,
    RowId,
    SettingsDep,
    StoreDep,
)
from qa_service.api.errors import MAX_INT
from qa_service.api.schemas import RecordingEvaluation, RecordingOut, Submission
from qa_service.app.dispatch import score_job_id
from qa_service.app.people import Caller
from qa_service.asr.audio import AUDIO_EXTENSIONS, check_readable
from qa_service.domain.enums import JobState, Phase
from qa_service.domain.evaluation import RubricRef, UtteranceOut
from qa_service.domain.metadata import read_metadata
from qa_service.exceptions import (
    AudioError,
    BadInput,
    Forbidden,
    Gone,
    MetadataError,
    NotFound,
    QueueUnavailable,
    TooLarge,
    UnsupportedFormat,
)
from qa_service.files import sha256_of
from qa_service.i18n import message
from qa_service.storage.tables import Recording

router = APIRouter(prefix="/recordings", tags=["recordings"])


def _rubric_for(store, project: str | None, rubric_id: str | None, version: int | None):
    if rubric_id:
        if version is None:
            raise BadInput(message("rubric_version is needed with rubric_id"))
    else:
        if not project:
            raise BadInput(message("project: give the project (its active rubric scores the call)"))
        active = store.rubrics.active_in(project)
        if active is None:
            raise BadInput(
                message(
                    "project {project}: no active rubric"
                    " (POST /rubrics/{{id}}/{{version}}/activate?project=...)",
                    project=project,
                )
            )
        rubric_id, version = active.rubric_id, active.version
    return store.rubrics.load(rubric_id, version, project=project)


def _submit(
    store,
    dispatcher,
    path: str,
    rubric,
    agent_channel: str | None,
    audio: tuple[float, int],
    settings,
):
    """Register the recording (its id answers the upload) and record and queue its job.
    `path` is as stored: relative to QA_STORAGE_DIR for uploads (settings.locate finds it)."""
    file = settings.locate(path)
    sha = sha256_of(file)
    seconds, channels = audio
    recording = store.recordings.register(sha, path, read_metadata(file), seconds, channels)
    row, new = store.jobs.record(
        score_job_id(sha, rubric), path, sha, rubric, agent_channel, recording.id
    )

    def answer(code: int, **fields) -> JSONResponse:
        body = Submission(
            job_id=row.id,
            recording_id=recording.id,
            sha256=sha,
            rubric=RubricRef(id=rubric.id, version=rubric.version),
            **fields,
        )
        return JSONResponse(body.model_dump(mode="json", exclude_none=True), status_code=code)

    if not new and row.status in (
        JobState.QUEUED,
        JobState.SCHEDULED,
        JobState.STARTED,
        JobState.FINISHED,
    ):
        return answer(200, status=row.status, duplicate=True)
    try:
        dispatcher.submit(row, rubric)
    except QueueUnavailable as exc:
        return answer(503, status=JobState.PENDING, detail=str(exc))
    return answer(202, status=JobState.QUEUED)


SUBMITTED = {
    "response_model": Submission,
    "responses": {
        200: {
            "model": Submission,
            "description": "the same audio and rubric version again: its job",
        },
        503: {"model": Submission, "description": "the queue is away: kept as a pending job"},
    },
}


@router.post("", status_code=202, **SUBMITTED)
def upload(
    store: StoreDep,
    settings: SettingsDep,
    dispatcher: DispatcherDep,
    _: Reviewer,
    file: UploadFile = File(...),
    agent_id: Annotated[Identifier | None, Form()] = None,
    project: Annotated[Identifier | None, Form()] = None,
    call_time: str | None = Form(None),
    phase: str = Form(Phase.PRODUCTION, json_schema_extra={"enum": list(Phase.values())}),
    rubric_id: Annotated[Identifier | None, Form()] = None,
    rubric_version: int | None = Form(None, ge=1, le=MAX_INT),
    agent_channel: str | None = Form(None, json_schema_extra={"enum": ["left", "right", None]}),
):
    """Upload a recording with its metadata; it is kept, queued and scored once."""
    name = Path(file.filename or "upload").name
    ext = Path(name).suffix.lower()
    if ext not in AUDIO_EXTENSIONS:
        raise UnsupportedFormat(
            message(
                "{name}: not an audio file name ({extensions})",
                name=name,
                extensions=", ".join(sorted(AUDIO_EXTENSIONS)),
            )
        )
    if phase not in Phase.values():
        raise BadInput(message("phase {phase} must be trial or production", phase=phase))
    if agent_channel not in (None, "left", "right"):
        raise BadInput(message("agent_channel must be left or right"))
    rubric = _rubric_for(store, project, rubric_id, rubric_version)
    folder = Path(settings.storage_dir) / "recordings"
    folder.mkdir(parents=True, exist_ok=True)
    limit = int(settings.max_upload_mb * 1024 * 1024)
    with tempfile.NamedTemporaryFile(dir=folder, suffix=ext, delete=False) as tmp:
        size = 0
        while chunk := file.file.read(1 << 20):
            size += len(chunk)
            if size > limit:
                tmp.close()
                os.unlink(tmp.name)
                raise TooLarge(
                    message(
                        "{name}: larger than the {limit:g} MB limit",
                        name=name,
                        limit=settings.max_upload_mb,
                    )
                )
            tmp.write(chunk)
    try:
        # refuse what a worker could not read (or should not: too long), while the caller is here
        audio = check_readable(tmp.name, settings.max_audio_minutes)
    except AudioError as exc:
        os.unlink(tmp.name)
        raise AudioError(str(exc).replace(tmp.name, name)) from None
    sha = sha256_of(Path(tmp.name))
    final = folder / f"{sha}{ext}"
    if final.exists():
        os.unlink(tmp.name)  # the same audio again: the first upload and its metadata stand
    else:
        meta = {
            "agent_id": agent_id,
            "project": project,
            "call_time": call_time,
            "phase": phase,
            "original_name": name,
        }
        sidecar = final.with_suffix(".json")
        sidecar.write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
        try:
            read_metadata(sidecar.with_suffix(ext))
        except MetadataError as exc:
            sidecar.unlink()
            os.unlink(tmp.name)
            raise MetadataError(str(exc).replace(str(sidecar), name)) from None
        shutil.move(tmp.name, final)
    # stored relative to QA_STORAGE_DIR: found wherever the server or a worker runs
    return _submit(
        store,
        dispatcher,
        str(final.relative_to(settings.storage_dir)),
        rubric,
        agent_channel,
        audio,
        settings,
    )


class ImportRequest(BaseModel):
    path: str
    rubric_id: Identifier | None = None
    rubric_version: int | None = Field(None, ge=1, le=MAX_INT)
    project: Identifier | None = None
    agent_channel: Literal["left", "right"] | None = None


@router.post("/import", status_code=202, **SUBMITTED)
def import_file(
    req: ImportRequest, store: StoreDep, settings: SettingsDep, dispatcher: DispatcherDep, _: Admin
):
    """Queue a file already on shared storage. Only paths under QA_IMPORT_ROOTS; metadata
    from its sidecar JSON or its name."""
    if "\x00" in req.path:
        raise BadInput(message("path: contains a NUL character"))
    path = Path(req.path).resolve()
    roots = [Path(r).resolve() for r in settings.import_roots]
    if not any(path.is_relative_to(root) for root in roots):
        raise Forbidden(message("{path}: outside the import roots", path=req.path))
    if not path.is_file():
        raise NotFound(message("{path}: no such file", path=req.path))
    meta = read_metadata(path)
    rubric = _rubric_for(store, req.project or meta.project, req.rubric_id, req.rubric_version)
    audio = check_readable(path, settings.max_audio_minutes)
    return _submit(store, dispatcher, str(path), rubric, req.agent_channel, audio, settings)


def _recording(store, recording_id: int, who: Caller) -> Recording:
    """The recording, if the caller may see it (another agent's is "not found")."""
    rec = store.recordings.get(recording_id)
    if rec is None or not who.sees_agent(rec.agent_id):
        raise NotFound(message("no recording {id}", id=recording_id))
    return rec


# digits only: /recordings/import is then the import's path (405 to a GET, Allow: POST), not a
# recording id that is not a number
@router.get("/{recording_id:int}", response_model=RecordingOut)
def get_recording(recording_id: RowId, store: StoreDep, who: Member) -> RecordingOut:
    rec = _recording(store, recording_id, who)
    evs = store.evaluations.of_recording(recording_id)
    return RecordingOut(
        **rec.model_dump(exclude={"source_path"}),
        evaluations=[
            RecordingEvaluation(
                id=e.id,
                rubric=RubricRef(id=e.rubric_id, version=e.rubric_version),
                score=e.effective_score,
                grade=e.effective_grade,
                machine_score=e.score,
                machine_grade=e.grade,
                fatal=e.effective_fatal,
                reviewed=e.reviewed,
                outcome=e.outcome,
                current=e.is_current,
            )
            for e in evs
        ],
    )


@router.get("/{recording_id}/transcript", response_model=list[UtteranceOut])
def transcript(recording_id: RowId, store: StoreDep, who: Member) -> list[UtteranceOut]:
    """The call's utterances (personal numbers masked for non-admins: api/masking.py)."""
    _recording(store, recording_id, who)
    return [UtteranceOut.model_validate(u) for u in store.recordings.utterances(recording_id)]


@router.get(
    "/{recording_id}/audio",
    response_class=FileResponse,
    responses={
        200: {"content": {"audio/*": {}}, "description": "the recording"},
        410: {"description": "the audio file is no longer on storage"},
    },
)
def audio(recording_id: RowId, store: StoreDep, settings: SettingsDep, who: Member):
    """The recording itself; range requests let a page seek to a finding's timestamp."""
    rec = _recording(store, recording_id, who)
    file = settings.locate(rec.source_path)
    if not file.is_file():
        raise Gone(message("the audio file is no longer on storage"))
    return FileResponse(file, filename=file.name)
