"""The ``sockfix`` command's defaults (address, bytes shown per event) and exit statuses."""

from __future__ import annotations

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 9001
DEFAULT_MAX_BYTES = 4096

EXIT_OK = 0
EXIT_PROBLEMS = 1  # a strict scenario saw problems; a recording could not be written
EXIT_USAGE = 2  # bad arguments or scenario file, unknown framing, a port that cannot be used
