"""The console's static assets: its stylesheet, the Khmer font and the font's licence.

Design notes:
- Everything is served by the gateway itself (no CDN: the links are slow and the CSP allows
  'self' only) and read once at start-up from the installed packages: the stylesheet from
  gateway.console, Noto Sans Khmer and its OFL licence from fontpkg-noto-sans-khmer, located
  with importlib.resources rather than copied into this repository.
- Assets get a year's immutable caching: the stylesheet's URL carries a hash of its bytes,
  and the font changes only with its package, i.e. with a release of the gateway.
- The full Khmer font (about 350 KB) is fetched only by pages that show Khmer text (the CSS
  gives it a Khmer unicode-range). Every page shows one Khmer word, though: "ខ្មែរ" in the
  language switcher. So that Vietnamese and English pages do not pull the whole font for it,
  a subset holding only that word's glyphs (a few KB) is cut from the same font with
  fontTools at start-up and used by the switcher alone.
"""

from __future__ import annotations

import functools
import hashlib
import io
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from importlib import resources
from types import MappingProxyType

from aiohttp import web
from fontTools import subset  # type: ignore[import-untyped]  # fontTools ships no types
from fontTools.ttLib import TTFont  # type: ignore[import-untyped]

ASSET_CACHE = "public, max-age=31536000, immutable"
STYLESHEET = "console.css"
KHMER_FONT = "fonts/NotoSansKhmer.ttf"
KHMER_SWITCHER_FONT = "fonts/NotoSansKhmer-switcher.ttf"
FONT_LICENCE = "fonts/OFL.txt"


@dataclass(frozen=True)
class Asset:
    body: bytes
    content_type: str

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


def font_subset(font: bytes, text: str) -> bytes:
    """`font` cut down to the glyphs `text` needs, its shaping rules kept (Khmer stacks
    subscript consonants and vowels through GSUB, so the layout tables must come along)."""
    options = subset.Options()
    options.layout_features = ["*"]
    options.name_IDs = ["*"]  # keeps the copyright and licence notices the OFL asks for
    options.notdef_outline = True
    subsetter = subset.Subsetter(options)
    subsetter.populate(text=text)
    cut = TTFont(io.BytesIO(font))
    subsetter.subset(cut)
    out = io.BytesIO()
    cut.save(out)
    return bytes(out.getvalue())


@functools.cache
def load(khmer_switcher_text: str) -> Mapping[str, Asset]:
    """Every asset by its path under /console/static/ (read and cut once per process)."""
    font = khmer_font()
    stylesheet = resources.files("gateway.console") / "static" / STYLESHEET
    return MappingProxyType(
        {
            STYLESHEET: Asset(stylesheet.read_bytes(), "text/css"),
            KHMER_FONT: Asset(font, "font/ttf"),
            KHMER_SWITCHER_FONT: Asset(font_subset(font, khmer_switcher_text), "font/ttf"),
            FONT_LICENCE: Asset((_font_package() / "LICENSE").read_bytes(), "text/plain"),
        }
    )


def _serve(asset: Asset) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def serve(request: web.Request) -> web.Response:  # noqa: ARG001 - aiohttp handler
        return web.Response(
            body=asset.body,
            content_type=asset.content_type,
            headers={"Cache-Control": ASSET_CACHE},
        )

    return serve


def routes(assets: Mapping[str, Asset]) -> list[web.RouteDef]:
    return [web.get(f"/static/{name}", _serve(asset)) for name, asset in assets.items()]


__all__ = [
    "ASSET_CACHE",
    "FONT_LICENCE",
    "KHMER_FONT",
    "KHMER_SWITCHER_FONT",
    "STYLESHEET",
    "Asset",
    "font_subset",
    "khmer_font",
    "load",
    "routes",
]
