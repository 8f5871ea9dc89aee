"""The Redis (RESP) kit: pure codec, framing scanner, rules and script."""
