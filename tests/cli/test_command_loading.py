"""The `gateway` command imports only the module of the command it runs."""

from __future__ import annotations

import argparse
import importlib
import subprocess
import sys

import pytest

from gateway.cli.main import COMMANDS, MODULES, build_parser


def _registered(modules: list[str] | tuple[str, ...]) -> set[str]:
    parser = argparse.ArgumentParser()
    commands = parser.add_subparsers()
    for module in modules:
        importlib.import_module(f"gateway.cli.{module}").register(commands)
    return set(commands.choices)


def test_every_command_is_mapped_to_the_module_that_registers_it() -> None:
    assert set(COMMANDS.values()) <= set(MODULES)
    assert _registered(MODULES) == set(COMMANDS)
    for module in MODULES:
        assert _registered([module]) == {c for c, m in COMMANDS.items() if m == module}


@pytest.mark.parametrize("command", [*COMMANDS, None])
def test_the_parser_knows_the_command_run_and_without_one_lists_all(command: str | None) -> None:
    parser = build_parser(command)
    [subparsers] = [
        action for action in parser._actions if isinstance(action, argparse._SubParsersAction)
    ]
    if command is None:
        assert set(subparsers.choices) == set(COMMANDS)
    else:  # the commands of its module, no other
        assert command in subparsers.choices
        assert {COMMANDS[name] for name in subparsers.choices} == {COMMANDS[command]}


def test_status_does_not_import_the_node() -> None:
    probe = (
        "import sys\n"
        "from gateway.cli.main import build_parser\n"
        "build_parser('status').parse_args(['status', '--config', 'x.yaml'])\n"
        "print(sorted(m for m in sys.modules if m in {'gateway.app', 'gateway.console', "
        "'gateway.demo', 'aiohttp'}))\n"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], check=True, capture_output=True, text=True, timeout=60
    )
    assert loaded.stdout.strip() == "[]"
