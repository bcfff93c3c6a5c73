"""Headless Chromium: print the report's HTML to PDF, or take a screenshot of it.

Chromium is an optional system package (`apt-get install chromium`); without it a PDF is refused
with the install command, and the HTML still works. Each run gets its own throwaway profile, so
cron jobs and the service can print at the same time.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from daiyun.features.errors import RequestError
from daiyun.serving.report.files import replaced

CHROMIUM_ENV = "DAIYUN_CHROMIUM"
CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
INSTALL = "apt-get install chromium (Debian/Ubuntu), or set DAIYUN_CHROMIUM to a Chrome/Chromium binary"
TIMEOUT_SECONDS = 120
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--no-first-run",
    "--mute-audio",
)


def find_chromium() -> str | None:
    named = os.environ.get(CHROMIUM_ENV, "").strip()
    if named:
        return named if Path(named).is_file() else shutil.which(named)
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


def _run(html_file: Path, *arguments: str) -> subprocess.CompletedProcess:
    binary = find_chromium()
    if binary is None:
        raise RequestError(
            "--out",
            "printing a PDF needs headless Chromium, which is not installed",
            f"{INSTALL}; or write .html and print it from a browser",
        )
    with tempfile.TemporaryDirectory(prefix="daiyun-chromium-") as profile:
        command = [
            binary,
            *FLAGS,
            f"--user-data-dir={profile}",
            *arguments,
            Path(html_file).resolve().as_uri(),
        ]
        try:
            return subprocess.run(
                command, capture_output=True, text=True, timeout=TIMEOUT_SECONDS, check=False
            )
        except subprocess.TimeoutExpired:
            raise RequestError(
                "--out", f"Chromium took longer than {TIMEOUT_SECONDS} s", "try again"
            ) from None


def print_pdf(html_file: Path, pdf_path: Path) -> Path:
    """`html_file` printed to `pdf_path` (temp file + rename: a failed print leaves no half PDF)."""
    with replaced(pdf_path) as temporary:
        result = _run(html_file, f"--print-to-pdf={temporary}", "--no-pdf-header-footer")
        if result.returncode != 0 or not temporary.read_bytes()[:5] == b"%PDF-":
            raise RequestError(
                "--out",
                f"Chromium could not print the PDF: {result.stderr.strip()[-300:]}",
                "write .html instead, or check the Chromium install",
            )
    return Path(pdf_path)


def screenshot(html_file: Path, png_path: Path, width: int = 1000, height: int = 3000) -> Path:
    result = _run(
        html_file,
        f"--screenshot={Path(png_path).resolve()}",
        f"--window-size={width},{height}",
        "--force-device-scale-factor=1",
    )
    if result.returncode != 0 or not Path(png_path).is_file():
        raise RuntimeError(f"Chromium could not take the screenshot: {result.stderr.strip()[-300:]}")
    return Path(png_path)


def dump_dom(html_file: Path, width: int = 1000, height: int = 3000, budget_ms: int = 5000) -> str:
    """The page's DOM after it loaded (and its scripts ran), as Chromium serialises it."""
    result = _run(
        html_file,
        "--dump-dom",
        f"--window-size={width},{height}",
        f"--virtual-time-budget={budget_ms}",
        "--force-device-scale-factor=1",
    )
    if result.returncode != 0:
        raise RuntimeError(f"Chromium could not load the page: {result.stderr.strip()[-300:]}")
    return result.stdout
