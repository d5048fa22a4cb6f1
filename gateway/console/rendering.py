"""Templates, languages, static assets and the security headers of every console page.

Design notes:
- One Jinja2 environment (aiohttp-jinja2, autoescaping on, templates from the package) for
  all languages. The reader's language, translations and CSRF token of the page being
  rendered live in a ContextVar set by `render()`, so `_()`, `label()`, the date filters and
  the macros of _macros.html work the same in a page, an included file or an imported macro
  (imported templates do not see the page's context).
- Page language: the switcher's cookie, else the user's default, else the node's country
  (vi for VN, km for KH), else English.
- Static assets: gateway/console/assets.py.
- Every console response carries a strict Content-Security-Policy (no inline script or
  style), nosniff, no referrer, and `no-store` unless it is a static asset.
- An HTTP error raised by a view becomes error.html in the reader's language, with the
  status and a machine-readable `data-reason` (the exception's reason in snake case:
  HTTPForbidden() -> "forbidden", HTTPForbidden(reason="csrf_failed") -> "csrf_failed").
  Anything unexpected is a 500 page; the log gets the exception type and frames, never its
  message (it could quote a victim's data).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import re
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import aiohttp_jinja2
import jinja2
import jinja2.runtime
from aiohttp import web
from babel.numbers import format_decimal
from babel.support import Translations
from markupsafe import Markup

from gateway.console import assets, bidi, labels
from gateway.console.context import (
    CONSOLE_LANGUAGES,
    OPERATORS,
    REPORT_READERS,
    SENDERS,
    ConsoleContext,
    ConsoleLanguage,
    ConsoleUser,
    Role,
)
from gateway.console.i18n import (
    COUNTRY_LANGUAGES,
    DEFAULT_LANGUAGE,
    N_,
    as_language,
    digits,
    format_local_datetime,
    format_partial_date,
    load_translations,
)
from gateway.ops.logs import fields, route_template

log = logging.getLogger(__name__)

CONSOLE_CONTEXT = web.AppKey("console_context", ConsoleContext)
LANGUAGE_COOKIE = "blg_lang"
PREFIX = "/console"

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; font-src 'self'; "
    "img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
SECURITY_HEADERS: Mapping[str, str] = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    # For browsers that predate frame-ancestors.
    "X-Frame-Options": "DENY",
}

# Each language's name in its own script, for the switcher.
LANGUAGE_NAMES: Mapping[ConsoleLanguage, str] = {
    "vi": "Tiếng Việt",
    "km": "ខ្មែរ",
    "en": "English",
}

_ERROR_TITLES: Mapping[int, str] = {
    400: N_("The request could not be read"),
    403: N_("Not allowed"),
    404: N_("Page not found"),
    405: N_("Not allowed"),
    409: N_("Already done"),
    413: N_("The form is too large"),
    500: N_("Something went wrong"),
}
_ERROR_DEFAULT_TITLE = N_("The request could not be completed")
_REASON_MESSAGES: Mapping[str, str] = {
    "bad_request": N_("Something in the request was missing or not in the expected form."),
    "forbidden": N_("Your role does not allow this page or action."),
    "not_found": N_("There is no such page, or it is no longer here."),
    "method_not_allowed": N_("This page cannot be used that way."),
    "csrf_failed": N_(
        "This form has expired or did not come from this console. "
        "Go back, reload the page and try again."
    ),
    "own_draft": N_("A handover you composed must be approved by a different supervisor."),
    "not_awaiting_approval": N_(
        "This handover is no longer awaiting approval: it was already approved or withdrawn."
    ),
    "request_entity_too_large": N_("The form is larger than the console accepts."),
    "internal_error": N_(
        "The console could not complete this request. The error was logged for the node's operator."
    ),
    # Received attachments (gateway/console/attachments.py).
    "attachment_unavailable": N_(
        "This attachment has not fully arrived from the partner agency yet. Try again later."
    ),
    "attachment_corrupt": N_(
        "This attachment arrived damaged or does not match its message, so it is not shown. "
        "Ask the partner agency to send it again."
    ),
    "content_deleted": N_("The content of this message was deleted under the retention rules."),
}
_STATUS_MESSAGE = N_("The request could not be completed.")
_REASON_CODE = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True)
class _Page:
    language: ConsoleLanguage
    translations: Translations
    csrf_token: str


_page: contextvars.ContextVar[_Page | None] = contextvars.ContextVar("console_page", default=None)
_TRANSLATIONS: dict[str, Translations] = {}


def translations(language: str) -> Translations:
    """The merged catalogues of `language`, loaded once per process."""
    reader = as_language(language) or DEFAULT_LANGUAGE
    if reader not in _TRANSLATIONS:
        _TRANSLATIONS[reader] = load_translations(reader)
    return _TRANSLATIONS[reader]


def _current() -> _Page:
    page = _page.get()
    if page is None:
        return _Page(DEFAULT_LANGUAGE, translations(DEFAULT_LANGUAGE), "")
    return page


def _gettext(message: str) -> str:
    return _current().translations.ugettext(message)


def _ngettext(singular: str, plural: str, count: int) -> str:
    return _current().translations.ungettext(singular, plural, count)


_PLACEHOLDER = re.compile(r"%\((\w+)\)([^a-zA-Z%]*)([a-zA-Z])")


def _formatted(context: jinja2.runtime.Context, text: str, variables: dict[str, object]) -> str:
    """Jinja's new-style gettext formatting (escaped values, "%%" for "%"), with the numbers
    among the values in the reader's digits: "៣ សារ" in Khmer, not "3 សារ"."""
    language = _current().language
    if language == "km":
        # Only whole numbers shown plainly (%(n)s, %(n)d) are rewritten: a padded or
        # fractional format is left to Python, in Latin digits, rather than broken.
        placeholders = _PLACEHOLDER.findall(text)
        plain = {name for name, spec, kind in placeholders if not spec and kind in "sd"}
        plain -= {name for name, spec, kind in placeholders if spec or kind not in "sd"}
        localised = {
            name
            for name in plain
            if isinstance(variables.get(name), int) and not isinstance(variables.get(name), bool)
        }
        text = _PLACEHOLDER.sub(
            lambda found: f"%({found[1]})s" if found[1] in localised else found[0], text
        )
        variables = {
            name: digits(value, language) if name in localised else value
            for name, value in variables.items()
        }
    if context.eval_ctx.autoescape:
        # Catalogue text is trusted markup, the values are escaped: as Jinja's i18n does.
        return Markup(text) % variables  # noqa: S704
    return text % variables


# Positional-only, as in Jinja's own wrappers: a template may pass `num=` (or any name) as a
# formatting value beside the count.
@jinja2.pass_context
def _template_gettext(context: jinja2.runtime.Context, message: str, /, **variables: object) -> str:
    return _formatted(context, _gettext(message), variables)


@jinja2.pass_context
def _template_ngettext(
    context: jinja2.runtime.Context, singular: str, plural: str, count: int, /, **variables: object
) -> str:
    variables.setdefault("num", count)
    return _formatted(context, _ngettext(singular, plural, count), variables)


def label(group: str, value: object) -> str:
    """A coded value in the language of the page being rendered (template global)."""
    message = labels.msgid(group, value)
    return str(value) if message is None else _gettext(message)


# The filters take the template context only so that Jinja never folds them over a constant
# at compile time (`{{ 42|digits }}`): a compiled template serves every language.
@jinja2.pass_context
def _datetime_filter(_context: jinja2.runtime.Context, value: datetime | None) -> str:
    return "" if value is None else format_local_datetime(value, _current().language)


@jinja2.pass_context
def _filesize_filter(_context: jinja2.runtime.Context, size: int) -> str:
    """A size in KB or MB (one decimal) with the reader's decimal sign and digits."""
    language = _current().language
    if size >= 1024 * 1024:
        amount, message = size / (1024 * 1024), N_("%(size)s MB")
    else:
        amount, message = size / 1024, N_("%(size)s KB")
    number = digits(format_decimal(round(amount, 1), format="#,##0.#", locale=language), language)
    return _gettext(message) % {"size": number}


@jinja2.pass_context
def _date_filter(_context: jinja2.runtime.Context, value: object) -> str:
    return format_partial_date(value, _current().language)


@jinja2.pass_context
def _digits_filter(_context: jinja2.runtime.Context, value: object) -> str:
    return digits(value, _current().language)


def _current_csrf_token() -> str:
    return _current().csrf_token


@contextlib.contextmanager
def reading_in(language: str, csrf_token: str = "") -> Iterator[None]:
    """Templates rendered inside this block are in `language` (render() uses it)."""
    reader = as_language(language) or DEFAULT_LANGUAGE
    token = _page.set(_Page(reader, translations(reader), csrf_token))
    try:
        yield
    finally:
        _page.reset(token)


def page_language(request: web.Request) -> ConsoleLanguage:
    """The language the request's pages are rendered in."""
    chosen = as_language(request.cookies.get(LANGUAGE_COOKIE))
    if chosen is not None:
        return chosen
    user = request.get("user")
    if isinstance(user, ConsoleUser):
        return user.language
    ctx = request.config_dict[CONSOLE_CONTEXT]
    return COUNTRY_LANGUAGES.get(ctx.node_country, DEFAULT_LANGUAGE)


def safe_next(target: str | None) -> str:
    """`target` if it is a console path on this site; otherwise the console's start page."""
    default = f"{PREFIX}/"
    if not target or any(ch in target for ch in "\\\r\n\t") or target.startswith("//"):
        return default
    if not (target.isascii() and target.isprintable()) or " " in target:
        # A console URL is sent percent-encoded; a NUL or other control left raw would make
        # the Location header unsendable (aiohttp drops the connection instead).
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith(f"{PREFIX}/"):
        return default
    if "/.." in parts.path or "%" in parts.path:
        return default  # a dot segment (even encoded) could climb out of /console/
    return target


def setup(app: web.Application, ctx: ConsoleContext) -> None:
    """Install the Jinja2 environment and the static routes on the console app."""
    app[CONSOLE_CONTEXT] = ctx
    env = aiohttp_jinja2.setup(
        app,
        loader=jinja2.PackageLoader("gateway.console", "templates"),
        autoescape=True,
        extensions=["jinja2.ext.i18n"],
        # Smaller pages for slow links: no blank lines where block tags stood.
        trim_blocks=True,
        lstrip_blocks=True,
        # A bidi override in a peer's text ends with that text (gateway/console/bidi.py).
        finalize=bidi.finalize,
    )
    env.install_gettext_callables(_gettext, _ngettext, newstyle=True)  # type: ignore[attr-defined]
    # The extension's own new-style wrappers, replaced by ones that also localise digits
    # (its `_` and {% trans %} call whatever `gettext`/`ngettext` are).
    env.globals.update(gettext=_template_gettext, ngettext=_template_ngettext)
    versions = assets.versions(LANGUAGE_NAMES["km"])

    def peer_name(peer_id: str) -> str:
        peer = ctx.peer(peer_id)
        if peer is None:
            return peer_id
        return peer.names.get(_current().language) or peer.names.get("en") or peer_id

    def static_url(name: str) -> str:
        return f"{PREFIX}/static/{name}?v={versions.get(name, '1')}"

    env.globals.update(
        label=label,
        peer_name=peer_name,
        static_url=static_url,
        current_csrf_token=_current_csrf_token,
        languages=tuple(LANGUAGE_NAMES.items()),
        senders=SENDERS,
        operators=OPERATORS,
        report_readers=REPORT_READERS,
        supervisor=Role.SUPERVISOR,
        node_country=ctx.node_country,
    )
    env.filters.update(
        datetime=_datetime_filter,
        date=_date_filter,
        digits=_digits_filter,
        filesize=_filesize_filter,
    )
    for language in CONSOLE_LANGUAGES:
        translations(language)

    async def switch_language(request: web.Request) -> web.Response:
        language = as_language(request.match_info["code"])
        if language is None:
            raise web.HTTPNotFound()
        response = web.Response(
            status=303, headers={"Location": safe_next(request.query.get("next"))}
        )
        response.set_cookie(
            LANGUAGE_COOKIE,
            language,
            max_age=365 * 24 * 3600,
            path=f"{PREFIX}/",
            httponly=True,
            samesite="Strict",
            secure=ctx.settings.secure_cookies or None,
        )
        return response

    app.add_routes(
        [
            web.get("/lang/{code}", switch_language),
            *assets.routes(LANGUAGE_NAMES["km"]),
        ]
    )


def render(
    request: web.Request, template: str, context: Mapping[str, Any], *, status: int = 200
) -> web.Response:
    """The template rendered in the request's language, with the console's globals."""
    ctx = request.config_dict[CONSOLE_CONTEXT]
    language = page_language(request)
    csrf_token = str(request.get("csrf_token") or "")
    user = request.get("user")
    values: dict[str, Any] = {
        "user": user if isinstance(user, ConsoleUser) else None,
        "lang": language,
        "csrf_token": csrf_token,
        "node_id": ctx.node_id,
        "node_name": ctx.node_names.get(language) or ctx.node_names.get("en") or ctx.node_id,
        "path": request.path,
        "path_qs": request.path_qs,
        **context,
    }
    with reading_in(language, csrf_token):
        response = aiohttp_jinja2.render_template(template, request, values, status=status)
    response.content_type = "text/html"
    response.charset = "utf-8"
    return response


def reason_code(error: web.HTTPException) -> str:
    """The machine-readable reason of an HTTP error, in snake case."""
    return _REASON_CODE.sub("_", error.reason.lower()).strip("_") or str(error.status)


def error_page(request: web.Request, status: int, reason: str) -> web.Response:
    """error.html with `status` and `reason` (a data-reason code), in the reader's language."""
    return render(
        request,
        "error.html",
        {
            "status": status,
            "reason": reason,
            "title": _ERROR_TITLES.get(status, _ERROR_DEFAULT_TITLE),
            "message": _REASON_MESSAGES.get(reason, _STATUS_MESSAGE),
        },
        status=status,
    )


def _secure(response: web.StreamResponse) -> None:
    response.headers.update(SECURITY_HEADERS)
    response.headers.setdefault("Cache-Control", "no-store")


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def middlewares(ctx: ConsoleContext) -> Sequence[Any]:  # noqa: ARG001 - same signature as auth's
    """Security headers (CSP, frame-ancestors), the page language, HTML error pages."""

    @web.middleware
    async def console_pages(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            response = await handler(request)
        except web.HTTPException as error:
            if error.status < 400:
                _secure(error)
                raise
            response = error_page(request, error.status, reason_code(error))
            if "Allow" in error.headers:
                response.headers["Allow"] = error.headers["Allow"]
        except (ConnectionError, asyncio.CancelledError):
            raise
        except Exception as error:  # no stack trace may reach the reader
            log.error(
                "console_page_failed",
                exc_info=error,
                extra=fields(method=request.method, route=route_template(request)),
            )
            response = error_page(request, 500, "internal_error")
        _secure(response)
        return response

    return (console_pages,)


__all__ = [
    "CONSOLE_CONTEXT",
    "CONTENT_SECURITY_POLICY",
    "LANGUAGE_COOKIE",
    "error_page",
    "label",
    "middlewares",
    "page_language",
    "reading_in",
    "reason_code",
    "render",
    "safe_next",
    "setup",
    "translations",
]
