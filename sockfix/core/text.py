"""Bytes as text: escaped reprs and hexdump rows, shared by errors and transcripts."""

from __future__ import annotations

__all__ = ["escaped", "hex_rows", "short"]


def escaped(data: bytes) -> str:
    """``data`` as a bytes literal without ``b''``: printable ASCII kept, the rest escaped."""
    return repr(bytes(data))[2:-1]


def short(data: bytes, limit: int = 60) -> str:
    """A bytes literal of ``data``, cut to about ``limit`` characters with the length said."""
    text = repr(bytes(data))
    if len(text) <= limit:
        return text
    return f"{text[: limit - 4]}...' ({len(data)} bytes)"


def hex_rows(data: bytes, width: int = 16, offset: int = 0) -> list[str]:
    """``hexdump -C``-style rows: offset, hex bytes in two groups of eight, printable ASCII."""
    rows: list[str] = []
    for start in range(0, len(data), width):
        chunk = data[start : start + width]
        hexes = " ".join(f"{b:02x}" for b in chunk[:8])
        if len(chunk) > 8:
            hexes += "  " + " ".join(f"{b:02x}" for b in chunk[8:])
        text = "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
        rows.append(f"{offset + start:08x}  {hexes:<{width * 3 + 1}} |{text}|")
    return rows
