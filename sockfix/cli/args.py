"""Argument types of the ``sockfix`` command: ports, counts, seeds, durations, rates,
addresses and faults, each refusing a bad value with a message that names the fix."""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from typing import Any

from sockfix import faults as _faults


def _port(text: str) -> int:
    try:
        port = int(text, 10)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not in 0..65535 (0 picks a free one)")
    return port


def _non_negative(text: str) -> int:
    try:
        n = int(text, 10)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if n < 0:
        raise argparse.ArgumentTypeError(f"{n} is negative (0 shows everything)")
    return n


def _count(text: str) -> int:
    """A byte count: a whole number >= 0."""
    try:
        n = int(text, 10)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of bytes") from None
    if n < 0:
        raise argparse.ArgumentTypeError(f"{n} is negative: write a number of bytes >= 0")
    return n


def _positive(text: str) -> int:
    try:
        n = int(text, 10)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"{n} is not positive: write a size >= 1")
    return n


def _seed(text: str) -> int:
    try:
        return int(text, 10)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer seed") from None


_DURATION = re.compile(r"(?P<n>\d+(?:\.\d*)?|\.\d+)\s*(?P<unit>ms|s)?")


def parse_duration(text: str) -> float:
    """Seconds from ``50ms``, ``0.05s``, ``0.05`` or ``1s``; ValueError otherwise."""
    m = _DURATION.fullmatch(text.strip())
    if m is None:
        raise ValueError(
            f"{text!r} is not a duration: write seconds (0.05, 1s) or milliseconds (50ms)"
        )
    seconds = float(m["n"])
    return seconds / 1000 if m["unit"] == "ms" else seconds


_RATE = re.compile(r"(?P<n>\d+(?:\.\d*)?|\.\d+)\s*(?P<unit>k|K|M|Ki|Mi)?(?:B)?(?:/s)?")
_RATE_UNITS = {None: 1, "k": 1000, "K": 1000, "M": 1_000_000, "Ki": 1024, "Mi": 1024 * 1024}


def parse_rate(text: str) -> int:
    """Bytes per second from ``65536``, ``64k`` (x1000), ``1.5M``, ``64Ki`` (x1024), ``1Mi``."""
    m = _RATE.fullmatch(text.strip())
    if m is None:
        raise ValueError(
            f"{text!r} is not a rate: write bytes per second, e.g. 65536, 64k (x1000), "
            "1.5M (x1000000), 64Ki (x1024)"
        )
    rate = round(float(m["n"]) * _RATE_UNITS[m["unit"]])
    if rate < 1:
        raise ValueError(f"{text!r} is below 1 byte per second")
    return rate


def parse_address(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (IPv6 as ``[::1]:PORT``) as a pair; ValueError naming the fix."""
    example = "write HOST:PORT, e.g. 127.0.0.1:6379 or [::1]:6379"
    if text.startswith("["):
        host, bracket, rest = text[1:].partition("]")
        if not bracket or not rest.startswith(":"):
            raise ValueError(f"{text!r} has no port: {example}")
        port_text = rest[1:]
    else:
        host, colon, port_text = text.rpartition(":")
        if not colon:
            raise ValueError(f"{text!r} has no port: {example}")
        if ":" in host:
            raise ValueError(f"{text!r}: write an IPv6 address in brackets, e.g. [{host}]:PORT")
    if not host:
        raise ValueError(f"{text!r} has no host: {example}")
    try:
        port = int(port_text, 10)
    except ValueError:
        raise ValueError(f"{text!r}: {port_text!r} is not a port number; {example}") from None
    if not 1 <= port <= 65535:
        raise ValueError(f"{text!r}: port {port} is not in 1..65535")
    return host, port


def _argtype(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    """An argparse ``type=`` from a parser that raises ValueError with a message."""

    def convert(text: str) -> Any:
        try:
            return parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    convert.__name__ = parse.__name__
    return convert


def _fault_value(text: str) -> int | float:
    try:
        return int(text, 10)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        pass
    try:
        return parse_duration(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a number") from None


def parse_fault(spec: str) -> _faults.Fault:
    """``NAME`` or ``NAME:ARG,ARG,KEY=VALUE`` as a fault (``sockfix.faults.build``)."""
    name, _, arg_text = spec.partition(":")
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    names = ", ".join(sorted(_faults.REGISTRY))
    try:
        for part in filter(None, (p.strip() for p in arg_text.split(","))):
            key, equals, value = part.partition("=")
            if equals:
                kwargs[key.strip()] = _fault_value(value.strip())
            else:
                args.append(_fault_value(part))
        return _faults.build(name.strip(), *args, **kwargs)
    except (TypeError, ValueError) as exc:
        hint = "" if "choose from" in str(exc) else f" (faults: {names})"
        raise ValueError(
            f"{spec!r}: {_one_line(exc)}; write NAME or NAME:ARG,KEY=VALUE, e.g. corrupt:0.01{hint}"
        ) from None


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split("\n"))
