"""Ids derived from the event that caused them.

A handler that makes new ids with uuid4 gives a different answer every time it runs, so a replay would
rebuild a slice whose ids downstream recipients have never seen (and a later correction would name an
event they never got). Deriving each id from its cause — the input event's id and what is being named —
makes every handler a function of its input: rerun, redelivered or replayed, it produces the same ids.
"""

from __future__ import annotations

import uuid


def derived_id(cause: uuid.UUID, *names: object) -> uuid.UUID:
    """A stable id for the thing ``names`` describes, caused by the event ``cause`` (UUID v5)."""
    return uuid.uuid5(cause, "/".join(str(n) for n in names))
