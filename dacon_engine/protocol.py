"""The engine service protocol: the one place the message shapes live (standard library only).

JSON lines: one JSON object per line, UTF-8. Requests go to the engine's stdin, events
come back on its stdout; logs go to stderr. See docs/protocol.md for the full text.

Every request has a ``type`` and an optional ``id`` (the engine assigns one if missing).
Job requests (``hello``, ``load_model``, ``colorize``) are answered by ``accepted`` and end
in exactly one ``job_done`` (``status`` "done" or "cancelled") or ``error`` event with the
same id. Control requests (``cancel``, ``shutdown``) act at once and produce no job.
"""

from __future__ import annotations

import json
import reprlib
from typing import Any

from .options import protocol_fields

PROTOCOL_VERSION = 1

# request type -> {field: (allowed JSON types, default)}; "id" and "type" are always allowed
_STR = (str,)
_OPT_STR = (str, type(None))
_BOOL = (bool,)
_INT = (int,)
REQUESTS: dict[str, dict[str, tuple[tuple[type, ...], Any]]] = {
    "hello": {"protocol": (_INT, PROTOCOL_VERSION)},
    "load_model": {
        "model": (_STR, "default"),
        "device": (_OPT_STR, None),
        "dinov2_weights": (_OPT_STR, None),
    },
    "colorize": {
        "targets": ((list,), None),          # files, folders, globs, or one clip folder
        "references": ((list,), []),         # [{"color": path, "line": path | null}]
        "out": (_STR, None),
        **protocol_fields(),                 # the options (dacon_engine/options.py)
    },
    "recolor": {
        "out": (_STR, None),                 # a colorize output folder
        "palette": (_STR, None),             # the new palette (same names)
    },
    "review": {
        "out": (_STR, None),                 # a colorize output folder
        "threshold": ((float, int), 0.5),    # confidence below this is highlighted
        "review_dir": (_OPT_STR, None),      # default: <out>/review
    },
    "trace": {
        "out": (_STR, None),                 # a colorize output folder
        "epsilon": ((float, int), 0.5),      # outline simplification, px
        "expand": (_BOOL, True),             # fills meet under the lines
        "frames": ((list, type(None)), None),  # frame stems, null = all
    },
    "cancel": {"job": (_STR, None)},
    "shutdown": {},
}
JOB_REQUESTS = ("hello", "load_model", "colorize", "review", "trace", "recolor")
CONTROL_REQUESTS = ("cancel", "shutdown")
REQUIRED = {"colorize": ("targets", "out"), "review": ("out",), "trace": ("out",),
            "recolor": ("out", "palette"),
            "cancel": ("job",)}

EVENTS = ("accepted", "progress", "frame_done", "log", "error", "job_done")
TERMINAL_EVENTS = ("job_done", "error")


class ProtocolError(ValueError):
    """A line that is not a valid request; ``str()`` is one line saying why."""


def encode(message: dict) -> bytes:
    """One message as a UTF-8 JSON line (newline included)."""
    return (json.dumps(message, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")


def decode(line: bytes | str) -> dict:
    """Parse one line into a JSON object; ProtocolError when it is not one."""
    if isinstance(line, bytes):
        try:
            line = line.decode("utf-8")
        except UnicodeDecodeError as e:
            raise ProtocolError(f"line is not UTF-8 ({e.reason} at byte {e.start})") from None
    text = line.strip()
    if not text:
        raise ProtocolError("empty line")
    try:
        msg = json.loads(text)
    except json.JSONDecodeError as e:
        raise ProtocolError(f"not JSON ({e.msg} at column {e.colno})") from None
    except RecursionError:
        raise ProtocolError("JSON nested too deeply") from None
    if not isinstance(msg, dict):
        raise ProtocolError(f"expected a JSON object, got {type(msg).__name__}")
    return msg


def check_request(msg: dict) -> tuple[dict, list[str]]:
    """Validate a request: (the request with defaults filled in, unknown field names).

    Raises ProtocolError for an unknown type, a missing required field or a field of the
    wrong JSON type. Unknown fields are returned, not fatal.
    """
    kind = msg.get("type")
    if not isinstance(kind, str) or kind not in REQUESTS:
        raise ProtocolError(f"unknown request type {kind!r} "
                            f"(known: {', '.join(REQUESTS)})")
    rid = msg.get("id")
    if rid is not None and not isinstance(rid, str):
        raise ProtocolError(f"{kind}: field 'id' must be a string")
    spec = REQUESTS[kind]
    out: dict[str, Any] = {"type": kind, "id": rid}
    for name, (types, default) in spec.items():
        if name not in msg or msg[name] is None and type(None) not in types:
            if name in REQUIRED.get(kind, ()):
                raise ProtocolError(f"{kind}: field {name!r} is required")
            out[name] = list(default) if isinstance(default, list) else default
            continue
        value = msg[name]
        if not isinstance(value, types) or (bool not in types and isinstance(value, bool)):
            want = " or ".join("null" if t is type(None) else _JSON_NAME.get(t, t.__name__)
                               for t in types)
            raise ProtocolError(f"{kind}: field {name!r} must be {want}, got {shown(value)}")
        out[name] = value
    if kind == "colorize":
        _check_colorize(out)
    unknown = sorted(k for k in msg if k not in spec and k not in ("type", "id"))
    return out, unknown


_SHOWN = reprlib.Repr()
_SHOWN.maxlevel, _SHOWN.maxstring, _SHOWN.maxother = 2, 60, 60
_SHOWN.maxlist = _SHOWN.maxdict = 4


def shown(value: Any) -> str:
    """A short repr of a request value for error messages (a huge field is not echoed)."""
    return _SHOWN.repr(value)


_JSON_NAME = {str: "a string", int: "an integer", float: "a number", bool: "true or false",
              list: "a list", dict: "an object"}


def _check_colorize(req: dict) -> None:
    if not req["targets"] or not all(isinstance(t, str) for t in req["targets"]):
        raise ProtocolError("colorize: 'targets' must be a non-empty list of paths")
    if not all(isinstance(f, str) for f in req["formats"]):
        raise ProtocolError("colorize: 'formats' must be a list of strings")
    for i, ref in enumerate(req["references"]):
        if not isinstance(ref, dict) or not isinstance(ref.get("color"), str) \
                or not isinstance(ref.get("line"), (str, type(None))):
            raise ProtocolError(f"colorize: references[{i}] must be "
                                "{\"color\": path, \"line\": path or null}")


def request(kind: str, rid: str | None = None, **fields: Any) -> dict:
    """Build a request message (fields are validated by the engine)."""
    msg: dict[str, Any] = {"type": kind}
    if rid is not None:
        msg["id"] = rid
    msg.update(fields)
    return msg


def event(kind: str, rid: str | None = None, **fields: Any) -> dict:
    """Build an event message."""
    assert kind in EVENTS, kind
    msg: dict[str, Any] = {"type": kind, "id": rid}
    msg.update(fields)
    return msg
