"""``python -m sockfix``: the same as the ``sockfix`` command."""

from __future__ import annotations

import sys

from sockfix.cli import main

if __name__ == "__main__":
    sys.exit(main())
