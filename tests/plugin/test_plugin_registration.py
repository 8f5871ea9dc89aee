"""The plugin is found through its entry point, and its options are documented in --help."""

from __future__ import annotations

import re

import pytest

from sockfix.plugin import SEED_DESC, TRANSCRIPT_CHOICES, TRANSCRIPT_DESC


def _squeezed(text: str) -> str:
    """``text`` without whitespace, so help text compares whatever argparse wrapped."""
    return re.sub(r"\s+", "", text)


def test_the_entry_point_registers_the_plugin(pytester: pytest.Pytester, run) -> None:
    pytester.makepyfile(
        """
        import importlib.metadata

        import sockfix.plugin

        def test_registered(request):
            pm = request.config.pluginmanager
            assert pm.hasplugin("sockfix")
            assert pm.get_plugin("sockfix") is sockfix.plugin
            (ep,) = [
                ep for ep in importlib.metadata.entry_points(group="pytest11")
                if ep.name == "sockfix"
            ]
            assert ep.value == "sockfix.plugin"
        """
    )
    result = run("--trace-config")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*sockfix*: */sockfix/plugin.py", "plugins: sockfix-*"])


def test_no_sockfix_disables_the_plugin_and_its_fixtures(pytester: pytest.Pytester, run) -> None:
    pytester.makepyfile(
        """
        def test_uses(tcp_server):
            pass
        """
    )
    result = run("-p", "no:sockfix")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*fixture 'tcp_server' not found*"])


def test_options_and_ini_appear_in_help(run) -> None:
    result = run("--help")
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        [
            "sockfix fake network peers:",
            "*--sockfix-transcript=*",
            "*--sockfix-seed=*",
        ]
    )
    text = _squeezed(result.stdout.str())
    assert _squeezed(TRANSCRIPT_DESC) in text
    assert _squeezed(SEED_DESC) in text
    assert "{" + ",".join(TRANSCRIPT_CHOICES) + "}" in text
    result.stdout.fnmatch_lines(["*sockfix_transcript (string):*"])


def test_fixtures_are_listed_with_their_docs(run) -> None:
    result = run("--fixtures")
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        [
            "*tcp_server*",
            "*A started ``sockfix.TCPServer``*",
        ]
    )
    result.stdout.fnmatch_lines(["*make_tcp_server*", "*A factory*"])


def test_a_bad_transcript_choice_is_a_usage_error(pytester: pytest.Pytester, run) -> None:
    pytester.makepyfile("def test_nothing(): pass")
    result = run("--sockfix-transcript=sometimes")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--sockfix-transcript*invalid choice*sometimes*"])


def test_a_bad_seed_is_a_usage_error(pytester: pytest.Pytester, run) -> None:
    pytester.makepyfile("def test_nothing(): pass")
    result = run("--sockfix-seed=abc")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--sockfix-seed*invalid int value*abc*"])
