"""Server options from ``initializationOptions`` (protocol §1), every field defaulted.

Initialization never fails on options: an unknown key is ignored and logged, a value of
the wrong type falls back to its default and is reported once as a warning.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import platformdirs

logger = logging.getLogger(__name__)

KNOWN_KEYS = frozenset({"claudeConfigDir", "agents", "watch", "cacheDir", "authToken"})


@dataclass(slots=True)
class AgentOptions:
    command: list[str]
    env: dict[str, str] = field(default_factory=dict)
    home: Path | None = None
    """Where the agent keeps its sessions (None: the agent's default, see :func:`agent_home`)."""


@dataclass(slots=True)
class Options:
    claude_config_dir: Path
    agents: dict[str, AgentOptions]
    watch: bool = True
    cache_dir: Path = field(default_factory=lambda: default_cache_dir())

    def __post_init__(self) -> None:
        for agent_id, agent in self.agents.items():
            if agent.home is None:
                agent.home = self.claude_config_dir if agent_id == "claude" else agent_home(agent_id)


def agent_home(agent_id: str) -> Path:
    """The default home of an agent (protocol §1 ``agents.<id>.home``): Claude Code's config
    folder, Codex's ``$CODEX_HOME`` (else ``~/.codex``), or the folder holding Gemini's
    ``.gemini/`` (``$GEMINI_CLI_HOME``, else the user's home)."""
    if agent_id == "claude":
        return default_claude_config_dir()
    variable, fallback = {"codex": ("CODEX_HOME", Path.home() / ".codex"), "gemini": ("GEMINI_CLI_HOME", Path.home())}[
        agent_id
    ]
    configured = os.environ.get(variable)
    return Path(configured) if configured else fallback


def default_claude_config_dir() -> Path:
    configured = os.environ.get("CLAUDE_CONFIG_DIR")
    return Path(configured) if configured else Path.home() / ".claude"


def default_cache_dir() -> Path:
    """``$THREADLINE_CACHE_DIR``, else the platform's user cache folder + ``threadline`` (protocol §1)."""
    configured = os.environ.get("THREADLINE_CACHE_DIR")
    if configured:
        return Path(os.path.expanduser(configured))
    return Path(platformdirs.user_cache_dir("threadline", appauthor=False))


def defaults() -> Options:
    return Options(
        claude_config_dir=default_claude_config_dir(),
        agents={agent_id: AgentOptions([agent_id]) for agent_id in ("claude", "codex", "gemini")},
    )


def parse_options(raw: Any) -> tuple[Options, list[str]]:
    """Options and the warnings to show the user once (one sentence each)."""
    options = defaults()
    warnings: list[str] = []
    if raw is None:
        return options, warnings
    if not isinstance(raw, dict):
        return options, ["Threadline: initializationOptions must be an object; using the defaults."]
    for key in raw:
        if key not in KNOWN_KEYS:
            logger.info("ignoring unknown initialization option %r", key)
    config_dir = raw.get("claudeConfigDir")
    if config_dir is not None:
        if isinstance(config_dir, str) and config_dir:
            options.claude_config_dir = Path(os.path.expanduser(config_dir))
        else:
            warnings.append(f"Threadline: 'claudeConfigDir' must be a path; using {options.claude_config_dir}.")
    cache_dir = raw.get("cacheDir")
    if cache_dir is not None:
        if isinstance(cache_dir, str) and cache_dir:
            options.cache_dir = Path(os.path.expanduser(cache_dir))
        else:
            warnings.append(f"Threadline: 'cacheDir' must be a path; using {options.cache_dir}.")
    watch = raw.get("watch")
    if watch is not None:
        if isinstance(watch, bool):
            options.watch = watch
        else:
            warnings.append("Threadline: 'watch' must be true or false; watching files.")
    agents = raw.get("agents")
    if agents is not None and not isinstance(agents, dict):
        warnings.append("Threadline: 'agents' must be an object; using the default agent commands.")
        agents = None
    homes_given: set[str] = set()
    for agent_id, spec in (agents or {}).items():
        if agent_id not in options.agents:
            logger.info("ignoring options for unknown agent %r", agent_id)
            continue
        if not isinstance(spec, dict):
            warnings.append(f"Threadline: 'agents.{agent_id}' must be an object; using its defaults.")
            continue
        command, env, home = spec.get("command"), spec.get("env"), spec.get("home")
        if home is not None:
            if isinstance(home, str) and home:
                options.agents[agent_id].home = Path(os.path.expanduser(home))
                homes_given.add(agent_id)
            else:
                warnings.append(f"Threadline: 'agents.{agent_id}.home' must be a path; using its default.")
        if command is not None:
            if isinstance(command, list) and command and all(isinstance(p, str) and p for p in command):
                options.agents[agent_id].command = list(command)
            else:
                warnings.append(
                    f"Threadline: 'agents.{agent_id}.command' must be a non-empty list of strings; "
                    f"using {options.agents[agent_id].command}."
                )
        if env is not None:
            if isinstance(env, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in env.items()):
                options.agents[agent_id].env = dict(env)
            else:
                warnings.append(f"Threadline: 'agents.{agent_id}.env' must map names to strings; ignoring it.")
    claude = options.agents["claude"]
    if "claude" in homes_given and claude.home is not None:
        options.claude_config_dir = claude.home  # agents.claude.home wins over claudeConfigDir
    else:
        claude.home = options.claude_config_dir
    return options, warnings
