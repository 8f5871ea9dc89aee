"""TLS made easy: one throwaway CA per process (trustme), server certificates for ``localhost``,
``127.0.0.1`` and ``::1``, presets that fail a real client the way production does, and the
contexts for both sides.

Everything is made in memory and written only to one temporary folder, removed at exit; the CA
is made on first use and shared by every server of the test session (each xdist worker is a
process with its own). Without the ``tls`` extra (trustme), asking for any of it raises an
``ImportError`` that names ``pip install 'sockfix[tls]'``.
"""

from __future__ import annotations

import atexit
import contextlib
import datetime
import select
import shutil
import socket
import ssl
import tempfile
import threading
from pathlib import Path
from typing import Any, Literal

__all__ = [
    "CLIENT_CERT_CHOICES",
    "PRESETS",
    "ClientCert",
    "SharedTLSSocket",
    "TLSMaterial",
    "resolve_tls",
    "shared_wrap",
]

PRESETS = ("expired", "not-yet-valid", "wrong-host", "self-signed", "unknown-ca")
"""``tls=`` presets: certificates a correct client must refuse, each for its own reason."""

ClientCert = Literal["required", "optional"] | None
CLIENT_CERT_CHOICES = ("required", "optional")
HOSTS = ("localhost", "127.0.0.1", "::1")
WRONG_HOST = "wrong-host.sockfix.invalid"
_INSTALL = "pip install 'sockfix[tls]'"


def _trustme() -> Any:
    try:
        import trustme
    except ImportError:
        raise ImportError(
            f"tls=True (and the tls presets) need trustme, which the tls extra brings: {_INSTALL}"
            " (or pass tls= an ssl.SSLContext of your own)"
        ) from None
    return trustme


class _Session:
    """The process's CA, its folder, and the certificates made so far (one per preset)."""

    def __init__(self) -> None:
        trustme = _trustme()
        self.trustme = trustme
        self.folder = Path(tempfile.mkdtemp(prefix="sockfix-tls-"))
        atexit.register(shutil.rmtree, self.folder, True)
        self.ca = trustme.CA(organization_name="sockfix throwaway test CA")
        self.ca_path = str(self.folder / "ca.pem")
        self.ca.cert_pem.write_to_path(self.ca_path)
        self._lock = threading.Lock()
        self._made: dict[str, Any] = {}

    def leaf(self, kind: str) -> tuple[str, str | None]:
        """The files of the certificate of ``kind`` ("valid", a preset, or "client"), in the
        session folder: ``(chain and key, None)``, or for "self-signed" ``(cert, key)``.
        Written once, loaded from there: nothing goes anywhere else."""
        with self._lock:
            if kind not in self._made:
                made = self._make(kind)
                if isinstance(made, tuple):
                    self._made[kind] = made
                else:
                    path = str(self.folder / f"{kind}.pem")
                    made.private_key_and_cert_chain_pem.write_to_path(path)
                    self._made[kind] = (path, None)
            return self._made[kind]  # type: ignore[no-any-return]

    def _make(self, kind: str) -> Any:
        now = datetime.datetime.now(datetime.UTC)
        day = datetime.timedelta(days=1)
        if kind == "valid":
            return self.ca.issue_cert(*HOSTS)
        if kind == "client":
            return self.ca.issue_cert("client.sockfix.test", common_name="sockfix test client")
        if kind == "expired":
            return self.ca.issue_cert(*HOSTS, not_before=now - 30 * day, not_after=now - day)
        if kind == "not-yet-valid":
            return self.ca.issue_cert(*HOSTS, not_before=now + day, not_after=now + 30 * day)
        if kind == "wrong-host":
            return self.ca.issue_cert(WRONG_HOST)
        if kind == "self-signed":  # a CA's own certificate, served as the leaf: depth 0
            own = self.trustme.CA(organization_name="sockfix self-signed")
            cert, key = self.folder / "self-signed.pem", self.folder / "self-signed-key.pem"
            own.cert_pem.write_to_path(str(cert))
            own.private_key_pem.write_to_path(str(key))
            return (str(cert), str(key))
        if kind == "unknown-ca":
            other = self.trustme.CA(organization_name="sockfix unknown CA")
            return other.issue_cert(*HOSTS)
        raise AssertionError(kind)


_SESSION: _Session | None = None
_SESSION_LOCK = threading.Lock()


def session() -> _Session:
    """The process's TLS session (made on first use)."""
    global _SESSION
    with _SESSION_LOCK:
        if _SESSION is None:
            _SESSION = _Session()
        return _SESSION


class TLSMaterial:
    """What a TLS endpoint made with ``tls=True`` or a preset knows: its server context, the
    CA a client must trust, and (for mutual TLS) a client certificate."""

    def __init__(self, preset: str, client_cert: ClientCert) -> None:
        s = session()
        self.preset = preset
        self.client_cert = client_cert
        self.ca_path = s.ca_path
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(*s.leaf(preset))
        if client_cert is not None:
            ctx.verify_mode = ssl.CERT_REQUIRED if client_cert == "required" else ssl.CERT_OPTIONAL
            s.ca.configure_trust(ctx)
        self.server_context = ctx

    def client_context(self) -> ssl.SSLContext:
        """A client-side context that trusts the session CA (and, for mutual TLS, carries a
        client certificate it issued). A preset still fails: the certificate is what is wrong."""
        s = session()
        ctx = ssl.create_default_context(cafile=self.ca_path)
        if self.client_cert is not None:
            ctx.load_cert_chain(*s.leaf("client"))
        return ctx


def resolve_tls(
    tls: object, client_cert: object, *, what: str = "tls"
) -> tuple[ssl.SSLContext | None, TLSMaterial | None]:
    """The server context for ``tls=`` (None, True, a preset name, or an SSLContext) and, when
    sockfix made it, its material."""
    if client_cert is not None and client_cert not in CLIENT_CERT_CHOICES:
        raise ValueError(f"client_cert must be 'required', 'optional' or None, got {client_cert!r}")
    if tls is None or tls is False:
        if client_cert is not None:
            raise ValueError(f"client_cert={client_cert!r} needs TLS: pass {what}=True as well")
        return None, None
    if isinstance(tls, ssl.SSLContext):
        if client_cert is not None:
            raise ValueError(
                f"client_cert= applies to {what}=True or a preset; with an SSLContext of your "
                "own, set its verify_mode and load_verify_locations yourself"
            )
        return tls, None
    if tls is True:
        material = TLSMaterial("valid", client_cert)  # type: ignore[arg-type]
        return material.server_context, material
    if isinstance(tls, str):
        if tls not in PRESETS:
            raise ValueError(
                f"{what}={tls!r} is not a preset: choose True, one of {', '.join(PRESETS)}, or "
                "an ssl.SSLContext (server side)"
            )
        material = TLSMaterial(tls, client_cert)  # type: ignore[arg-type]
        return material.server_context, material
    raise TypeError(
        f"{what} must be True, a preset ({', '.join(PRESETS)}) or an ssl.SSLContext (server "
        f"side), got {tls!r}"
    )


def no_material(kind: str, tls: ssl.SSLContext | None) -> RuntimeError:
    """The error for ``client_context()`` / ``ca_path`` on an endpoint sockfix made no CA for."""
    if tls is None:
        return RuntimeError(
            f"the {kind} has no TLS: pass tls=True for a throwaway CA and certificate, then "
            "use client_context() or ca_path"
        )
    return RuntimeError(
        f"the {kind} uses an ssl.SSLContext of your own, so sockfix knows no CA for it: trust "
        "your own certificate in the client, or pass tls=True instead"
    )


class SharedTLSSocket(ssl.SSLSocket):
    """An ``SSLSocket`` that one thread reads while another writes (the proxy's two ways).

    OpenSSL's connection object must not be used by two threads at once, and a blocking read
    would hold it while it waits. So the socket is non-blocking under the hood: each read and
    each write takes a lock for the OpenSSL call only, and waits for the socket (in ``poll``,
    without the lock) when OpenSSL wants more. A shutdown of the socket (``stop()``) wakes a
    waiting thread, which then sees the stream end.
    """

    _shared_lock: threading.Lock

    def _shared_wait(self, want: int) -> None:
        poller = select.poll()
        poller.register(self.fileno(), want | select.POLLHUP | select.POLLERR)
        poller.poll()

    def recv(self, buflen: int = 1024, flags: int = 0) -> bytes:
        while True:
            with self._shared_lock:
                try:
                    return super().recv(buflen, flags)
                except ssl.SSLWantReadError:
                    want = select.POLLIN
                except ssl.SSLWantWriteError:
                    want = select.POLLOUT
            self._shared_wait(want)

    def send(self, data: Any, flags: int = 0) -> int:
        while True:
            with self._shared_lock:
                try:
                    return super().send(data, flags)
                except ssl.SSLWantWriteError:
                    want = select.POLLOUT
                except ssl.SSLWantReadError:
                    want = select.POLLIN
            self._shared_wait(want)

    def sendall(self, data: Any, flags: int = 0) -> None:
        view = memoryview(data)
        done = 0
        while done < len(view):
            done += self.send(view[done:], flags)

    def pending(self) -> int:
        with self._shared_lock:
            return super().pending()

    def close_notify(self) -> None:
        """Say "no more data" the TLS way (a close_notify alert) before the FIN of a
        half-close, so the peer sees a clean end, not a truncation; reading goes on."""
        with self._shared_lock:
            sslobj = getattr(self, "_sslobj", None)
            if sslobj is None:
                return
            with contextlib.suppress(ssl.SSLError, OSError):  # SSLWantRead... included
                sslobj.shutdown()  # sends close_notify; the peer's own comes later, or never


def shared_wrap(
    context: ssl.SSLContext,
    sock: socket.socket,
    *,
    server_side: bool,
    server_hostname: str | None = None,
) -> SharedTLSSocket:
    """``sock`` wrapped by ``context`` as a :class:`SharedTLSSocket`, not handshaken yet: call
    ``do_handshake()`` (blocking, one thread), then :func:`share`."""
    # SSLContext.wrap_socket makes context.sslsocket_class: call the same constructor with
    # ours, without changing the context (it may be the user's).
    create = SharedTLSSocket._create  # type: ignore[attr-defined]
    wrapped: SharedTLSSocket = create(
        sock=sock,
        server_side=server_side,
        do_handshake_on_connect=False,
        suppress_ragged_eofs=True,
        server_hostname=server_hostname,
        context=context,
        session=None,
    )
    wrapped._shared_lock = threading.Lock()
    return wrapped


def share(sock: SharedTLSSocket) -> None:
    """After the (blocking) handshake: from now on reads and writes may come from two threads."""
    sock.setblocking(False)
