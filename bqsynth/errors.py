"""One error hierarchy: every error a user can act on is a ``BqsynthError``.

It says where the problem is (``table``, ``column``, ``file``) and what to do about it
(``hint``), and renders both into its message. Each stage raises its own subclasses
(defined next to the code that raises them); the pipeline steps catch ``BqsynthError``
and record its message as the table's failure. Any other exception is a bug in bqsynth
and is recorded as an internal error (``bqsynth.steps.audited``), never as bad input.
"""

from __future__ import annotations

import sys
from typing import TextIO

# Audit rows and KFP logs show the message; past this a message is a dump, not an explanation.
MAX_ERROR_TEXT = 4000


# A line a step writes for the person running bqsynth, not for the log: kfp.local sends the
# steps' output to a log file, and submit.py shows the lines that start with this on stderr.
USER_WARNING = "bqsynth warning: "


def warn_user(message: str, stream: TextIO | None = None) -> None:
    """Tell the person running the pipeline something they must act on, while the step runs."""
    print(f"{USER_WARNING}{' '.join(message.split())}", file=stream or sys.stderr, flush=True)


class BqsynthError(Exception):
    """An error the user can act on: bad input, a missing table, a permission, a refused file.

    ``str(error)`` is the whole message: the context not already named in it, the
    reason, then the hint.
    """

    def __init__(
        self,
        reason: str,
        *,
        table: str | None = None,
        column: str | None = None,
        file: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.table = table
        self.column = column
        self.file = file
        self.hint = hint

    def __str__(self) -> str:
        return render_message(self.reason, table=self.table, column=self.column, file=self.file, hint=self.hint)


class SourceError(BqsynthError):
    """Stage 1: a source (a BigQuery table or a delimited file) cannot be found, read or profiled."""


class DeliveryError(BqsynthError):
    """Stage 4: synthetic data could not be written to GCS or BigQuery, or a log table written."""


def render_message(
    reason: str,
    *,
    table: str | None = None,
    column: str | None = None,
    file: str | None = None,
    hint: str | None = None,
) -> str:
    """``table T, column C: reason. Hint.``: context the reason already names is not repeated."""
    places = [f"{kind} {name}" for kind, name in (("table", table), ("column", column), ("file", file)) if name]
    unnamed = [place for place in places if place.split(" ", 1)[1] not in reason]
    text = f"{', '.join(unnamed)}: {reason}" if unnamed else reason
    if hint and hint not in text:
        text = f"{text.rstrip()}{'' if text.rstrip().endswith(('.', '!', '?')) else '.'} {hint}"
    return text


def error_text(error: BaseException) -> str:
    """The words users see for ``error``: its own message, bounded, never a traceback.

    Google API errors carry the server's explanation in ``message``; their ``str`` adds
    the HTTP verb and the whole URL in front of it.
    """
    if isinstance(error, BqsynthError):
        text = str(error)
    else:
        text = str(getattr(error, "message", None) or error)
    text = text or type(error).__name__
    return text if len(text) <= MAX_ERROR_TEXT else text[:MAX_ERROR_TEXT] + " ..."
