"""The pure core: framing, matching, rules, the per-connection script, records, transcripts.

Nothing here opens a socket, starts a thread or sleeps: it is driven by ``sockfix.net`` and
tested directly.
"""
