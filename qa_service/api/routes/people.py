"""People: who is signed in (/me), users and their keys (admins), teams (QA managers)."""

from typing import Annotated, Literal

from fastapi import APIRouter, Path
from pydantic import AfterValidator, Field, StrictBool, WithJsonSchema

from qa_service.api.deps import (
    IDENTIFIER_PATTERN,
    Admin,
    Identifier,
    Manager,
    Member,
    StoreDep,
)
from qa_service.app import people
from qa_service.app.keys import create_key
from qa_service.app.people import ROLE_LABELS
from qa_service.config import MAX_ID_LENGTH
from qa_service.domain.enums import KeyRole
from qa_service.domain.identifiers import valid_identifier
from qa_service.domain.schema import MAX_ROW_ID, Instant, Schema
from qa_service.exceptions import NotFound, UserError
from qa_service.i18n import message

router = APIRouter(tags=["people"])
UserId = Annotated[int, Path(ge=1, le=MAX_ROW_ID)]
RoleName = Literal["agent", "team_lead", "viewer", "reviewer", "manager", "admin"]


class Me(Schema):
    name: str
    role: str
    role_name: str
    """The role as the web app names it (坐席, 组长, 只读, 质检员, 质检主管, 管理员)."""
    user_id: int | None = None
    agent_id: str | None = None
    agents: list[str] | None = None
    """The agents whose calls this caller sees (none: every call)."""


# a user name: an identifier, not empty
UserName = Annotated[
    str,
    AfterValidator(valid_identifier),
    WithJsonSchema(
        {
            "type": "string",
            "minLength": 1,
            "maxLength": MAX_ID_LENGTH,
            "pattern": IDENTIFIER_PATTERN,
            "description": "letters of any script, digits and _ - . (not . or ..)",
        }
    ),
]


class UserIn(Schema):
    """An agent needs `agent_id`, a team lead `team` (else 422)."""

    name: UserName
    password: str = Field(min_length=people.MIN_PASSWORD, max_length=people.MAX_PASSWORD)
    role: RoleName
    agent_id: Identifier | None = None
    team: Identifier | None = None
    display_name: str = Field(default="", max_length=64)


class UserOut(Schema):
    id: int
    name: str
    display_name: str
    role: str
    agent_id: str | None = None
    team: str | None = None
    active: bool
    created_at: Instant


class UserChange(Schema):
    active: StrictBool | None = None
    password: str | None = Field(
        default=None, min_length=people.MIN_PASSWORD, max_length=people.MAX_PASSWORD
    )


class NewKey(Schema):
    id: int
    name: str
    role: str
    secret: str
    """Shown once: store it now."""


class KeyIn(Schema):
    name: str = Field(default="integration", min_length=1, max_length=64)
    """Who or what holds the key."""


class TeamIn(Schema):
    agents: list[Identifier] = Field(max_length=1000)


class Team(Schema):
    team: str
    agents: list[str]


@router.get("/me", response_model=Me)
def me(who: Member) -> Me:
    """Who the request is made by, and which calls they see."""
    return Me(
        name=who.name,
        role=who.role,
        role_name=message(ROLE_LABELS.get(who.role, who.role)),
        user_id=who.user_id,
        agent_id=who.agent_id,
        agents=sorted(who.agents) if who.agents is not None else None,
    )


@router.post("/users", status_code=201, response_model=UserOut)
def create_user(body: UserIn, store: StoreDep, _: Admin) -> UserOut:
    """A person who signs in with a name and a password: an agent needs the agent id their
    calls carry, a team lead the team they lead."""
    user = people.create_user(
        store,
        body.name,
        body.password,
        body.role,
        agent_id=body.agent_id,
        team=body.team,
        display_name=body.display_name,
    )
    return UserOut.model_validate(user)


@router.get("/users", response_model=list[UserOut])
def list_users(store: StoreDep, _: Manager) -> list[UserOut]:
    return [UserOut.model_validate(u) for u in store.people.all()]


@router.patch("/users/{user_id}", response_model=UserOut)
def change_user(user_id: UserId, body: UserChange, store: StoreDep, _: Admin) -> UserOut:
    """Deactivate (or reactivate) a person, or set a new password. An inactive person's
    sessions and keys stop working at their next request."""
    user = store.people.get(user_id)
    if user is None:
        raise NotFound(message("no user {id}", id=user_id))
    if body.password is not None:
        user = people.set_password(store, user, body.password)
    if body.active is not None:
        user.active = body.active
        user = store.people.save(user)
    return UserOut.model_validate(user)


@router.post("/users/{user_id}/keys", status_code=201, response_model=NewKey)
def create_user_key(
    user_id: UserId,
    store: StoreDep,
    _: Admin,
    body: KeyIn,
) -> NewKey:
    """An API key that acts as this person (their role and the calls they see)."""
    user = store.people.get(user_id)
    if user is None:
        raise NotFound(message("no user {id}", id=user_id))
    if not user.active:
        raise UserError(message("user {name} is inactive", name=repr(user.name)))
    key, secret = create_key(store, user.role, body.name, user_id=user.id)
    return NewKey(id=key.id, name=key.name, role=key.role, secret=secret)


@router.put("/teams/{team}", response_model=Team)
def set_team(
    team: Annotated[Identifier, Path()],
    store: StoreDep,
    _: Manager,
    body: TeamIn,
) -> Team:
    """The agents of a team, all of them (its team lead sees their calls)."""
    store.people.set_team(team, body.agents)
    return Team(team=team, agents=sorted(store.people.team_agents(team)))


@router.get("/teams/{team}", response_model=Team)
def get_team(team: Annotated[Identifier, Path()], store: StoreDep, who: Member) -> Team:
    if who.scoped and not (who.role == KeyRole.TEAM_LEAD and who.agents is not None):
        raise NotFound(message("no team {team}", team=repr(team)))
    agents = store.people.team_agents(team)
    if who.scoped and who.agents is not None and not agents <= who.agents:
        raise NotFound(message("no team {team}", team=repr(team)))
    return Team(team=team, agents=sorted(agents))
