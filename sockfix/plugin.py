"""The pytest plugin (entry point ``pytest11: sockfix``): options, fixtures, the report section.

Its own work is bookkeeping: which servers a test made (and which fixture scope owns them),
settling them and raising their strict problems when the test body ends, and adding their
transcripts to the report. Servers stop and check themselves, and transcripts render
themselves.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from typing import Any

import pytest

from sockfix.core.errors import StrictError
from sockfix.net.http import HTTPServer
from sockfix.net.proxy import TCPProxy
from sockfix.net.redis import RedisServer
from sockfix.net.runtime import TestSeed, seeded, watch
from sockfix.net.tcp import TCPServer
from sockfix.net.udp import UDPServer
from sockfix.testing import FIXTURE_UNDER_GIVEN, fixtures_under_given

__all__ = ["SECTION_TITLE", "TRANSCRIPT_CHOICES"]

SECTION_TITLE = "sockfix"
TRANSCRIPT_OPTION = "--sockfix-transcript"
TRANSCRIPT_CHOICES = ("on-failure", "always", "never")
TRANSCRIPT_DESC = (
    "when to add the traffic of every sockfix server a test used to its report: "
    "on-failure (default), always, never"
)
SEED_OPTION = "--sockfix-seed"
SEED_DESC = (
    "the seed of each test: every server a test makes with seed=None derives its seed from it "
    "and the order it was made in (replays the same faults)"
)
MAX_SERVERS_SHOWN = 8

_SEEN = pytest.StashKey[list[Any]]()
_MADE = pytest.StashKey[list[Any]]()
_CALL_FAILED = pytest.StashKey[bool]()
_SEED = pytest.StashKey[TestSeed]()
_INTERRUPTED = pytest.StashKey[tuple[str, str]]()
# Config-wide: the fixtures being set up right now (innermost last), and the servers made by
# fixtures wider than a function (they outlive one test; stopped when their fixture ends).
_SETTING_UP = pytest.StashKey[list[Any]]()
_WIDER = pytest.StashKey[list[tuple[Any, Any]]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("sockfix", "sockfix fake network peers")
    group.addoption(
        TRANSCRIPT_OPTION,
        choices=TRANSCRIPT_CHOICES,
        default=None,
        dest="sockfix_transcript",
        help=TRANSCRIPT_DESC,
    )
    parser.addini("sockfix_transcript", TRANSCRIPT_DESC, default="on-failure")
    group.addoption(SEED_OPTION, type=int, default=None, dest="sockfix_seed", help=SEED_DESC)


def _transcript_mode(config: pytest.Config) -> str:
    mode = config.getoption("sockfix_transcript") or config.getini("sockfix_transcript")
    if mode not in TRANSCRIPT_CHOICES:
        raise pytest.UsageError(
            f"sockfix_transcript = {mode!r} in the ini file: choose one of "
            f"{', '.join(TRANSCRIPT_CHOICES)}"
        )
    return str(mode)


def pytest_configure(config: pytest.Config) -> None:
    _transcript_mode(config)


@pytest.hookimpl(wrapper=True)
def pytest_fixture_setup(
    fixturedef: pytest.FixtureDef[Any], request: pytest.FixtureRequest
) -> Generator[None, object, object]:
    setting_up = request.config.stash.setdefault(_SETTING_UP, [])
    setting_up.append(fixturedef)
    try:
        return (yield)
    finally:
        setting_up.pop()


def pytest_fixture_post_finalizer(
    fixturedef: pytest.FixtureDef[Any], request: pytest.FixtureRequest
) -> None:
    # A wider fixture ended: stop (quietly) what it made and forgot, and forget it.
    wider = request.config.stash.get(_WIDER, [])
    for server, _ in [w for w in wider if w[1] is fixturedef]:
        server.stop(check=False)
    wider[:] = [w for w in wider if w[1] is not fixturedef]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Warn about ``@given`` tests that take a server fixture (one server for every example)."""
    for item in items:
        used = fixtures_under_given(getattr(item, "obj", None), getattr(item, "fixturenames", ()))
        # tcp_server asks for make_tcp_server itself: name only what the test asked for.
        used = [f for f in used if not (f.startswith("make_") and f[len("make_") :] in used)]
        if used:
            text = FIXTURE_UNDER_GIVEN.format(test=item.nodeid, fixtures=", ".join(used))
            item.warn(pytest.PytestWarning(text))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(
    item: pytest.Item, nextitem: pytest.Item | None
) -> Generator[None, object, object]:
    seen: list[Any] = []
    item.stash[_SEEN] = seen
    item.stash[_MADE] = []
    item.stash[_CALL_FAILED] = False
    setting_up = item.config.stash.setdefault(_SETTING_UP, [])
    wider = item.config.stash.setdefault(_WIDER, [])

    def created(server: Any) -> None:
        fixturedef = setting_up[-1] if setting_up else None
        if fixturedef is not None and fixturedef.scope != "function":
            wider.append((server, fixturedef))  # its fixture owns it, across tests
        else:
            seen.append(server)

    interrupted = False
    try:
        # One seed per test (--sockfix-seed, or one picked): every server the test makes with
        # seed=None, the fixtures' and its own, derives its seed from it and its order.
        with watch(created), seeded(item.config.getoption("sockfix_seed")) as seed:
            item.stash[_SEED] = seed
            return (yield)
    except KeyboardInterrupt:  # Ctrl-C: pytest makes no report, so keep the section for later
        interrupted = True
        raise
    finally:
        for server in seen:  # servers a test started and never stopped: stop them, quietly
            server.stop(check=False)
        servers = _servers_of(item)
        if interrupted and servers and _transcript_mode(item.config) != "never":
            text = _render(servers, item.stash.get(_SEED, None))
            item.config.stash[_INTERRUPTED] = (item.nodeid, text)


def _servers_of(item: pytest.Item) -> list[Any]:
    """The servers to show for ``item``: those of wider fixtures it uses, then its own."""
    names = set(getattr(item, "fixturenames", ()))
    wider = item.config.stash.get(_WIDER, [])
    shared = [s for s, fixturedef in wider if fixturedef.argname in names]
    return shared + item.stash.get(_SEEN, [])


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, object, object]:
    __tracebackhide__ = True  # the report shows the StrictError's text, not this hook
    result = yield
    # The test body passed: report strict problems now, as a failure of the test itself.
    errors: list[StrictError] = []
    for server in item.stash.get(_SEEN, []):  # the fixtures' servers and the body's own
        server.settle()
        try:
            server.check()
        except StrictError as exc:
            errors.append(exc)
    _raise_all(errors)
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.when in ("setup", "call") and (report.failed or report.skipped):
        item.stash[_CALL_FAILED] = True  # failed or skipped: teardown adds no strict error
    mode = _transcript_mode(item.config)
    servers = _servers_of(item)
    wanted = (mode == "always" and report.when == "call") or (mode != "never" and report.failed)
    if servers and wanted:
        report.sections.append((SECTION_TITLE, _render(servers, item.stash.get(_SEED, None))))
    return report


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """After Ctrl-C: the section of the test that was running (no report carries it)."""
    interrupted = terminalreporter.config.stash.get(_INTERRUPTED, None)
    if interrupted is not None:
        nodeid, text = interrupted
        terminalreporter.write_sep("-", f"{SECTION_TITLE} (interrupted in {nodeid})")
        terminalreporter.write_line(text)


def _render(servers: list[Any], seed: TestSeed | None) -> str:
    shown = servers[-MAX_SERVERS_SHOWN:]
    parts = []
    if seed is not None and any(s.test_seed is seed for s in servers):
        how = "picked for this test" if seed.picked else f"from {SEED_OPTION}"
        parts.append(
            f"test seed {seed.seed} ({how}): {SEED_OPTION}={seed.seed} replays the faults of "
            "every server this test made"
        )
    if len(servers) > len(shown):
        parts.append(
            f"({len(servers) - len(shown)} earlier servers of this test not shown; "
            f"the last {len(shown)} follow)"
        )
    parts += [s.transcript() for s in shown]
    return "\n\n".join(parts)


def _raise_all(errors: list[StrictError]) -> None:
    __tracebackhide__ = True
    if len(errors) == 1:
        raise errors[0].with_traceback(None)  # its text says it all; check()'s frame does not
    if errors:
        raise StrictError(
            "\n\n".join(str(e) for e in errors), [p for e in errors for p in e.problems]
        )


def _factory(request: pytest.FixtureRequest, cls: type[Any]) -> Iterator[Callable[..., Any]]:
    __tracebackhide__ = True
    made: list[Any] = []
    item_made = request.node.stash.get(_MADE, None)

    def make(**kwargs: Any) -> Any:
        server = cls(**kwargs)
        server.start()
        made.append(server)
        if item_made is not None:
            item_made.append(server)
        return server

    yield make
    errors: list[StrictError] = []
    for server in made:
        try:
            server.stop()
        except StrictError as exc:
            errors.append(exc)
    if not request.node.stash.get(_CALL_FAILED, False):
        _raise_all(errors)


@pytest.fixture
def make_tcp_server(request: pytest.FixtureRequest) -> Iterator[Callable[..., TCPServer]]:
    """A factory: ``make_tcp_server(**options)`` returns a started ``sockfix.TCPServer``.

    Takes the keywords of ``TCPServer``; everything it started is stopped at teardown, and a
    strict server's problems fail the test.
    """
    __tracebackhide__ = True
    yield from _factory(request, TCPServer)


@pytest.fixture
def tcp_server(make_tcp_server: Callable[..., TCPServer]) -> TCPServer:
    """A started ``sockfix.TCPServer`` on 127.0.0.1 and an ephemeral port, stopped at teardown."""
    return make_tcp_server()


@pytest.fixture
def make_http_server(request: pytest.FixtureRequest) -> Iterator[Callable[..., HTTPServer]]:
    """A factory: ``make_http_server(**options)`` returns a started ``sockfix.HTTPServer``.

    Takes the keywords of ``HTTPServer``; everything it started is stopped at teardown, and a
    strict server's problems (an unmatched request among them) fail the test.
    """
    __tracebackhide__ = True
    yield from _factory(request, HTTPServer)


@pytest.fixture
def http_server(make_http_server: Callable[..., HTTPServer]) -> HTTPServer:
    """A started ``sockfix.HTTPServer`` on 127.0.0.1 and an ephemeral port, stopped at
    teardown; ``http_server.url("/path")`` is the URL to point a client at."""
    return make_http_server()


@pytest.fixture
def make_redis_server(request: pytest.FixtureRequest) -> Iterator[Callable[..., RedisServer]]:
    """A factory: ``make_redis_server(**options)`` returns a started ``sockfix.RedisServer``.

    Takes the keywords of ``RedisServer``; everything it started is stopped at teardown, and a
    strict server's problems (an unmatched command among them) fail the test.
    """
    __tracebackhide__ = True
    yield from _factory(request, RedisServer)


@pytest.fixture
def redis_server(make_redis_server: Callable[..., RedisServer]) -> RedisServer:
    """A started ``sockfix.RedisServer`` on 127.0.0.1 and an ephemeral port, stopped at
    teardown; point redis-py at ``redis_server.url()`` (or its host and port)."""
    return make_redis_server()


@pytest.fixture
def make_udp_server(request: pytest.FixtureRequest) -> Iterator[Callable[..., UDPServer]]:
    """A factory: ``make_udp_server(**options)`` returns a started ``sockfix.UDPServer``.

    Takes the keywords of ``UDPServer``; everything it started is stopped at teardown, and a
    strict server's problems fail the test.
    """
    __tracebackhide__ = True
    yield from _factory(request, UDPServer)


@pytest.fixture
def udp_server(make_udp_server: Callable[..., UDPServer]) -> UDPServer:
    """A started ``sockfix.UDPServer`` on 127.0.0.1 and an ephemeral port, stopped at teardown."""
    return make_udp_server()


@pytest.fixture
def make_tcp_proxy(request: pytest.FixtureRequest) -> Iterator[Callable[..., TCPProxy]]:
    """A factory: ``make_tcp_proxy(upstream=(host, port), **options)`` returns a started
    ``sockfix.TCPProxy`` in front of ``upstream``; every proxy it started is stopped at
    teardown and shown in a failing test's report."""
    __tracebackhide__ = True
    yield from _factory(request, TCPProxy)
