"""The Gemini CLI adapter (``@google/gemini-cli`` 0.61.0): chat files, argv, stdout events."""

from threadline.agents.gemini.adapter import GeminiAdapter
from threadline.agents.gemini.chat import ChatSummarizer, Summary, is_stray, read_messages

__all__ = ["ChatSummarizer", "GeminiAdapter", "Summary", "is_stray", "read_messages"]
