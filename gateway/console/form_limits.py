"""Bounds on what a console form post may cost before any view or check reads it.

Design notes:
- The console shares the local listener with the API, whose bound on a body is a 10 MiB
  document (gateway/api/routes.py). No console form comes near that: the largest, a
  handover with every victim and child slot filled in Khmer, is under 1 MiB once
  percent-encoded. So every console request is re-bounded here to MAX_FORM_BYTES, refused
  on its Content-Length before a byte is read, and bounded while read when it is chunked.
- The field count is bounded before any parsing: aiohttp's post() stops at its
  client_max_fields, and the body is counted here first (one `&` per field), so a post of
  100,000 empty fields costs a byte count, not a MultiDict.
- Forms are posted urlencoded in UTF-8, as every console form is. A multipart body (file
  parts spooled to disk) or another charset is refused with 415; a body that is not UTF-8
  is refused with 400 (aiohttp's post() would raise UnicodeDecodeError: a 500 page).
- The one exception: a compose form with files (MULTIPART_PATHS) posted as multipart is
  passed on unread; gateway/console/uploads.py streams it with the same bounds on its text
  parts and checks its CSRF token first (deferred_csrf).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

MAX_FORM_BYTES = 1024 * 1024
MAX_FORM_FIELDS = 1000
FORM_TYPE = "application/x-www-form-urlencoded"
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# The compose forms that may be posted as multipart/form-data with files.
COMPOSE_MULTIPART_PATHS = frozenset({"/console/compose/notice", "/console/compose/handover"})
# The offline bundle import (gateway/console/bundles.py): bounded there by
# limits.max_bundle_bytes, and held whole (the courier opens a whole file), so not a
# streamed route for the listener's body budget.
BUNDLE_IMPORT_PATH = "/console/operator/bundles/import"
MULTIPART_PATHS = COMPOSE_MULTIPART_PATHS | {BUNDLE_IMPORT_PATH}
MULTIPART_TYPE = "multipart/form-data"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def bounded_forms(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuse an oversized, over-long or undecodable form before anything parses it."""
    if request.method not in _BODY_METHODS or deferred_csrf(request):
        return await handler(request)
    length = request.content_length
    if length is not None and length > MAX_FORM_BYTES:
        raise web.HTTPRequestEntityTooLarge(MAX_FORM_BYTES, length)
    charset = (request.charset or "utf-8").lower()
    if request.body_exists and (request.content_type != FORM_TYPE or charset != "utf-8"):
        raise web.HTTPUnsupportedMediaType()
    bounded = request.clone(client_max_size=MAX_FORM_BYTES, client_max_fields=MAX_FORM_FIELDS)
    body = await bounded.read()  # HTTPRequestEntityTooLarge beyond MAX_FORM_BYTES
    if body.count(b"&") >= MAX_FORM_FIELDS:
        raise web.HTTPRequestEntityTooLarge(MAX_FORM_BYTES, len(body))
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        raise web.HTTPBadRequest() from None
    return await handler(bounded)


def deferred_csrf(request: web.Request) -> bool:
    """A compose post with files: streamed by its view, which checks its CSRF token."""
    return (
        request.method == "POST"
        and request.path in MULTIPART_PATHS
        and (request.content_type == MULTIPART_TYPE)
    )


__all__ = [
    "BUNDLE_IMPORT_PATH",
    "COMPOSE_MULTIPART_PATHS",
    "MAX_FORM_BYTES",
    "MAX_FORM_FIELDS",
    "MULTIPART_PATHS",
    "MULTIPART_TYPE",
    "bounded_forms",
    "deferred_csrf",
]
