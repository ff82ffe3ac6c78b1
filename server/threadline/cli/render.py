"""Terminal output with rich: tables that fit the width, colour on a terminal only.

Colour follows rich: on when stdout is a terminal, off when piped, off with ``NO_COLOR``,
forced with ``FORCE_COLOR``. Transcript text is untrusted: control characters are removed
and it is printed as plain :class:`~rich.text.Text`, never as markup.
"""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, datetime
from typing import IO, Literal

from rich.console import Console
from rich.table import Table
from rich.text import Text

from threadline.cli.resolve import SHORT
from threadline.protocol import Message, SessionInfo

STATUS_STYLES = {
    "running": "bold cyan",
    "waiting_for_input": "bold yellow",
    "completed": "green",
    "failed": "bold red",
    "cancelled": "magenta",
    "interrupted": "red",
}
TOOL_TEXT = 400
"""Characters of a tool call's input or a tool's output shown; the rest is cut with "…"."""

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def console(file: IO[str] | None = None) -> Console:
    """A console on ``file`` (stdout by default) that never reads markup or highlights."""
    return Console(file=file, highlight=False, markup=False, emoji=False, soft_wrap=False)


def clean(text: str) -> str:
    """Text without terminal control characters (newlines and tabs stay)."""
    return _CONTROL.sub("", text)


def cut(text: str, width: int) -> str:
    """At most ``width`` characters, ending in "…" when cut."""
    return text if len(text) <= width else text[: width - 1] + "…"


def cut_left(text: str, width: int) -> str:
    """At most ``width`` characters, the end kept (for paths), starting with "…" when cut."""
    return text if len(text) <= width else "…" + text[len(text) - width + 1 :]


def cost(value: float | None) -> str:
    """One precision everywhere (``list`` and ``show``): dollars to a hundredth of a cent."""
    return "-" if value is None else f"${value:.4f}"


def age(stamp: str | None, now: datetime | None = None) -> str:
    if not stamp:
        return "-"
    try:
        then = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return stamp
    seconds = int(((now or datetime.now(UTC)) - then).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit} ago"
    return "just now"


def status_text(status: str) -> Text:
    return Text(status, style=STATUS_STYLES.get(status, ""))


def home_short(path: str) -> str:
    home = os.path.expanduser("~")
    return "~" + path[len(home) :] if home != "/" and (path == home or path.startswith(home + "/")) else path


def print_sessions(out: Console, sessions: list[SessionInfo], with_project: bool) -> None:
    """A table on a terminal; one tab-separated line per session (full values) when piped."""
    if not out.is_terminal:
        for s in sessions:
            fields = [s.session_id, s.status, s.updated_at or "-", str(s.message_count), cost(s.usage.cost_usd)]
            fields += [s.source, s.agent, *([s.cwd] if with_project else []), clean(s.title)]
            out.file.write("\t".join(f.replace("\t", " ") for f in fields) + "\n")
        return
    if not sessions:
        out.print("No sessions.")
        return
    rows = []
    for s in sessions:
        row: list[Text | str] = [
            Text("*" if s.active else " ", style="bold yellow"),
            Text(s.session_id[:SHORT], style="bold" if s.active else ""),
            status_text(s.status),
            s.agent,
            age(s.updated_at),
            str(s.message_count),
            cost(s.usage.cost_usd),
        ]
        if with_project:
            row.append(home_short(s.cwd))
        row.append(clean(s.title))
        rows.append(row)
    headers = ["", "ID", "STATUS", "AGENT", "UPDATED", "MSGS", "COST", *(["PROJECT"] if with_project else []), "TITLE"]
    if out.width < 72:
        # A narrow terminal keeps what tells sessions apart: id, status, agent, age and title.
        keep = [i for i, h in enumerate(headers) if h not in ("MSGS", "COST", "PROJECT")]
        headers = [headers[i] for i in keep]
        rows = [[row[i] for i in keep] for row in rows]
        with_project = False
    fixed = len(headers) - (2 if with_project else 1)
    widths = [max(len(header), *(len(r[i]) for r in rows)) for i, header in enumerate(headers)]
    # Every column keeps its full width but the last two: the title takes what is left of
    # the terminal (at least 10 characters) and a long project path gets a third of that.
    rest = out.width - 2 * (len(headers) - 1) - sum(widths[:fixed])
    if with_project:
        widths[fixed] = min(widths[fixed], max(10, rest // 3))
        rest -= widths[fixed]
    widths[-1] = max(10, min(widths[-1], rest))
    table = Table(box=None, pad_edge=False, show_edge=False, header_style="bold", padding=(0, 1))
    for header, width in zip(headers, widths, strict=True):
        justify: Literal["left", "right"] = "right" if header in ("MSGS", "COST") else "left"
        table.add_column(header, no_wrap=True, overflow="ellipsis", width=width, justify=justify)
    for row in rows:
        if with_project:
            row[fixed] = cut_left(str(row[fixed]), widths[fixed])
        row[-1] = cut(str(row[-1]), widths[-1])
        table.add_row(*row)
    out.print(table)


def print_session_header(out: Console, info: SessionInfo) -> None:
    out.print(Text(clean(info.title), style="bold"), soft_wrap=True)
    line = Text()
    line.append(info.session_id)
    line.append("  ")
    line.append_text(status_text(info.status))
    line.append(f"  {info.source}  {info.message_count} messages  {cost(info.usage.cost_usd)}")
    if info.model:
        line.append(f"  {info.model}")
    out.print(line, soft_wrap=True)
    out.print(Text(home_short(info.cwd), style="dim"), soft_wrap=True)
    if info.last_error:
        out.print(Text(clean(info.last_error), style="red"), soft_wrap=True)


def message_text(message: Message) -> Text:
    """One message: who speaks (you, agent, tool output, system), then its blocks."""
    tool_only = bool(message.content) and all(b.type == "tool_result" for b in message.content)
    if tool_only:
        head, style = "tool output", "dim"
    else:
        head, style = {
            "user": ("you", "bold blue"),
            "assistant": ("agent", "bold green"),
            "system": ("system", "bold magenta"),
        }[message.role]
    if message.is_meta:
        head += " (meta)"
    text = Text()
    text.append(head + ":", style=style)
    for block in message.content:
        text.append("\n")
        if block.type == "text":
            text.append(clean(block.text))
        elif block.type == "thinking":
            text.append(clean("(thinking) " + block.text), style="dim italic")
        elif block.type == "tool_use":
            shown = json.dumps(block.input, ensure_ascii=False)
            text.append(f"→ {block.name} ", style="cyan")
            text.append(cut(clean(shown), TOOL_TEXT), style="cyan")
        elif block.type == "tool_result":
            mark = "✗ " if block.is_error else "← "
            text.append(mark, style="red" if block.is_error else "dim")
            text.append(cut(clean(block.text.strip()), TOOL_TEXT), style="red" if block.is_error else "dim")
        elif block.type == "image":
            text.append("[image]", style="dim")
    return text


def print_message(out: Console, message: Message) -> None:
    # Soft wrap: the terminal wraps long lines, and piped text keeps its own line breaks.
    out.print(message_text(message), soft_wrap=True)
