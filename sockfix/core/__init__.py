"""The pure core: what sockfix decides, apart from the sockets and threads that carry it out.

- framing is :mod:`sockfix.framing` (public, pure, beside this package);
- :mod:`.patterns`, :mod:`.rules`, :mod:`.script`: matching, rules and the per-connection
  sans-IO script (bytes in, actions out; :mod:`.actions`);
- :mod:`.faults`: faults, their plans and the per-connection shaper;
- :mod:`.record`, :mod:`.transcript`, :mod:`.strict`, :mod:`.text`: the recording model,
  transcripts and strict reports;
- :mod:`.scenario`: scenario files (read, check, write, record-then-replay).

Nothing here opens a socket, starts a thread or sleeps, and nothing here imports from sockfix
above ``core`` but :mod:`sockfix.framing` (tests/core/test_purity.py checks both). It is
driven by :mod:`sockfix.net` and tested directly.
"""
