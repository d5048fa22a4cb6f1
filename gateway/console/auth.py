"""Sign-in, sign-out, sessions and CSRF: who is behind each console request.

Design notes:
- Server-side sessions (gateway.console.accounts): the cookie `blg_session` holds 256 random
  bits, the database their SHA-256. The cookie is HttpOnly (no script reads it),
  SameSite=Strict (no other site's page makes the browser send it), Path=/console/, and
  Secure whenever the local listener speaks TLS. Idle timeout and absolute lifetime are
  checked by the database at every look-up, so a disabled user's session, or one past its
  time, stops working on the next request.
- CSRF: every POST, PUT, PATCH or DELETE must carry the form field `csrf_token`, compared in
  constant time with the session's token before any handler runs; a missing or wrong one is
  a 403 `csrf_failed` and nothing happens. SameSite=Strict already stops cross-site posts in
  current browsers; the token also covers older ones and same-site attackers.
- The sign-in form has no session yet; its token is a double-submit cookie (`blg_signin`,
  random, HttpOnly, SameSite=Strict, Path=/console/) that the form repeats. Chosen over a
  signed token because it needs no server secret to keep, share between processes or rotate,
  and what it guards against (login CSRF: signing a victim into the attacker's account) needs
  no more: another site cannot read the cookie, and its cross-site post does not carry it.
  (A host that may set cookies for this one, such as a sibling subdomain, could plant a
  token; the console lives on the node's local listener, not under a shared parent domain.)
  A new session id is issued at every sign-in, so nothing set before sign-in survives it.
- Every refusal of a sign-in (unknown name, wrong password, locked, disabled) gets the same
  page and status; the difference is only in the audit log.
- A state-changing request without a live session is sent to sign-in before its handler
  runs: there is no token to check it against, and no user to act for.
"""

from __future__ import annotations

import hmac
import re
import secrets
import warnings
from collections.abc import Awaitable, Callable, Sequence
from typing import Any
from urllib.parse import quote, urlsplit

from aiohttp import web
from aiohttp.web_exceptions import NotAppKeyWarning

from gateway.console import accounts, form_limits, rendering
from gateway.console.context import ConsoleContext, ConsoleUser, Role
from gateway.console.i18n import N_

PREFIX = "/console"
SIGN_IN_PATH = f"{PREFIX}/sign-in"
START_PATH = f"{PREFIX}/cases"
SESSION_COOKIE = "blg_session"
SIGN_IN_COOKIE = "blg_signin"
COOKIE_PATH = f"{PREFIX}/"
STATIC_PREFIX = f"{PREFIX}/static/"
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CSRF_FIELD = "csrf_token"
# The shape of secrets.token_urlsafe(32); a cookie of another shape is replaced.
_TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")
# The cookie's session id of a signed-in request, for sign-out (auth's own key).
SESSION_ID = web.RequestKey("blg_session_id", str)
# Longer than any sign-in name (63): what is typed into the field is cut to this, so a
# megabyte pasted there is neither looked up nor shown again.
MAX_NAME_CHARS = 256

REFUSED = N_(
    "The name or the password is not right, or this account cannot sign in now. After "
    "several failed attempts an account is locked for a while; ask your administrator if "
    "it stays locked."
)
NAME_MISSING = N_("Enter your user name.")
PASSWORD_MISSING = N_("Enter your password.")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _put(request: web.Request, key: str, value: object) -> None:
    """request[key] = value for the console's shared string keys (user, csrf_token): every
    view reads them by name (the console contract), so they cannot be RequestKey objects,
    and aiohttp's advice to use those is silenced here rather than in every test."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotAppKeyWarning)
        request[key] = value


def csrf_failed() -> web.HTTPForbidden:
    return web.HTTPForbidden(reason="csrf_failed")


def _safe_next(target: str | None) -> str:
    """Where to go after signing in: `target` if it is a console page on this site (never
    sign-in or sign-out themselves), otherwise the start page."""
    path = rendering.safe_next(target)
    if urlsplit(path).path in (f"{PREFIX}/", SIGN_IN_PATH, f"{PREFIX}/sign-out"):
        return START_PATH
    return path


def sign_in_redirect(request: web.Request) -> web.HTTPSeeOther:
    target = request.path_qs if request.method == "GET" else request.path
    return web.HTTPSeeOther(f"{SIGN_IN_PATH}?next={quote(target, safe='/')}")


def require(request: web.Request, *roles: Role) -> ConsoleUser:
    """The signed-in user if their role is one of `roles` (any role when none are given);
    otherwise a redirect to sign-in or a 403 page."""
    user = request.get("user")
    if not isinstance(user, ConsoleUser):
        raise sign_in_redirect(request)
    if roles and user.role not in roles:
        raise web.HTTPForbidden()
    return user


def _set_cookie(ctx: ConsoleContext, response: web.StreamResponse, name: str, value: str) -> None:
    response.set_cookie(
        name,
        value,
        path=COOKIE_PATH,
        httponly=True,
        samesite="Strict",
        secure=ctx.settings.secure_cookies,
    )


def _clear_cookie(ctx: ConsoleContext, response: web.StreamResponse, name: str) -> None:
    response.del_cookie(
        name,
        path=COOKIE_PATH,
        httponly=True,
        samesite="Strict",
        secure=ctx.settings.secure_cookies,
    )


def same_token(sent: object, expected: str) -> bool:
    if not isinstance(sent, str) or not expected:
        return False
    return hmac.compare_digest(sent.encode("utf-8", "surrogatepass"), expected.encode("ascii"))


def middlewares(ctx: ConsoleContext) -> Sequence[Any]:
    """Session (request["user"]) and CSRF check of every state-changing request."""

    @web.middleware
    async def sessions(request: web.Request, handler: Handler) -> web.StreamResponse:
        _put(request, "user", None)
        _put(request, "csrf_token", "")
        # Static assets need no user: no database round trip for each stylesheet or font.
        session_id = (
            None if request.path.startswith(STATIC_PREFIX) else request.cookies.get(SESSION_COOKIE)
        )
        live = None
        if session_id:
            live = await accounts.live_session(ctx.store, ctx.settings, session_id, now=ctx.clock())
            if live is not None:
                _put(request, "user", live.user)
                _put(request, "csrf_token", live.csrf_token)
                request[SESSION_ID] = session_id
        if request.method in STATE_CHANGING:
            if request.path == SIGN_IN_PATH:
                # The sign-in form carries the pre-session token, even when the browser
                # has a session already (a form left open in another tab).
                expected = request.cookies.get(SIGN_IN_COOKIE, "")
            elif live is None:
                raise sign_in_redirect(request)
            else:
                expected = live.csrf_token
            if not form_limits.deferred_csrf(request):
                form = await request.post()
                if not same_token(form.get(CSRF_FIELD), expected):
                    raise csrf_failed()
            # else: a compose post with files, streamed; gateway/console/uploads.py reads
            # the token as its first part before it keeps anything.
        stale = bool(session_id) and live is None
        try:
            response = await handler(request)
        except web.HTTPException as answer:
            if stale and answer.status < 400:  # redirects are raised, and keep their cookies
                _clear_cookie(ctx, answer, SESSION_COOKIE)
            raise
        if stale and not response.prepared:
            # Drop the stale cookie, so that the browser stops sending it.
            _clear_cookie(ctx, response, SESSION_COOKIE)
        return response

    return (sessions,)


def routes(ctx: ConsoleContext) -> list[web.RouteDef]:
    async def start(request: web.Request) -> web.StreamResponse:
        if request.get("user") is None:
            raise web.HTTPSeeOther(SIGN_IN_PATH)
        raise web.HTTPSeeOther(START_PATH)

    def sign_in_page(
        request: web.Request,
        *,
        name: str = "",
        errors: dict[str, str] | None = None,
        refused: bool = False,
        status: int = 200,
    ) -> web.Response:
        # The browser's pre-session token when it has one, so that two sign-in tabs, or a
        # form shown again after a refusal, keep working; else a fresh one.
        token = request.cookies.get(SIGN_IN_COOKIE, "")
        if not _TOKEN.fullmatch(token):
            token = secrets.token_urlsafe(32)
        _put(request, "csrf_token", token)
        response = rendering.render(
            request,
            "sign_in.html",
            {
                "name": name,
                "errors": errors or {},
                "refused": REFUSED if refused else None,
                "next": _safe_next(request.query.get("next")),
            },
            status=status,
        )
        _set_cookie(ctx, response, SIGN_IN_COOKIE, token)
        return response

    async def sign_in_form(request: web.Request) -> web.StreamResponse:
        if request.get("user") is not None:
            raise web.HTTPSeeOther(_safe_next(request.query.get("next")))
        return sign_in_page(request)

    async def sign_in(request: web.Request) -> web.StreamResponse:
        form = await request.post()
        name = form.get("name")
        password = form.get("password")
        name = name.strip() if isinstance(name, str) else ""
        password = password if isinstance(password, str) else ""
        errors: dict[str, str] = {}
        if not name:
            errors["name"] = NAME_MISSING
        if not password:
            errors["password"] = PASSWORD_MISSING
        if errors:
            return sign_in_page(request, name=name[:MAX_NAME_CHARS], errors=errors, status=400)
        if not accounts.NAME_PATTERN.fullmatch(name):
            # No user can have this name (accounts.check_name): refused like any other
            # attempt, without a look-up. A NUL in it made PostgreSQL refuse the query: a 500
            # page and an error trace in the log for every anonymous attempt, no hash paid.
            return sign_in_page(request, name=name[:MAX_NAME_CHARS], refused=True, status=401)
        signed_in, _outcome = await accounts.sign_in(
            ctx.store, ctx.settings, name=name[:MAX_NAME_CHARS], password=password, now=ctx.clock()
        )
        if signed_in is None:
            # Same page, same status, whatever the reason; the name is kept in the field
            # (it is what the user typed) but the password never comes back.
            return sign_in_page(request, name=name[:MAX_NAME_CHARS], refused=True, status=401)
        previous = request.get(SESSION_ID)
        if previous is not None:
            # Signing in again (as someone else, say) ends the session the browser had.
            await accounts.sign_out(ctx.store, previous, now=ctx.clock())
        response = web.HTTPSeeOther(_safe_next(request.query.get("next")))
        # blg_signin stays: it lets a sign-in form open in another tab work, and is good for
        # nothing but signing in.
        _set_cookie(ctx, response, SESSION_COOKIE, signed_in.session_id)
        raise response

    async def sign_out(request: web.Request) -> web.StreamResponse:
        session_id = request.get(SESSION_ID)
        if session_id is not None:
            await accounts.sign_out(ctx.store, session_id, now=ctx.clock())
        response = web.HTTPSeeOther(SIGN_IN_PATH)
        _clear_cookie(ctx, response, SESSION_COOKIE)
        raise response

    return [
        web.get("/", start),
        web.get("/sign-in", sign_in_form),
        web.post("/sign-in", sign_in),
        web.post("/sign-out", sign_out),
    ]
