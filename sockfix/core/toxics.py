"""toxiproxy's API as values: request bodies checked the way toxiproxy checks them, each toxic
as the sockfix fault that carries it out, the JSON shapes toxiproxy answers with, its routes.

:class:`ApiError` is toxiproxy's ``{"error": ..., "status": ...}``; :func:`decode_json` reads a
body as Go's ``json.Decoder`` would (its error texts included); :func:`proxy_fields`,
:func:`populate_fields`, :func:`new_toxic` and :func:`updated_toxic` check what clients send;
:func:`fault_of` maps a toxic to a fault (toxiproxy's units: ms, KB/s with KB = 1000 bytes, µs);
:func:`route` is its router. Pure: no sockets, no threads.
"""

from __future__ import annotations

import base64
import json
import math
import os
import random
from dataclasses import dataclass, replace
from typing import Any, Literal, NamedTuple
from urllib.parse import unquote, urlsplit

from sockfix.core.faults import (
    Bandwidth,
    Chunked,
    Fault,
    Hang,
    Latency,
    ResetAfter,
    SlowClose,
    Timeout,
    Truncate,
)
from sockfix.core.record import Connection, ProxyConnection

__all__ = [
    "TOXIC_TYPES",
    "ApiError",
    "Reply",
    "Route",
    "Toxic",
    "bind_text",
    "connection_json",
    "decode_json",
    "fault_of",
    "hostport",
    "new_toxic",
    "parse_address",
    "populate_fields",
    "proxy_fields",
    "proxy_json",
    "proxy_seed",
    "reply_json",
    "route",
    "updated_toxic",
    "upstream_of",
]

Reply = tuple[int, str, bytes]
"""An answer: status, content type ("" for none), body."""

# Each toxic's attributes in toxiproxy's order, with its Go struct's name (for error texts).
TOXIC_TYPES: dict[str, tuple[str, tuple[str, ...]]] = {
    "noop": ("NoopToxic", ()),
    "latency": ("LatencyToxic", ("latency", "jitter")),
    "bandwidth": ("BandwidthToxic", ("rate",)),
    "slow_close": ("SlowCloseToxic", ("delay",)),
    "timeout": ("TimeoutToxic", ("timeout",)),
    "reset_peer": ("ResetToxic", ("timeout",)),
    "slicer": ("SlicerToxic", ("average_size", "size_variation", "delay")),
    "limit_data": ("LimitDataToxic", ("bytes",)),
}
_GO_TYPES = {str: "string", bool: "bool", float: "float32"}
_WILDCARDS = {"", "0.0.0.0", "::", "[::]"}


class ApiError(Exception):
    """An answer with toxiproxy's error body: ``{"error": message, "status": status}``."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.message = message
        self.status = status

    def body(self) -> dict[str, Any]:
        return {"error": self.message, "status": self.status}


def _bad(text: str) -> ApiError:
    return ApiError(f"bad request body: {text}", 400)


def decode_json(raw: bytes) -> object:
    """The first JSON value of ``raw`` (what follows it is ignored, as Go's decoder does);
    ApiError 400 ``bad request body: ...`` with Go's texts for the usual mistakes."""
    text = raw.decode("utf-8", "replace").lstrip()
    if not text:
        raise _bad("EOF")
    try:
        value, _ = json.JSONDecoder().raw_decode(text)
    except json.JSONDecodeError as exc:
        if exc.pos >= len(text.rstrip()):
            raise _bad("unexpected EOF") from None
        char = text[exc.pos]
        if exc.msg == "Expecting value":
            raise _bad(f"invalid character {char!r} looking for beginning of value") from None
        raise _bad(f"invalid character {char!r} ({exc.msg})") from None
    return value


def _kind(value: object) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object" if isinstance(value, dict) else "value"


def _field(body: dict[str, Any], key: str, kind: type, struct: str, default: Any) -> Any:
    value = body.get(key)
    if value is None:  # absent or null: Go leaves the default
        return default
    fits = isinstance(value, int | float) and not isinstance(value, bool)
    if (kind is float and not fits) or (kind is not float and type(value) is not kind):
        raise _bad(
            f"json: cannot unmarshal {_kind(value)} into Go struct field {struct}.{key} of "
            f"type {_GO_TYPES[kind]}"
        )
    return float(value) if kind is float else value


def _object(value: object, go_type: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _bad(f"json: cannot unmarshal {_kind(value)} into Go value of type {go_type}")
    return value


def proxy_fields(value: object, defaults: dict[str, Any], where: str = "") -> dict[str, Any]:
    """``name``, ``listen``, ``upstream``, ``enabled`` of a proxy body over ``defaults``;
    ``missing required field: name`` (400) as toxiproxy says it (``where``: `` at proxy 2``)."""
    body = _object(value, "toxiproxy.Proxy")
    out = {
        key: _field(body, key, bool if key == "enabled" else str, "Proxy", defaults.get(key))
        for key in ("name", "listen", "upstream", "enabled")
    }
    for key in ("name", "upstream"):
        if not out[key]:
            raise ApiError(f"missing required field: {key}{where}", 400)
    return out


def parse_address(text: str, what: str) -> tuple[str, int]:
    """``"localhost:8474"`` as ``("127.0.0.1", 8474)``; ``"[::1]:0"`` as ``("::1", 0)``;
    a wildcard host (``0.0.0.0``, ``[::]``, none, ``""`` for all) as ``""``. ValueError in
    Go's words."""
    if not text:  # Go listens on every address, a free port
        return "", 0
    host, colon, digits = text.rpartition(":")
    if not colon:
        raise ValueError(f"{what} tcp: address {text}: missing port in address")
    if not digits.isdecimal() or int(digits) > 65535:
        raise ValueError(f"{what} tcp: address {text}: invalid port")
    if host in _WILDCARDS:
        return "", int(digits)
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        raise ValueError(f"{what} tcp: address {text}: too many colons in address")
    return ("127.0.0.1" if host == "localhost" else host), int(digits)


def hostport(host: str, port: int) -> str:
    """``host:port`` as Go prints it (``[::1]:80`` for IPv6)."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def proxy_seed(seed: int, name: str) -> int:
    """A proxy's seed: from the server's seed and the proxy's name, so replays are stable."""
    return random.Random(f"sockfix/toxiproxy/{seed}/{name}").randrange(2**32)


@dataclass(frozen=True)
class Toxic:
    """One toxic as toxiproxy shows it."""

    name: str
    type: str
    stream: str
    toxicity: float
    attributes: dict[str, int]

    @property
    def direction(self) -> Literal["upstream", "downstream"]:
        return "upstream" if self.stream.lower() == "upstream" else "downstream"

    def describe(self) -> str:
        attrs = "".join(f", {k}={v}" for k, v in self.attributes.items())
        return f"{self.type} {self.stream}, toxicity {self.toxicity:g}{attrs}"

    def to_json(self) -> dict[str, Any]:
        """toxiproxy's order: attributes, name, type, stream, toxicity (1, not 1.0)."""
        tox: float | int = int(self.toxicity) if self.toxicity.is_integer() else self.toxicity
        return {
            "attributes": dict(self.attributes),
            "name": self.name,
            "type": self.type,
            "stream": self.stream,
            "toxicity": tox,
        }


def _attributes(kind: str, value: object, start: dict[str, int]) -> dict[str, int]:
    struct, names = TOXIC_TYPES[kind]
    if value is None:
        return dict(start)
    body = _object(value, f"toxics.{struct}")
    out = dict(start)
    for name in names:
        got = body.get(name)
        if got is None:
            continue
        integral = isinstance(got, int | float) and not isinstance(got, bool)
        if not integral or not math.isfinite(got) or got != int(got):
            shown = f"number {got}" if integral else _kind(got)
            go_type = "int" if kind == "slicer" else "int64"
            raise _bad(
                f"json: cannot unmarshal {shown} into Go struct field {struct}.attributes."
                f"{name} of type {go_type}"
            )
        if got < 0:
            raise _bad(f"{kind} attribute {name} must be >= 0, got {int(got)}")
        out[name] = int(got)
    return out


def _toxicity(value: float) -> float:
    if not 0 <= value <= 1:
        raise _bad(f"toxicity is a probability in 0..1, got {value:g}")
    return value


def new_toxic(value: object, taken: set[str]) -> Toxic:
    """A toxic from a create body, checked in toxiproxy's order: JSON, stream (default
    downstream), name (default ``<type>_<stream>``), type, name taken (409), attributes."""
    body = _object(value, "toxics.ToxicWrapper")
    stream = _field(body, "stream", str, "ToxicWrapper", "downstream")
    kind = _field(body, "type", str, "ToxicWrapper", "")
    name = _field(body, "name", str, "ToxicWrapper", "")
    toxicity = _field(body, "toxicity", float, "ToxicWrapper", 1.0)
    if stream.lower() not in ("upstream", "downstream"):
        raise ApiError("stream was invalid, can be either upstream or downstream", 400)
    name = name or f"{kind}_{stream}"
    if kind not in TOXIC_TYPES:
        raise ApiError("invalid toxic type", 400)
    if name in taken:
        raise ApiError("toxic already exists", 409)
    zeros = dict.fromkeys(TOXIC_TYPES[kind][1], 0)
    toxic = Toxic(
        name, kind, stream, _toxicity(toxicity), _attributes(kind, body.get("attributes"), zeros)
    )
    fault_of(toxic)  # checks what the fault checks (slicer sizes)
    return toxic


def updated_toxic(toxic: Toxic, value: object) -> Toxic:
    """``toxic`` with the ``attributes`` and ``toxicity`` of an update body (the others stay)."""
    body = _object(value, "toxics.ToxicWrapper")
    toxicity = _field(body, "toxicity", float, "ToxicWrapper", toxic.toxicity)
    attrs = _attributes(toxic.type, body.get("attributes"), toxic.attributes)
    updated = replace(toxic, toxicity=_toxicity(toxicity), attributes=attrs)
    fault_of(updated)
    return updated


def fault_of(toxic: Toxic) -> Fault | None:
    """The sockfix fault that carries ``toxic`` out (None: nothing to do, as for ``noop`` or a
    ``bandwidth`` of rate 0); ApiError 400 when the attributes make no fault."""
    a = toxic.attributes
    kind = toxic.type
    if kind == "latency":
        return Latency(a["latency"] / 1000, jitter=a["jitter"] / 1000)
    if kind == "bandwidth":
        return Bandwidth(a["rate"] * 1000) if a["rate"] else None
    if kind == "slow_close":
        return SlowClose(a["delay"] / 1000)
    if kind == "timeout":
        return Timeout(a["timeout"] / 1000) if a["timeout"] else Hang()
    if kind == "reset_peer":
        return ResetAfter(a["timeout"] / 1000)
    if kind == "limit_data":
        return Truncate(a["bytes"])
    if kind == "slicer":
        size, variation = a["average_size"], a["size_variation"]
        if size < 1 or variation >= size:
            raise _bad(
                f"slicer needs average_size >= 1 and size_variation < average_size, got "
                f"average_size {size}, size_variation {variation}"
            )
        return Chunked(size, delay=a["delay"] / 1e6, variation=variation)
    return None


def upstream_of(text: str) -> tuple[str, int]:
    """The upstream's ``(host, port)``; ApiError 400 when ``text`` names no server."""
    try:
        host, port = parse_address(text, "dial")
    except ValueError as exc:
        raise _bad(f"upstream {text!r}: {exc}") from None
    if not host or not port:
        raise _bad(f"upstream {text!r}: no server to connect to")
    return host, port


def populate_fields(value: object) -> list[dict[str, Any]]:
    """The proxies of a ``/populate`` body, each checked (``... at proxy 2``), names unique."""
    if not isinstance(value, list):
        raise _bad(f"json: cannot unmarshal {_kind(value)} into Go value of type []toxiproxy.Proxy")
    out: list[dict[str, Any]] = []
    for i, item in enumerate(value):
        got = proxy_fields(item, {"listen": "", "enabled": True}, f" at proxy {i + 1}")
        if any(o["name"] == got["name"] for o in out):
            raise ApiError(f"duplicate proxy name {json.dumps(got['name'])}", 500)
        upstream_of(got["upstream"])
        out.append(got)
    return out


def bind_text(exc: OSError, host: str, port: int) -> str:
    """A failed listen in Go's words (``listen tcp 127.0.0.1:80: bind: address already in use``)."""
    why = os.strerror(exc.errno) if exc.errno else str(exc)
    return f"listen tcp {hostport(host, port)}: bind: {why[:1].lower()}{why[1:]}"


def reply_json(status: int, data: object, end: str = "") -> Reply:
    """A JSON answer, compact as Go's ``json.Marshal`` writes it (errors end with a newline)."""
    body = json.dumps(data, separators=(",", ":"), ensure_ascii=False) + end
    return status, "application/json", body.encode()


def proxy_json(
    name: str, listen: str, upstream: str, enabled: bool, toxics: list[Toxic]
) -> dict[str, Any]:
    """A proxy as toxiproxy shows it; its toxics the upstream chain first, then downstream."""
    chain = sorted(toxics, key=lambda t: t.direction != "upstream")
    return {
        "name": name,
        "listen": listen,
        "upstream": upstream,
        "enabled": enabled,
        "toxics": [t.to_json() for t in chain],
    }


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _events(conn: Connection) -> list[dict[str, Any]]:
    return [
        {"time": round(e.time, 6), "kind": e.kind, "data": _b64(e.data), "note": e.note}
        for e in list(conn.events)
    ]


def connection_json(c: ProxyConnection) -> dict[str, Any]:
    """sockfix's own: one connection's bytes both ways (base64) and events."""
    return {
        "number": c.number,
        "peer": hostport(*c.peer),
        "closed": c.closed,
        "received": _b64(c.received),
        "sent": _b64(c.sent),
        "upstream_sent": _b64(c.upstream.sent),
        "upstream_received": _b64(c.upstream.received),
        "events": _events(c),
        "upstream_events": _events(c.upstream),
    }


_ROUTES: list[tuple[tuple[str, ...], dict[str, str]]] = [
    (("reset",), {"POST": "reset"}),
    (("version",), {"GET": "version"}),
    (("populate",), {"POST": "populate"}),
    (("proxies",), {"GET": "index", "POST": "create"}),
    (("proxies", "*"), {"GET": "show", "POST": "update", "PATCH": "update", "DELETE": "delete"}),
    (("proxies", "*", "toxics"), {"GET": "toxics", "POST": "add"}),
    (
        ("proxies", "*", "toxics", "*"),
        {"GET": "toxic", "POST": "change", "PATCH": "change", "DELETE": "remove"},
    ),
    (("proxies", "*", "connections"), {"GET": "connections"}),
]
NOT_FOUND: Reply = (404, "text/plain; charset=utf-8", b"404 page not found\n")
NOT_ALLOWED: Reply = (405, "", b"")


class Route(NamedTuple):
    """A request's handler (its name) and the names in its path (proxy, toxic)."""

    handler: str
    names: list[str]


def route(method: str, target: str) -> Route | Reply:
    """Where a request goes, else the 404 or 405 answer toxiproxy's router gives."""
    parts = [unquote(p) for p in urlsplit(target).path.split("/")[1:]]
    for pattern, methods in _ROUTES:
        if len(parts) != len(pattern):
            continue
        pairs = list(zip(parts, pattern, strict=True))
        if all((p != "" if want == "*" else p == want) for p, want in pairs):
            if method not in methods:
                return NOT_ALLOWED
            return Route(methods[method], [p for p, want in pairs if want == "*"])
    return NOT_FOUND
