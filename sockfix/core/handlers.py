"""Ready-made handlers: code that answers in place of rules."""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["echo", "handler_text"]


def echo(transform: Callable[[bytes], bytes] | None = None) -> Callable[[bytes], bytes]:
    """A handler that answers each message with itself, or with ``transform(message)``.

    ``sockfix.echo(bytes.upper)`` is the classic socketserver example: it upper-cases.
    """
    if transform is None:
        return _identity
    if not callable(transform):
        raise TypeError(
            f"echo() takes a callable (bytes) -> bytes such as bytes.upper, got {transform!r}"
        )

    def echo_handler(message: bytes) -> bytes:
        return transform(message)

    echo_handler.__qualname__ = f"echo({getattr(transform, '__qualname__', repr(transform))})"
    return echo_handler


def _identity(message: bytes) -> bytes:
    return message


_identity.__qualname__ = "echo()"


def handler_text(handler: Callable[[bytes], object] | None) -> str:
    """How titles and strict errors say whether a server has a handler: ``handler echo()``."""
    if handler is None:
        return "no handler"
    return f"handler {getattr(handler, '__qualname__', None) or repr(handler)}"
