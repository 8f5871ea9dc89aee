"""The HTTP/1.1 kit: pure codec, framing scanner, rules and script."""
