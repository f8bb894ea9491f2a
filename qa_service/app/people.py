"""People and what they may see: users who sign in with a name and a password (argon2), their
roles, the agents a team lead leads, and the `Caller` every request is made by.

Invariants:
- a password is stored as an argon2 hash only, and checked in constant work whether the name
  exists or not (a wrong name and a wrong password take as long and answer the same);
- a Caller's `agents` is None for QA staff (every call) and a set for agents and team leads
  (their own agent id; their team's): every route and page that shows calls filters by it, and
  a call outside it is "not found", never "forbidden" (its existence is not told);
- an API key that belongs to a person acts as that person (role and agents); a person made
  inactive loses their keys and sessions at the next request.
"""

from __future__ import annotations

from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from qa_service.domain.enums import ROLE_LEVEL, SCOPED_ROLES, KeyRole
from qa_service.domain.identifiers import identifier_problem
from qa_service.exceptions import UserConflict, UserError
from qa_service.i18n import codes, message
from qa_service.storage.store import Store
from qa_service.storage.tables import ApiKey, User

HASHER = PasswordHasher()
MIN_PASSWORD = 8
MAX_PASSWORD = 256
# verified when the name is unknown, so that the answer takes as long as for a known one
_DUMMY_HASH = HASHER.hash("not a password of anyone")

# a role's name as the catalog's msgid: pages and errors say it in the service's language
ROLE_LABELS = {
    KeyRole.AGENT: "Agent",
    KeyRole.TEAM_LEAD: "Team lead",
    KeyRole.VIEWER: "Read only",
    KeyRole.REVIEWER: "Reviewer",
    KeyRole.MANAGER: "QA manager",
    KeyRole.ADMIN: "Administrator",
}


@dataclass(frozen=True)
class Caller:
    """Who makes a request: a person (signed in, or by their API key) or an integration's key."""

    name: str
    role: KeyRole
    user_id: int | None = None
    key_id: int | None = None
    agent_id: str | None = None  # an agent's own id
    agents: frozenset[str] | None = None  # None: every call; else only these agents' calls

    def can(self, needed: KeyRole) -> bool:
        """Whether the role reaches `needed` (agents and team leads reach only their own level)."""
        return ROLE_LEVEL[self.role] >= ROLE_LEVEL[needed]

    @property
    def scoped(self) -> bool:
        return self.agents is not None

    def sees_agent(self, agent_id: str | None) -> bool:
        return self.agents is None or (agent_id is not None and agent_id in self.agents)

    @property
    def is_admin(self) -> bool:
        return self.role == KeyRole.ADMIN

    @property
    def shown(self) -> str:
        """How the trail and answers name this caller: the person by their user name, a key of
        no person by its name and id (never characters of its secret)."""
        if self.user_id is not None:
            return self.name
        return f"{self.name} (key {self.key_id})"


def agents_of(store: Store, user: User) -> frozenset[str] | None:
    role = KeyRole(user.role)
    if role == KeyRole.AGENT:
        return frozenset({user.agent_id}) if user.agent_id else frozenset()
    if role == KeyRole.TEAM_LEAD:
        return store.people.team_agents(user.team) if user.team else frozenset()
    return None


def caller_of_user(store: Store, user: User, key_id: int | None = None) -> Caller:
    return Caller(
        name=user.name,
        role=KeyRole(user.role),
        user_id=user.id,
        key_id=key_id,
        agent_id=user.agent_id,
        agents=agents_of(store, user),
    )


def caller_of_key(store: Store, key: ApiKey) -> Caller | None:
    """The caller a key stands for; None when it belongs to a person no longer active."""
    if key.user_id is None:
        role = KeyRole(key.role)
        # an agent or team lead key of no person sees nothing: scoped roles need a person
        agents: frozenset[str] | None = frozenset() if role in SCOPED_ROLES else None
        return Caller(name=key.name, role=role, key_id=key.id, agents=agents)
    user = store.people.get(key.user_id)
    if user is None or not user.active:
        return None
    return caller_of_user(store, user, key.id)


def _check(name: str, password: str | None, role: str, agent_id: str | None, team: str | None):
    problem = identifier_problem(name)
    if problem:
        raise UserError(message("user name {name} {problem}", name=repr(name), problem=problem))
    if role not in KeyRole.values():
        raise UserError(message("role must be one of {roles}", roles=codes(KeyRole.values())))
    if password is not None and not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise UserError(
            message("a password has {min} to {max} characters", min=MIN_PASSWORD, max=MAX_PASSWORD)
        )
    if role == KeyRole.AGENT and not agent_id:
        raise UserError(
            message("an agent needs the agent id their calls carry ({field})", field="agent_id")
        )
    if role == KeyRole.TEAM_LEAD and not team:
        raise UserError(message("a team lead needs the team they lead ({field})", field="team"))
    for what, value in (("agent_id", agent_id), ("team", team)):
        if value and (problem := identifier_problem(value)):
            raise UserError(f"{what} {value!r} {problem}")


REVIEWING = (KeyRole.REVIEWER, KeyRole.MANAGER, KeyRole.ADMIN)


def active_reviewer(store: Store, name: str) -> User | None:
    """The active person of this name who reviews calls (reviewer, manager or admin), if any:
    who may be assigned an appeal, a task quota or a calibration seat."""
    user = store.people.by_name(name)
    if user is None or not user.active or KeyRole(user.role) not in REVIEWING:
        return None
    return user


def create_user(
    store: Store,
    name: str,
    password: str,
    role: str,
    agent_id: str | None = None,
    team: str | None = None,
    display_name: str = "",
) -> User:
    _check(name, password, role, agent_id, team)
    if store.people.by_name(name) is not None:
        raise UserConflict(message("a user named {name} exists already", name=repr(name)))
    return store.people.add(
        User(
            name=name,
            display_name=display_name.strip()[:64],
            role=role,
            password_hash=HASHER.hash(password),
            agent_id=agent_id or None,
            team=team or None,
        )
    )


def authenticate(store: Store, name: str, password: str) -> User | None:
    """The active user with this name and password, or None (the same work either way)."""
    user = store.people.by_name(name) if name else None
    hashed = user.password_hash if user is not None else _DUMMY_HASH
    try:
        HASHER.verify(hashed, password[:MAX_PASSWORD])
    except (VerificationError, InvalidHashError):
        return None
    if user is None or not user.active:
        return None
    if HASHER.check_needs_rehash(user.password_hash):
        user.password_hash = HASHER.hash(password)
        store.people.save(user)
    return user


def set_password(store: Store, user: User, password: str) -> User:
    _check(user.name, password, user.role, user.agent_id, user.team)
    user.password_hash = HASHER.hash(password)
    return store.people.save(user)
