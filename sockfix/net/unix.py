"""AF_UNIX stream sockets: socket files with short paths, made and removed cleanly.

A path must fit the platform's ``sun_path`` (108 bytes on Linux, 104 on macOS and the BSDs, with
its terminating NUL). ``unix=True`` makes a fresh folder under a short temporary directory
(``/tmp`` where it is writable: pytest's ``tmp_path`` and macOS's ``$TMPDIR`` are too long) and
listens on ``s`` in it; ``stop()`` removes the socket file and that folder. An explicit path's
folder must exist; a stale socket file there (left by a run that crashed) is replaced, anything
else is never touched.
"""

from __future__ import annotations

import contextlib
import os
import socket
import stat
import sys
import tempfile
from pathlib import Path

__all__ = [
    "SUN_PATH_MAX",
    "UnixPath",
    "check_path",
    "identity",
    "make_path",
    "peer_of",
    "remove",
    "unlink_stale",
]

SUN_PATH_MAX = 108 if sys.platform.startswith("linux") else 104
"""The size of ``sockaddr_un.sun_path`` here, its terminating NUL included."""

UnixPath = str | os.PathLike[str]


def check_path(path: object) -> str:
    """``path`` as a str that fits ``sun_path``; TypeError / ValueError / FileNotFoundError
    naming the fix."""
    if isinstance(path, bytes) or not isinstance(path, str | os.PathLike):
        raise TypeError(f"unix= takes True (a fresh short path) or a path as a str, got {path!r}")
    text = os.fspath(path)
    if not text:
        raise ValueError("unix='' is no path: pass unix=True for a fresh short one")
    if "\0" in text:
        raise ValueError(
            f"unix={text!r}: Linux abstract sockets (a name starting with NUL) are not "
            "supported: pass a path, or unix=True"
        )
    size = len(os.fsencode(text))
    if size >= SUN_PATH_MAX:
        raise ValueError(
            f"unix={text!r} is {size} bytes: a Unix socket path must be under {SUN_PATH_MAX} "
            f"bytes on this platform (sun_path, {SUN_PATH_MAX - 1} and a NUL); use a shorter "
            "path, or unix=True for a fresh short one (not pytest's tmp_path: it is too long)"
        )
    folder = Path(text).parent
    if not folder.is_dir():
        raise FileNotFoundError(
            f"unix={text!r}: its folder {str(folder)!r} does not exist: create it first, or "
            "pass unix=True for a fresh path"
        )
    return text


def _short_base() -> str:
    for base in ("/tmp", tempfile.gettempdir()):
        if os.path.isdir(base) and os.access(base, os.W_OK | os.X_OK):
            return base
    return tempfile.gettempdir()  # pragma: no cover - no writable temporary folder at all


def make_path() -> tuple[str, str]:
    """A fresh socket path in a new folder: ``(path, folder)``."""
    folder = tempfile.mkdtemp(prefix="sockfix-", dir=_short_base())
    path = os.path.join(folder, "s")
    if len(os.fsencode(path)) >= SUN_PATH_MAX:  # pragma: no cover - a very long /tmp
        os.rmdir(folder)
        raise ValueError(
            f"the temporary folder {folder!r} is too deep for a Unix socket path (under "
            f"{SUN_PATH_MAX} bytes): pass unix= a short path of your own"
        )
    return path, folder


def unlink_stale(path: str) -> None:
    """Remove a socket file left at ``path`` by an earlier run (nothing listens on it);
    anything else at ``path`` is an error naming it, never removed."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        raise FileExistsError(
            f"unix={path!r}: a file that is not a socket is in the way; sockfix will not "
            "remove it: pick another path"
        )
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.settimeout(0.5)
        probe.connect(path)
    except (ConnectionRefusedError, FileNotFoundError):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)  # stale: nothing listens
        return
    except OSError:
        return  # cannot tell: let bind() say what is wrong
    finally:
        probe.close()
    raise OSError(
        f"unix={path!r}: another server is listening on that socket file: stop it, or pick "
        "another path (or unix=True)"
    )


def identity(path: str) -> tuple[int, int, int] | None:
    """The socket file's (device, inode, change time) just after bind: whose file it is (an
    inode number alone is reused at once when a file is replaced)."""
    try:
        st = os.lstat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino, st.st_ctime_ns)


def remove(path: str | None, folder: str | None, bound: tuple[int, int, int] | None = None) -> None:
    """Remove the socket file, if it is still the one this server bound (another server may
    have replaced it meanwhile), and the folder sockfix made for it."""
    if path is not None:
        with contextlib.suppress(OSError):
            st = os.lstat(path)
            mine = bound is None or bound == (st.st_dev, st.st_ino, st.st_ctime_ns)
            if stat.S_ISSOCK(st.st_mode) and mine:
                os.unlink(path)
    if folder is not None:
        with contextlib.suppress(OSError):
            os.rmdir(folder)


def peer_of(address: object) -> tuple[str, int]:
    """A Unix socket client's address as a recording's ``peer``: its path (most clients have
    none: ``"unix client"``) and port 0."""
    if isinstance(address, bytes):
        address = address.decode(errors="replace")
    return (str(address) if address else "unix client", 0)
