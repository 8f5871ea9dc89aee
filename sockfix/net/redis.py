"""RedisServer: a :class:`~sockfix.TCPServer` that speaks RESP2 and RESP3.

A thin server: the framing is :func:`sockfix.framing.resp`, each connection's script is a
:class:`~sockfix.core.resp.script.RedisScript`, and everything else (the listener, the one
executor, faults, recording, strict mode, transcripts) is the TCP server's.
"""

from __future__ import annotations

import ssl
from typing import Any, cast

from sockfix.core.record import Connection
from sockfix.core.resp.rules import CommandMatcher, RedisRule
from sockfix.core.resp.script import RedisHandler, RedisScript
from sockfix.core.script import OnUnmatched, Script
from sockfix.framing import Framing, resp
from sockfix.net.endpoint import EventListener
from sockfix.net.tcp import TCPServer
from sockfix.net.tls import ClientCert
from sockfix.net.unix import UnixPath

__all__ = ["RedisServer"]

_MISSING: Any = object()


class RedisServer(TCPServer):
    """A fake Redis on loopback: ``expect(command, *args)`` then ``reply(value)``.

    Takes every :class:`~sockfix.TCPServer` option but ``framing`` (it frames RESP itself),
    and:

    - ``handshake=True``: answer the connect handshake (``HELLO 2|3`` with a server map,
      ``CLIENT ...``, ``SELECT``, ``AUTH``, ``PING``, ``ECHO``) unless a rule names the
      command; those commands are recorded in ``handshake_commands``, not in ``commands``.
    - ``handler=``: a callable ``(command) -> value`` (a list of bytes in; a reply value out,
      or None for "unmatched") answering what no rule matches.
    - ``on_unmatched=None``: an unmatched command gets the error reply
      ``-ERR sockfix: no rule matched GET k`` and the connection stays open (strict: the test
      fails with it). ``"close"``, ``"reset"``, ``"ignore"`` or bytes act as on TCP.
    """

    kind = "RedisServer"

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        handshake: bool = True,
        handler: RedisHandler | None = None,
        strict: bool = True,
        on_unmatched: OnUnmatched | None = None,
        tls: bool | str | ssl.SSLContext | None = None,
        seed: int | None = None,
        on_event: EventListener | None = None,
        name: str | None = None,
        ordered: bool = False,
        max_connections: int | None = None,
        client_cert: ClientCert = None,
        unix: bool | UnixPath | None = None,
        framing: Framing | None = _MISSING,
    ) -> None:
        if framing is not _MISSING:
            raise TypeError(
                "RedisServer frames RESP itself and takes no framing=; for another framing "
                "use sockfix.TCPServer(framing=...), or framing=sockfix.framing.resp() on a "
                "TCPServer to script raw bytes per command"
            )
        if not isinstance(handshake, bool):
            raise TypeError(f"handshake must be a bool, handshake=True or False, got {handshake!r}")
        self.handshake = handshake
        self._commands: list[list[bytes]] = []
        self._handshake_commands: list[list[bytes]] = []
        self._redis_unmatched = on_unmatched
        super().__init__(
            host=host,
            port=port,
            handler=cast(Any, handler),  # called with the command, by RedisScript
            strict=strict,
            on_unmatched=on_unmatched,
            tls=tls,
            seed=seed,
            on_event=on_event,
            name=name,
            ordered=ordered,
            max_connections=max_connections,
            client_cert=client_cert,
            unix=unix,
        )

    def _default_framing(self) -> Framing:
        return resp()

    def _make_script(self, conn: Connection) -> Script:
        return RedisScript(
            conn,
            self._book,
            self.framing,
            cast(RedisHandler | None, self.handler),
            self.strict,
            self._report.found,
            self._redis_unmatched,
            self._commands,
            self._handshake_commands,
            self.handshake,
        )

    # -- scripting ------------------------------------------------

    def expect(self, command: Any, *args: Any) -> RedisRule:
        """Add a rule for the command ``command`` (a name, case-insensitive, or sockfix.ANY)
        with exactly these arguments, each a str (its UTF-8 bytes), bytes, a compiled bytes
        regex, a callable (bytes) -> bool or sockfix.ANY."""
        self._check_not_stopped()
        return self._book.add(CommandMatcher(command, *args), RedisRule)

    # -- what tests read ------------------------------------------------

    @property
    def commands(self) -> list[list[bytes]]:
        """Every command but the default handshake's, each a list of bytes (name first, as
        sent), in arrival order over all connections."""
        return [list(c) for c in self._commands]

    @property
    def handshake_commands(self) -> list[list[bytes]]:
        """The handshake commands answered by default (``HELLO``, ``CLIENT SETINFO``...)."""
        return [list(c) for c in self._handshake_commands]

    def url(self, db: int = 0) -> str:
        """``redis://127.0.0.1:PORT/0`` (``rediss://`` with ``tls=``; ``unix:///path?db=0`` on
        a Unix socket), for ``Redis.from_url``."""
        if isinstance(db, bool) or not isinstance(db, int) or db < 0:
            raise TypeError(f"url() takes the database number as an int >= 0, got {db!r}")
        if self._unix_wanted:
            return f"unix://{self.path}?db={db}"
        host = f"[{self.host}]" if ":" in self.host else self.host
        scheme = "rediss" if self.tls is not None else "redis"
        return f"{scheme}://{host}:{self.port}/{db}"

    def _title_details(self) -> str:
        tls = self._tls_text()
        handler = "a handler" if self.handler is not None else "no handler"
        shake = "" if self.handshake else ", handshake=False"
        return f", RESP{tls}{shake}, {handler}"
