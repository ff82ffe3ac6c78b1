"""The wire contract as pydantic models: one source of truth for every shape.

Field names are snake_case in Python and camelCase on the wire (``alias_generator``).
Requests are validated with :func:`parse_params`, which turns a validation failure into
an :class:`~threadline.errors.InvalidParams` naming the offending field; results and
notifications leave through :func:`dump`, always by alias.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic.alias_generators import to_camel

from threadline.errors import InvalidParams

PROTOCOL_VERSION = 1

# -- method names ---------------------------------------------------------------------
WORKFLOW_START = "workflow/start"
WORKFLOW_CANCEL = "workflow/cancel"
SESSION_LIST = "session/list"
SESSION_MESSAGES = "session/messages"
SESSION_RESUME = "session/resume"
SESSION_GET = "session/get"
SESSION_ACTIVATE = "session/activate"
SESSION_UNFOLLOW = "session/unfollow"
SESSION_DETECTED = "session/detected"
SESSION_UPDATED = "session/updated"
SESSION_REMOVED = "session/removed"

REQUEST_METHODS = (
    WORKFLOW_START,
    WORKFLOW_CANCEL,
    SESSION_LIST,
    SESSION_MESSAGES,
    SESSION_RESUME,
    SESSION_GET,
    SESSION_ACTIVATE,
    SESSION_UNFOLLOW,
)

DEFAULT_AGENT = "claude"
"""The agent of a request that names none (protocol §3)."""
AGENTS = ("claude", "codex", "gemini")
PERMISSION_MODES = ("acceptEdits", "auto", "bypassPermissions", "default", "dontAsk", "manual", "plan")
"""The ``permissionMode`` values (Claude Code's; each adapter maps them to its agent's own)."""
"""Every agent id the protocol knows."""

Status = Literal["running", "waiting_for_input", "completed", "failed", "cancelled", "interrupted"]
STATUSES: tuple[str, ...] = Status.__args__  # type: ignore[attr-defined]
Source = Literal["workflow", "external"]
Role = Literal["user", "assistant", "system"]

_UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def is_session_id(value: str) -> bool:
    """A well-formed session id: a canonical UUID, as every agent's is (so never a path)."""
    return bool(_UUID_RE.fullmatch(value))


def new_session_id() -> str:
    """Mint a fresh session id (a UUID4, the form the agents' ``--session-id`` accept)."""
    return str(uuid.uuid4())


class WireModel(BaseModel):
    """Base of every wire type: camelCase aliases, population by either name."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")


# -- types ----------------------------------------------------------------------------
class Usage(WireModel):
    """Token and cost totals, counted once per API message."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_tokens: int = 0
    cache_read_tokens: int = 0
    cost_usd: float | None = None

    def add(self, other: Usage) -> None:
        """Add another message's tokens (cost is the agent's own figure, not summed here)."""
        self.input_tokens += other.input_tokens
        self.output_tokens += other.output_tokens
        self.cache_creation_tokens += other.cache_creation_tokens
        self.cache_read_tokens += other.cache_read_tokens


class TextBlock(WireModel):
    type: Literal["text"] = "text"
    text: str


class ThinkingBlock(WireModel):
    type: Literal["thinking"] = "thinking"
    text: str


class ToolUseBlock(WireModel):
    type: Literal["tool_use"] = "tool_use"
    id: str
    name: str
    input: Any = None


class ToolResultBlock(WireModel):
    type: Literal["tool_result"] = "tool_result"
    tool_use_id: str
    text: str
    is_error: bool = False


class ImageBlock(WireModel):
    type: Literal["image"] = "image"
    media_type: str | None = None


ContentBlock = TextBlock | ThinkingBlock | ToolUseBlock | ToolResultBlock | ImageBlock


class Message(WireModel):
    """One API message (assistant records sharing ``message.id`` are merged into one)."""

    id: str
    role: Role
    timestamp: str | None = None
    content: list[ContentBlock] = Field(default_factory=list)
    model: str | None = None
    usage: Usage | None = None
    is_sidechain: bool = False
    is_meta: bool = False


class SessionInfo(WireModel):
    """Everything a client shows about one session."""

    session_id: str
    agent: str = DEFAULT_AGENT
    cwd: str
    title: str = "(untitled)"
    status: Status = "completed"
    source: Source = "external"
    active: bool = False
    created_at: str | None = None
    updated_at: str | None = None
    message_count: int = 0
    usage: Usage = Field(default_factory=Usage)
    model: str | None = None
    git_branch: str | None = None
    skill: str | None = None
    transcript_path: str | None = None
    pid: int | None = None
    last_error: str | None = None
    parent_session_id: str | None = None
    snippet: str | None = None


# -- request params and results ---------------------------------------------------------
def _absolute_dir(value: str) -> str:
    if not value or not Path(value).is_absolute():
        raise ValueError("must be an absolute path")
    if "\x00" in value:
        raise ValueError("must not contain a NUL character")
    return value


def _prompt(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value


TOOL_RULE = re.compile(r"[A-Za-z][A-Za-z0-9_-]*(?:\([^\n\r\x00]*\))?")
"""A tool rule as agents take it: a tool name, optionally with a pattern in parentheses.

It can never start with ``-``, so it can never be read as a flag of the agent's command.
"""

_MODEL_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/@\[\]-]*")


def _model(value: str | None) -> str | None:
    if value is not None and not _MODEL_RE.fullmatch(value):
        raise ValueError("must be a model name or alias, such as 'sonnet' or 'claude-sonnet-4-5'")
    return value


def _session_id(value: str) -> str:
    if not is_session_id(value):
        raise ValueError("is not a well-formed session id")
    return value


class WorkflowStartParams(WireModel):
    cwd: str
    prompt: str
    agent: str = DEFAULT_AGENT
    skill: str | None = None
    model: str | None = None
    permission_mode: str | None = None
    title: str | None = None

    _check_cwd = field_validator("cwd")(_absolute_dir)

    _check_prompt = field_validator("prompt")(_prompt)

    _check_model = field_validator("model")(_model)

    @field_validator("skill")
    @classmethod
    def _skill_name(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.:-]*", value):
            raise ValueError("must be a skill name (letters, digits, '-', '_', '.', ':')")
        return value


class SessionListParams(WireModel):
    cwd: str | None = None
    cursor: str | None = None
    limit: int = Field(default=100, ge=1, le=1000)
    query: str | None = None
    status: list[Status] | None = None
    agent: list[str] | None = None

    @field_validator("agent")
    @classmethod
    def _agents(cls, value: list[str] | None) -> list[str] | None:
        for agent in value or []:
            if agent not in AGENTS:
                raise ValueError(f"must list agent ids ({', '.join(AGENTS)}), not {agent!r}")
        return value

    @field_validator("cwd")
    @classmethod
    def _cwd(cls, value: str | None) -> str | None:
        return None if value is None else _absolute_dir(value)


class SessionMessagesParams(WireModel):
    session_id: str
    offset: int = Field(default=0, ge=0)
    limit: int = Field(default=200, ge=1, le=1000)
    from_end: bool = False
    follow: bool = False

    _check_id = field_validator("session_id")(_session_id)


class SessionResumeParams(WireModel):
    session_id: str
    prompt: str
    fork: bool = False
    permission_mode: str | None = None
    """For this turn only; the values depend on the agent (checked by its adapter)."""
    allowed_tools: list[str] | None = None
    """Tool rules granted for this turn, such as ``Bash(touch:*)``."""
    model: str | None = None

    _check_id = field_validator("session_id")(_session_id)

    _check_prompt = field_validator("prompt")(_prompt)

    _check_model = field_validator("model")(_model)

    @field_validator("allowed_tools")
    @classmethod
    def _tool_rules(cls, value: list[str] | None) -> list[str] | None:
        for rule in value or []:
            if not TOOL_RULE.fullmatch(rule):
                raise ValueError(
                    f"has {rule!r}, which is not a tool rule (a tool name, optionally with a pattern: "
                    "'Bash', 'Bash(touch:*)', 'Edit(src/**)')"
                )
        return value


class SessionIdParams(WireModel):
    """Params of ``session/get``, ``workflow/cancel`` and ``session/unfollow``."""

    session_id: str

    _check_id = field_validator("session_id")(_session_id)


class SessionActivateParams(WireModel):
    cwd: str
    session_id: str | None

    _check_cwd = field_validator("cwd")(_absolute_dir)

    @field_validator("session_id")
    @classmethod
    def _id(cls, value: str | None) -> str | None:
        return None if value is None else _session_id(value)


class StartResult(WireModel):
    session_id: str
    session: SessionInfo


class SessionListResult(WireModel):
    sessions: list[SessionInfo]
    next_cursor: str | None = None
    active_session_id: str | None = None


class SessionMessagesResult(WireModel):
    session_id: str
    messages: list[Message]
    offset: int
    total: int


class SessionResult(WireModel):
    session: SessionInfo


class ActivateResult(WireModel):
    active_session_id: str | None


class SessionDetectedParams(WireModel):
    session: SessionInfo


class StreamingText(WireModel):
    text: str


class SessionUpdatedParams(WireModel):
    session: SessionInfo
    appended: list[Message] = Field(default_factory=list)
    appended_from: int | None = None
    streaming: StreamingText | None = None


M = TypeVar("M", bound=BaseModel)


def parse_params(model: type[M], params: Any) -> M:
    """Validate raw JSON params; a failure names the first offending field (-32602)."""
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise InvalidParams("The request params must be an object.", field="params")
    try:
        return model.model_validate(params)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(part) for part in error["loc"]) or "params"
        field = _wire_name(model, field)
        reason = error["msg"].removeprefix("Value error, ")
        if error["type"] == "missing":
            reason = "is required"
        raise InvalidParams(f"Invalid params: '{field}' {reason}.", field=field) from None


def _wire_name(model: type[BaseModel], dotted: str) -> str:
    head, _, rest = dotted.partition(".")
    info = model.model_fields.get(head)
    alias = info.alias if info is not None and info.alias else head
    return f"{alias}.{rest}" if rest else alias


def dump(model: BaseModel) -> dict[str, Any]:
    """A model as JSON-ready data with wire (camelCase) names."""
    return model.model_dump(mode="json", by_alias=True)
