"""Text from outside (activity names and notes, calendar titles), made safe once where it enters.

``clean_text`` removes what no medium should receive: C0 controls except tab and newline (a CR
goes, CRLF becomes LF), DEL and C1 controls (ESC sequences lose their ESC and are left as plain
characters), bidirectional overrides and isolates (which reorder what is shown around them); it
replaces lone surrogates with U+FFFD and cuts the text at a length. Each medium (terminal, page,
feed) still escapes for itself on top.
"""

from __future__ import annotations

import re

MAX_TEXT = 1000  # characters: a name or a note, never a document
ELLIPSIS = "…"
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_SURROGATES = re.compile("[\ud800-\udfff]")
_LINE_BREAKS = re.compile("[\u2028\u2029]")


def clean_text(value: str, limit: int = MAX_TEXT) -> str:
    """``value`` without control, bidi-override or lone surrogate characters, at most ``limit`` long."""
    text = _CONTROLS.sub("", value.replace("\r\n", "\n"))
    text = _LINE_BREAKS.sub("\n", _SURROGATES.sub("\ufffd", text))
    if len(text) > limit:
        text = text[: max(limit - 1, 0)].rstrip() + ELLIPSIS
    return text


def clean_optional(value: object, limit: int = MAX_TEXT) -> str | None:
    """``clean_text`` for a value that may be missing or not a string (then None)."""
    return clean_text(value, limit) if isinstance(value, str) else None
