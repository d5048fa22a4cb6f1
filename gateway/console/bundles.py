"""Console pages: offline bundles (docs/PROTOCOL.md section 15) from the operator page.

GET /console/operator/bundles, for operators and admins only (OPERATORS), offers:
- Export: a configured peer and "include already exported"; POST
  /console/operator/bundles/export answers the bundle as a download named
  `<own>-to-<peer>-<bundle id>.blgb` (ids only: no victim data), Cache-Control no-store.
  The courier records its own audit entry with the user as actor; the console adds
  `console.bundle_exported` (same user), as requeue does.
- Import: POST /console/operator/bundles/import, multipart, read part by part with aiohttp's
  MultipartReader: the CSRF token must be the first part (form_limits.MULTIPART_PATHS leaves
  the body to this view), then the file, refused with 413 on its Content-Length or while
  read as soon as it passes limits.max_bundle_bytes, before it is held whole. The
  courier does the work (off the event loop); a refused bundle (BundleRefused) is a 4xx
  page naming the reason code, and the courier stores nothing of it.
- Receipts to carry back: held in this process's memory, per (user, bundle id), for
  RECEIPTS_TTL and at most MAX_HELD at once, and handed out once through a POST form
  (POST /console/operator/bundles/receipts, field bundle_id): never in a URL, never on disk.
  Lost on restart: receipts are only acknowledgements, and the peer's online sender learns
  the same outcome (a replay answer) once the link is back.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta

from aiohttp import BodyPartReader, web

from gateway.console import auth, rendering
from gateway.console.auth import CSRF_FIELD, csrf_failed, same_token
from gateway.console.context import OPERATORS, ConsoleContext
from gateway.console.form_limits import MAX_FORM_BYTES, MULTIPART_TYPE
from gateway.console.i18n import N_
from gateway.crypto.bundle import BundleReason, BundleRefused
from gateway.federation.bundles import ImportOutcome
from gateway.federation.streams import READ_PIECE
from gateway.store import AuditEntry

BUNDLE_SUFFIX = ".blgb"
RECEIPTS_TTL = timedelta(hours=1)
MAX_HELD = 16
# The token part and the multipart framing around the file.
_FRAMING_SLACK = 64 * 1024

REFUSALS: dict[str, str] = {
    BundleReason.TOO_LARGE: N_("The file is larger than this node accepts."),
    BundleReason.MALFORMED: N_("The file is not a bundle or is damaged."),
    BundleReason.TRUNCATED: N_("The file is incomplete: copy it again from the medium."),
    BundleReason.MISADDRESSED: N_("The bundle is addressed to another node."),
    BundleReason.SENDER_UNKNOWN: N_("The bundle comes from a node that is not a peer."),
    BundleReason.SIGNATURE_INVALID: N_("The bundle's signature is not valid."),
    BundleReason.REPLAYED: N_("This bundle was already imported."),
}
MSG_NO_FILE = N_("Choose a bundle file to import.")
MSG_UNKNOWN_PEER = N_("Choose one of the configured peers.")
MSG_RECEIPTS_GONE = N_(
    "This receipts bundle was already downloaded, has expired, or the node restarted since "
    "the import. The peer learns the same outcome when the link is back."
)


@dataclass(frozen=True)
class HeldReceipts:
    """A receipts bundle waiting for its one download."""

    data: bytes
    file_name: str
    held_until: datetime


def routes(ctx: ConsoleContext) -> list[web.RouteDef]:
    held: OrderedDict[tuple[int, str], HeldReceipts] = OrderedDict()

    def page(
        request: web.Request,
        *,
        status: int = 200,
        outcome: ImportOutcome | None = None,
        refused: str | None = None,
        error: str | None = None,
        nothing_pending: str | None = None,
    ) -> web.Response:
        return rendering.render(
            request,
            "bundles.html",
            {
                "peers": ctx.peers,
                "outcome": outcome,
                "refused": refused,
                "refusal_text": REFUSALS.get(refused or ""),
                "error": error,
                "nothing_pending": nothing_pending,
                "max_bundle_bytes": ctx.max_bundle_bytes,
                "available": ctx.bundle_courier is not None,
            },
            status=status,
        )

    async def bundles_page(request: web.Request) -> web.Response:
        auth.require(request, *OPERATORS)
        return page(request)

    async def export(request: web.Request) -> web.StreamResponse:
        user = auth.require(request, *OPERATORS)
        if ctx.bundle_courier is None:
            raise web.HTTPNotFound()
        form = await request.post()
        peer = str(form.get("peer", ""))
        if ctx.peer(peer) is None:
            return page(request, status=400, error=MSG_UNKNOWN_PEER)
        courier = ctx.bundle_courier(user.actor)
        try:
            bundle = await courier.export(
                peer, include_exported=form.get("include_exported") == "1"
            )
        except BundleRefused as refused:
            return page(request, status=409, refused=refused.code.value)
        if not bundle.message_count:
            return page(request, nothing_pending=peer)
        await ctx.store.audit(
            [
                AuditEntry(
                    user.actor,
                    "console.bundle_exported",
                    bundle.bundle_id,
                    {"peer": peer, "messages": bundle.message_count},
                )
            ]
        )
        return _download(bundle.data, f"{ctx.node_id}-to-{peer}-{bundle.bundle_id}{BUNDLE_SUFFIX}")

    async def import_bundle(request: web.Request) -> web.Response:
        user = auth.require(request, *OPERATORS)
        if ctx.bundle_courier is None:
            raise web.HTTPNotFound()
        limit = ctx.max_bundle_bytes
        length = request.content_length
        data = None
        if length is None or length <= limit + _FRAMING_SLACK:
            data = await _read_upload(request, limit)
        if data is None:
            response = page(request, status=413, refused=BundleReason.TOO_LARGE.value)
            # The rest of an oversized body is not read: the connection is not reused.
            response.force_close()
            return response
        if not data:
            return page(request, status=400, error=MSG_NO_FILE)
        try:
            outcome = await ctx.bundle_courier(user.actor).import_bundle(data)
        except BundleRefused as refused:
            status = 413 if refused.code is BundleReason.TOO_LARGE else 422
            return page(request, status=status, refused=refused.code.value)
        await ctx.store.audit(
            [
                AuditEntry(
                    user.actor,
                    "console.bundle_imported",
                    outcome.bundle_id,
                    {"peer": outcome.sender, "kind": outcome.kind},
                )
            ]
        )
        if outcome.receipts_bundle is not None:
            _hold(
                held,
                (user.id, outcome.bundle_id),
                HeldReceipts(
                    outcome.receipts_bundle,
                    f"{ctx.node_id}-to-{outcome.sender}-{outcome.bundle_id}.receipts{BUNDLE_SUFFIX}",
                    ctx.clock() + RECEIPTS_TTL,
                ),
                ctx.clock(),
            )
        return page(request, outcome=outcome)

    async def receipts(request: web.Request) -> web.StreamResponse:
        user = auth.require(request, *OPERATORS)
        form = await request.post()
        bundle_id = str(form.get("bundle_id", ""))
        found = held.pop((user.id, bundle_id), None)
        if found is None or found.held_until < ctx.clock():
            return page(request, status=410, error=MSG_RECEIPTS_GONE)
        return _download(found.data, found.file_name)

    return [
        web.get("/operator/bundles", bundles_page),
        web.post("/operator/bundles/export", export),
        web.post("/operator/bundles/import", import_bundle),
        web.post("/operator/bundles/receipts", receipts),
    ]


def _hold(
    held: OrderedDict[tuple[int, str], HeldReceipts],
    key: tuple[int, str],
    receipts: HeldReceipts,
    now: datetime,
) -> None:
    for old, kept in list(held.items()):
        if kept.held_until < now:
            del held[old]
    held[key] = receipts
    while len(held) > MAX_HELD:
        held.popitem(last=False)


def _download(data: bytes, file_name: str) -> web.Response:
    return web.Response(
        body=data,
        content_type="application/octet-stream",
        headers={
            "Content-Disposition": f'attachment; filename="{file_name}"',
            "Cache-Control": "no-store",
        },
    )


async def _read_upload(request: web.Request, limit: int) -> bytes | None:
    """The uploaded file's bytes (b"" when none was chosen), None past limit; csrf_failed
    unless the first part is the session's token."""
    expected = str(request.get("csrf_token", ""))
    if request.content_type != MULTIPART_TYPE:
        raise web.HTTPBadRequest()  # the form posts multipart; anything else is not it
    try:
        reader = await request.multipart()
    except (AssertionError, KeyError, ValueError):  # no boundary, a malformed header
        raise web.HTTPBadRequest() from None
    part = await reader.next()
    if not isinstance(part, BodyPartReader) or part.name != CSRF_FIELD:
        raise csrf_failed()
    token = bytearray()
    while chunk := await part.read_chunk(READ_PIECE):
        token += chunk
        if len(token) > MAX_FORM_BYTES:
            raise csrf_failed()
    if not same_token(token.decode("utf-8", "replace"), expected):
        raise csrf_failed()
    part = await reader.next()
    if not isinstance(part, BodyPartReader) or part.name != "bundle":
        raise web.HTTPBadRequest()
    data = bytearray()
    while chunk := await part.read_chunk(READ_PIECE):
        data += chunk
        if len(data) > limit:
            return None
    return bytes(data)


__all__ = ["HeldReceipts", "routes"]
