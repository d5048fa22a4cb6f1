"""The console's static assets: its stylesheet, the Khmer font and the font's licence.

Design notes:
- Everything is served by the gateway itself (no CDN: the links are slow and the CSP allows
  'self' only), made from the installed packages: the stylesheet from gateway.console,
  Noto Sans Khmer and its OFL licence from fontpkg-noto-sans-khmer, located with
  importlib.resources rather than copied into this repository.
- Slow links: the package's font is a 360 KB variable font with a width axis and weights
  100-900. The console uses the normal width and weights 400-700, so it serves an instance
  cut to that with fontTools (every glyph kept), gzipped when the browser accepts it:
  about 70 KB on the wire. Only pages that show Khmer text fetch it (its unicode-range in
  console.css).
- Every page shows one Khmer word, though: "ខ្មែរ" in the language switcher. So that
  Vietnamese and English pages do not pull the whole font for it, a subset with only that
  word's glyphs (a few KB) is cut from the same font and used by the switcher alone.
- Fonts are cut on their first request, in a worker thread, once per process: a gateway
  that nobody opens a Khmer page on never spends the second it takes.
- Assets get a year's immutable caching: the stylesheet's URL carries a hash of its bytes,
  and the fonts change only with their package, i.e. with a release of the gateway.
"""

from __future__ import annotations

import asyncio
import functools
import gzip
import hashlib
import io
import threading
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from importlib import resources
from types import MappingProxyType

from aiohttp import web
from fontTools import subset  # type: ignore[import-untyped]  # fontTools ships no types
from fontTools.ttLib import TTFont  # type: ignore[import-untyped]
from fontTools.varLib import instancer  # type: ignore[import-untyped]

ASSET_CACHE = "public, max-age=31536000, immutable"
STYLESHEET = "console.css"
KHMER_FONT = "fonts/NotoSansKhmer.ttf"
KHMER_SWITCHER_FONT = "fonts/NotoSansKhmer-switcher.ttf"
FONT_LICENCE = "fonts/OFL.txt"
# The weights console.css uses (normal text, bold headings and labels).
WEIGHTS = (400, 700)


@dataclass(frozen=True)
class Asset:
    body: bytes
    content_type: str
    gzipped: bytes | None = None

    @property
    def version(self) -> str:
        return hashlib.sha256(self.body).hexdigest()[:12]


def _font_package() -> resources.abc.Traversable:
    return resources.files("fontpkg_noto_sans_khmer")


def khmer_font() -> bytes:
    """Noto Sans Khmer as installed by fontpkg-noto-sans-khmer."""
    # The package names the file after its axes ("NotoSansKhmer[wdth,wght].ttf"): found by
    # its stem, so that a font update that renames it does not break the console.
    folder = _font_package() / "files"
    fonts = sorted(e.name for e in folder.iterdir() if e.name.startswith("NotoSansKhmer"))
    if not fonts:
        raise FileNotFoundError("fontpkg-noto-sans-khmer holds no NotoSansKhmer font")
    return (folder / fonts[0]).read_bytes()


def _saved(font: TTFont) -> bytes:
    out = io.BytesIO()
    font.save(out)
    return bytes(out.getvalue())


def web_instance(font: bytes) -> bytes:
    """`font` at its normal width with only the weights the console uses: every glyph and
    shaping rule kept, the variation data it never needs dropped."""
    variable = TTFont(io.BytesIO(font))
    axes = {axis.axisTag for axis in variable["fvar"].axes} if "fvar" in variable else set()
    limits: dict[str, object] = {}
    if "wdth" in axes:
        limits["wdth"] = 100
    if "wght" in axes:
        limits["wght"] = WEIGHTS
    if not limits:
        return font
    return _saved(instancer.instantiateVariableFont(variable, limits))


def font_subset(font: bytes, text: str) -> bytes:
    """`font` cut down to the glyphs `text` needs, its shaping rules kept (Khmer stacks
    subscript consonants and vowels through GSUB, so the layout tables must come along)."""
    options = subset.Options()
    options.layout_features = ["*"]
    options.name_IDs = ["*"]  # keeps the copyright and licence notices the OFL asks for
    options.notdef_outline = True
    subsetter = subset.Subsetter(options)
    subsetter.populate(text=text)
    # The font's own timestamp kept: the same text gives the same bytes (a report that embeds
    # the cut, gateway/report/html_format.py, is byte-for-byte reproducible).
    cut = TTFont(io.BytesIO(font), recalcTimestamp=False)
    subsetter.subset(cut)
    return _saved(cut)


def _compressed(body: bytes, content_type: str) -> Asset:
    # mtime=0: the same bytes on every start, for caches and ETags alike.
    return Asset(body, content_type, gzip.compress(body, compresslevel=9, mtime=0))


def stylesheet() -> Asset:
    body = (resources.files("gateway.console") / "static" / STYLESHEET).read_bytes()
    return _compressed(body, "text/css")


_building = threading.Lock()


@functools.cache
def _built(name: str, khmer_switcher_text: str) -> Asset:
    if name == STYLESHEET:
        return stylesheet()
    if name == KHMER_FONT:
        return _compressed(web_instance(khmer_font()), "font/ttf")
    if name == KHMER_SWITCHER_FONT:
        return Asset(font_subset(khmer_font(), khmer_switcher_text), "font/ttf")
    if name == FONT_LICENCE:
        return _compressed((_font_package() / "LICENSE").read_bytes(), "text/plain")
    raise KeyError(name)


def built(name: str, khmer_switcher_text: str) -> Asset:
    """The asset at /console/static/<name>, made once per process (thread-safe)."""
    with _building:
        return _built(name, khmer_switcher_text)


NAMES = (STYLESHEET, KHMER_FONT, KHMER_SWITCHER_FONT, FONT_LICENCE)


def _serve(name: str, khmer_switcher_text: str) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def serve(request: web.Request) -> web.Response:
        loop = asyncio.get_running_loop()
        asset = await loop.run_in_executor(None, built, name, khmer_switcher_text)
        headers = {"Cache-Control": ASSET_CACHE, "Vary": "Accept-Encoding"}
        body = asset.body
        if asset.gzipped is not None and "gzip" in request.headers.get("Accept-Encoding", ""):
            body = asset.gzipped
            headers["Content-Encoding"] = "gzip"
        return web.Response(body=body, content_type=asset.content_type, headers=headers)

    return serve


def routes(khmer_switcher_text: str) -> list[web.RouteDef]:
    return [web.get(f"/static/{name}", _serve(name, khmer_switcher_text)) for name in NAMES]


def versions(khmer_switcher_text: str) -> Mapping[str, str]:
    """Version tags for static_url(): the stylesheet's content hash (cheap to make)."""
    return MappingProxyType({STYLESHEET: built(STYLESHEET, khmer_switcher_text).version})


__all__ = [
    "ASSET_CACHE",
    "FONT_LICENCE",
    "KHMER_FONT",
    "KHMER_SWITCHER_FONT",
    "NAMES",
    "STYLESHEET",
    "Asset",
    "built",
    "font_subset",
    "khmer_font",
    "routes",
    "versions",
    "web_instance",
]
