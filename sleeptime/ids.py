"""The one rule for tenant and context ids, used by the store layout, the config, the facade, the
graphs and the prompt-state cache; and what any text given to the package must be (`check_text`).

An id is a string of 1 to 200 printable characters (``str.isprintable``: no control, format,
surrogate or separator code points other than the space), not only spaces, not ``*`` (LangGraph's
namespace wildcard) and without ``.`` (which joins namespace labels in the stores). Anything else
raises `InvalidInputError` naming the field and saying which rule the value broke.
"""

from __future__ import annotations

import os

from sleeptime.errors import InvalidInputError

MAX_ID_LEN = 200

__all__ = ["MAX_ID_LEN", "RULE", "check_path", "check_text", "validate_id"]

RULE = (f"1 to {MAX_ID_LEN} printable characters, not only spaces, not '*', with no '.' and no control, "
        "format or surrogate characters")


def validate_id(value: object, what: str) -> str:
    """`value` when it is a valid id, else InvalidInputError naming `what` and the broken rule."""
    if not isinstance(value, str):
        raise InvalidInputError(f"{what} must be a string ({RULE}), got {type(value).__name__} {value!r}")
    problem = _problem(value)
    if problem:
        raise InvalidInputError(f"{what} {value!r} {problem}; an id is {RULE}")
    return value


def _problem(value: str) -> str:
    if not value.strip():
        return "must be non-empty and not only spaces"
    if len(value) > MAX_ID_LEN:
        return f"is {len(value)} characters long"
    if value == "*":
        return "is the namespace wildcard '*'"
    if "." in value:
        return "contains '.'"
    bad = next((ch for ch in value if not ch.isprintable()), None)
    if bad is not None:
        return f"contains the non-printable character U+{ord(bad):04X}"
    return ""


def check_text(value: object, what: str) -> str:
    """A string that can be stored and sent to a model (encodable as UTF-8: no lone surrogate, which
    is what invalid UTF-8 read with ``surrogateescape`` becomes), else InvalidInputError naming `what`."""
    if not isinstance(value, str):
        raise InvalidInputError(f"{what} must be a string, got {type(value).__name__}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as error:
        raise InvalidInputError(
            f"{what} is not valid Unicode text: a lone surrogate U+{ord(value[error.start]):04X} at "
            f"character {error.start} (invalid UTF-8 in the input?)"
        ) from None
    return value


def check_path(value: object, what: str) -> str | os.PathLike[str]:
    """A file or folder path: a str or os.PathLike, UTF-8 encodable, else InvalidInputError naming `what`."""
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if not isinstance(value, str):
        raise InvalidInputError(f"{what} must be a path (str or os.PathLike), got {type(value).__name__}")
    return check_text(value, what)
