"""Logging: stderr or a file, never stdout (stdout carries the protocol)."""

from __future__ import annotations

import logging
import sys

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def setup_logging(verbosity: int, log_file: str | None) -> None:
    """``-v`` → INFO, ``-vv`` → DEBUG; pygls is capped at WARNING (it logs every message body)."""
    level = logging.WARNING if verbosity <= 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    handler: logging.Handler = (
        logging.FileHandler(log_file, encoding="utf-8") if log_file else logging.StreamHandler(sys.stderr)
    )
    handler.setFormatter(logging.Formatter(FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("pygls").setLevel(logging.WARNING if verbosity < 3 else logging.DEBUG)
    logging.getLogger("watchfiles").setLevel(logging.WARNING if verbosity < 3 else logging.DEBUG)
    logging.captureWarnings(True)
