"""sockfix: throwaway fake network peers for pytest.

A test gets a real TCP server on an ephemeral loopback port, scripts what it answers, points
its own client at it, and asserts on the exact bytes that crossed the wire.
"""

from __future__ import annotations

from sockfix import faults, framing
from sockfix.core.errors import PortInUseError, ScenarioError, StrictError
from sockfix.core.handlers import echo
from sockfix.core.http.codec import Headers, HTTPRequest
from sockfix.core.http.rules import HTTPRule
from sockfix.core.patterns import ANY
from sockfix.core.record import Connection, Datagram, Event, ProxyConnection
from sockfix.core.resp.codec import Error as ErrorReply
from sockfix.core.resp.rules import RedisRule
from sockfix.core.rules import Rule
from sockfix.net.http import HTTPServer
from sockfix.net.proxy import TCPProxy
from sockfix.net.redis import RedisServer
from sockfix.net.tcp import TCPServer
from sockfix.net.toxiproxy import ToxiproxyServer
from sockfix.net.udp import UDPServer

__version__ = "0.1.0"

__all__ = [
    "ANY",
    "Connection",
    "Datagram",
    "ErrorReply",
    "Event",
    "HTTPRequest",
    "HTTPRule",
    "HTTPServer",
    "Headers",
    "PortInUseError",
    "ProxyConnection",
    "RedisRule",
    "RedisServer",
    "Rule",
    "ScenarioError",
    "StrictError",
    "TCPProxy",
    "TCPServer",
    "ToxiproxyServer",
    "UDPServer",
    "echo",
    "faults",
    "framing",
]
