"""daiyun: promotion sales forecasts, ad budget recommendations and product selection.

The stages live in the top-level folders `features/ models/ training/ serving/` (the project's
layout) and are installed as `daiyun.features`, `daiyun.models`, `daiyun.training` and
`daiyun.serving` (pyproject's package-dir). In a source checkout or a built Bento the stages sit
beside this folder instead of inside it, so they are added to this package's path; an installed
wheel has them inside and needs nothing.
"""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

_here = Path(__file__).resolve().parent
if not (_here / "features").is_dir() and (_here.parent / "features" / "__init__.py").is_file():
    __path__.append(str(_here.parent))  # type: ignore[name-defined]  # noqa: F821 - a package's own __path__

try:
    __version__ = metadata.version("daiyun")
except metadata.PackageNotFoundError:  # a Bento or a bare checkout: the code is there, the metadata is not
    __version__ = "0+unknown"
