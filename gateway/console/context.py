"""What every console page works with: who is signed in, and the node's parts they act on.

The console is a set of view modules (auth, cases, compose, approvals, operator), each a
function `routes(ctx) -> list[RouteDef]` over one `ConsoleContext`; server.py mounts them
under /console/ with the security middlewares. The context is built once in gateway/app.py:
no view reaches for a global.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal, get_args

from gateway.attachments_read import AttachmentReader
from gateway.config import DEFAULT_CONSOLE, DEFAULT_LIMITS
from gateway.crypto import Keyring
from gateway.federation.acknowledger import Acknowledger
from gateway.federation.bundles import OfflineCourier
from gateway.federation.outgoing import Dispatcher
from gateway.report.model import Report
from gateway.search.model import PersonIndex, PersonSearch
from gateway.store import Store

ConsoleLanguage = Literal["vi", "km", "en"]
CONSOLE_LANGUAGES: tuple[ConsoleLanguage, ...] = get_args(ConsoleLanguage)


class Role(enum.StrEnum):
    """What a console user may do. Stored as a PostgreSQL enum of the same values."""

    OFFICER = "officer"  # reads and answers cases, composes messages
    SUPERVISOR = "supervisor"  # an officer who may also approve victim handovers (four eyes)
    OPERATOR = "operator"  # runs the node: peers, queues, requeue; never reads protected content
    ADMIN = "admin"  # manages the node like an operator; never reads protected content


# Who may read content marked restricted or victim-protected (handling), as opposed to the
# metadata (kind, peer, state, times) that every signed-in user may see.
CONTENT_READERS = frozenset({Role.OFFICER, Role.SUPERVISOR})
# Who may compose and answer messages.
SENDERS = frozenset({Role.OFFICER, Role.SUPERVISOR})
# Who may see the operator page and requeue dead or rejected messages.
OPERATORS = frozenset({Role.OPERATOR, Role.ADMIN})
# Who may make the half-yearly and yearly reports (gateway/console/reports.py): supervisors,
# who answer for the office's cooperation to the steering committee, and admins, who run
# the node for them. Reports hold aggregates only, so reading content is not required.
REPORT_READERS = frozenset({Role.SUPERVISOR, Role.ADMIN})


@dataclass(frozen=True)
class ConsoleUser:
    """The signed-in user of one request (set by auth's middleware as request["user"])."""

    id: int
    name: str
    role: Role
    # The user's default language; the page language may differ (the switcher's cookie).
    language: ConsoleLanguage

    @property
    def actor(self) -> str:
        """How this user appears as the actor of audit entries."""
        return f"user:{self.id}"

    @property
    def reads_content(self) -> bool:
        return self.role in CONTENT_READERS


@dataclass(frozen=True)
class ConsoleSettings:
    """Session and sign-in rules (config section `console:`)."""

    # The defaults are the config's (gateway.config.schema.ConsoleConfig), in one place.
    session_idle_timeout: timedelta = DEFAULT_CONSOLE.session_idle_timeout
    session_lifetime: timedelta = DEFAULT_CONSOLE.session_lifetime
    lockout_after_failures: int = DEFAULT_CONSOLE.lockout_after_failures
    lockout_duration: timedelta = DEFAULT_CONSOLE.lockout_duration
    # Cookies get the Secure attribute whenever the local listener speaks TLS.
    secure_cookies: bool = False


@dataclass(frozen=True)
class PeerView:
    """A peer as the console names and describes it."""

    id: str
    country: str
    names: dict[str, str]  # language -> agency name
    url: str
    # The latest valid_until of the peer's configured keys (None: no expiry).
    keys_valid_until: datetime | None


@dataclass(frozen=True)
class ConsoleContext:
    node_id: str
    node_country: str
    node_names: dict[str, str]  # language -> agency name
    settings: ConsoleSettings
    store: Store
    keyring: Keyring
    dispatcher: Dispatcher
    peers: tuple[PeerView, ...]
    # The latest valid_until of this node's own keys (None: no expiry).
    own_keys_valid_until: datetime | None
    local_clients: tuple[str, ...]
    clock: Callable[[], datetime]
    # Received attachments (gateway/attachments_read.py); None: the pages make their own.
    attachments: AttachmentReader | None = None
    # Gives this node's acknowledgements of received messages (None: the button is not shown).
    acknowledger: Acknowledger | None = None
    # The most a file attached on a compose form may hold (limits.max_attachment_bytes).
    max_attachment_bytes: int = DEFAULT_LIMITS.max_attachment_bytes
    # Offline bundles (gateway/console/bundles.py): the courier acting for a console user's
    # audit actor (None: the section is not shown); the most an imported file may hold.
    bundle_courier: Callable[[str], OfflineCourier] | None = None
    max_bundle_bytes: int = DEFAULT_LIMITS.max_bundle_bytes
    # Finding people across cases (gateway/console/search.py; None: the page says search is
    # not available on this node).
    person_search: PersonSearch | None = None
    # The person index (gateway.search): a case page's possible matches show the other
    # person's names from it, to those who may read them (None: no names shown).
    person_index: PersonIndex | None = None
    # The report of local days [from, to] (gateway.report.aggregate.build_report over this
    # node's store and keyring), already disclosure-protected; None: no Reports page.
    build_report: Callable[[date, date], Awaitable[Report]] | None = None

    def peer(self, peer_id: str) -> PeerView | None:
        return next((peer for peer in self.peers if peer.id == peer_id), None)
