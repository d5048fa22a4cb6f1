"""The printed `curl` survives any work directory: the shell hands curl exactly the intended
arguments, the token read from its file, whatever spaces or quotes the path holds."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from gateway.demo.federation import DEMO_AGENCIES, make_federation_configs
from gateway.demo.newcomer import CURL_ROUTE, curl_command, place_curl_sample


@pytest.mark.parametrize("folder", ["plain", "with space", "it's $HOME `x`"])
def test_the_shell_gives_curl_the_token_the_type_and_the_sample(
    tmp_path: Path, folder: str
) -> None:
    workdir = tmp_path / folder
    workdir.mkdir()
    # Configs only: nothing is started, so any DSN will do.
    nodes = make_federation_configs(
        workdir, {agency.id: "postgresql:///unused?host=/nonexistent" for agency in DEMO_AGENCIES}
    )
    (sender,) = [node for node in nodes if node.id == CURL_ROUTE.sender]
    sample = place_curl_sample(workdir)
    command = curl_command(sender, sample)

    # A shell function named curl stands in for the program: it prints what it was given.
    shown = subprocess.run(
        ["bash", "-c", 'curl() { printf "%s\\n" "$@"; }; ' + command],
        check=True,
        capture_output=True,
        text=True,
        timeout=30,
    ).stdout.splitlines()
    assert shown == [
        "-sS",
        "-i",
        "-X",
        "POST",
        f"{sender.operations_url}/api/v1/messages?to=kh-ratanakiri-police",
        "-H",
        f"Authorization: Bearer {sender.api_client.token}",
        "-H",
        "Content-Type: application/vnd.vn-police+json",
        "--data-binary",
        f"@{sample}",
    ]
    assert sample.read_bytes().startswith(b"{")
    assert sender.api_client.token not in command
