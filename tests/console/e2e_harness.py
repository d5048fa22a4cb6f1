"""Real console nodes for the end-to-end tests.

`gateway run` processes of vn-gialai-blo (VN) and kh-ratanakiri-police (KH) from the federation
harness, each serving /console/ on its local listener, named as in the example configs under
config/ (so pages show the agencies' Vietnamese and Khmer names), with users created the way an
administrator creates them: `gateway users add` with the password piped on standard input.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass
from pathlib import Path

import yaml

from tests.federation.harness import GATEWAY, Federation

BLO = "vn-gialai-blo"
RATANAKIRI = "kh-ratanakiri-police"
EXAMPLE_CONFIGS = Path(__file__).resolve().parents[2] / "config"


def agency_names(node_id: str) -> dict[str, str]:
    """The node's names by language, as in its example config."""
    document = yaml.safe_load((EXAMPLE_CONFIGS / f"{node_id}.yaml").read_text(encoding="utf-8"))
    names: dict[str, str] = document["node"]["names"]
    return names


@dataclass(frozen=True)
class ConsoleAccount:
    node_id: str
    name: str
    password: str
    role: str
    language: str


class ConsoleNodes:
    """Console nodes of one federation, and the users made on them."""

    def __init__(self, federation: Federation) -> None:
        self.federation = federation

    async def start(self, *node_ids: str) -> None:
        """Configure, start and wait for the nodes (their databases are migrated by then)."""
        for node_id in node_ids:
            self.federation.names[node_id] = agency_names(node_id)
        await self.federation.add(*node_ids)
        for node_id in node_ids:
            self.federation.start(node_id)
        for node_id in node_ids:
            await self.federation.wait_ready(node_id)

    async def add_user(
        self, node_id: str, name: str, *, role: str, language: str
    ) -> ConsoleAccount:
        """A user made by the real CLI on node_id, with a fresh random password."""
        password = secrets.token_urlsafe(18)
        process = await asyncio.create_subprocess_exec(
            GATEWAY,
            "users",
            "add",
            "--config",
            str(self.federation.config_path(node_id)),
            "--role",
            role,
            "--lang",
            language,
            name,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await asyncio.wait_for(process.communicate(f"{password}\n".encode()), 60)
        if process.returncode != 0:
            raise AssertionError(
                f"gateway users add {name} on {node_id}: exit {process.returncode}: "
                f"{output.decode(errors='replace')}"
            )
        return ConsoleAccount(node_id, name, password, role, language)

    def url(self, node_id: str, path: str = "") -> str:
        """The absolute URL of a console path (relative to /console/) on node_id."""
        return f"{self.federation.api_url(node_id)}/console/{path}"
