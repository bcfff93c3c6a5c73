"""A CJK font for Chinese chart labels, or English with a warning when the machine has none.

Matplotlib draws a missing glyph as an empty box, so a Chinese report without a CJK font would
carry unreadable charts: English is the honest fallback. On Debian/Ubuntu the font is
`apt-get install fonts-wqy-microhei` (what .ci/run installs).
"""

from __future__ import annotations

import logging
from functools import lru_cache

logger = logging.getLogger("daiyun.report")

CJK_FAMILIES = (
    "WenQuanYi Micro Hei",
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "WenQuanYi Zen Hei",
    "SimHei",
    "Microsoft YaHei",
    "PingFang SC",
    "Heiti SC",
    "AR PL UMing CN",
)
INSTALL_HINT = "install one with `apt-get install fonts-wqy-microhei` (or any Noto Sans CJK font)"


CJK_FILE_HINTS = ("wqy", "cjk", "sourcehan", "notosanssc", "simhei", "msyh", "pingfang", "uming")


@lru_cache(maxsize=1)
def cjk_font() -> str | None:
    """The first CJK font family matplotlib can find, or None.

    Matplotlib caches the system's font list the first time it runs, so a font installed later
    (the usual order: pip install, then apt-get install fonts-wqy-microhei) is not in the cache:
    look for CJK font files on disk and register them before giving up.
    """
    from matplotlib import font_manager

    family = _known_family(font_manager)
    if family is None:
        for path in font_manager.findSystemFonts():
            if any(hint in path.lower().replace("-", "").replace("_", "") for hint in CJK_FILE_HINTS):
                try:
                    font_manager.fontManager.addfont(path)
                except (OSError, RuntimeError, ValueError):  # an unreadable font file is not fatal
                    continue
        family = _known_family(font_manager)
    return family


def _known_family(font_manager) -> str | None:  # noqa: ANN001
    available = {font.name for font in font_manager.fontManager.ttflist}
    return next((family for family in CJK_FAMILIES if family in available), None)


def choose_language(lang: str) -> tuple[str, str]:
    """The language the report can be drawn in, and a note when it differs from the one asked."""
    if lang not in ("en", "zh"):
        from daiyun.features.errors import RequestError

        raise RequestError("--lang", f"unknown language '{lang}'", "use en or zh")
    if lang == "zh" and cjk_font() is None:
        note = f"no CJK font found for Chinese labels: the report is in English; {INSTALL_HINT}"
        logger.warning(note)
        return "en", note
    return lang, ""
