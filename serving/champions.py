"""The champions the service answers with: every brand's champion of every family, loaded once.

Two sources, one shape:
- `registry`: the MLflow registry (`daiyun serve`, development). Every registered `daiyun-*` model
  with a `champion` alias is loaded at the champion's version.
- `bento`: a snapshot of those champions packed as one BentoML model (`daiyun-champions`) by
  `pack_champions()`, which `bentoml build` puts into the Bento, so a Bento runs without the
  tracking store. The snapshot keeps each model's registry name, version and run id, so answers
  name the same versions either way.

A model that fails to load becomes a `LoadFailure` (reported by /readyz and /models); the others
are served. A bundle is only ever served for the brand it says it was trained on.
"""

from __future__ import annotations

import json
import logging
import os
import pickle
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from daiyun.features.errors import RequestError
from daiyun.models.registry import (
    champion_info,
    check_bundle,
    list_models,
    load_bundle,
    model_name,
    readable_bundle,
    split_name,
)
from daiyun.models.registry import client as registry_client

logger = logging.getLogger("bentoml.daiyun")

PACKED_MODEL = "daiyun-champions"
MANIFEST = "manifest.json"
SOURCE_ENV = "DAIYUN_CHAMPIONS_SOURCE"  # registry | bento; default: bento inside a Bento, else registry


@dataclass(frozen=True)
class Champion:
    family: str
    brand: str
    name: str
    version: str
    run_id: str
    metrics: dict[str, float]
    bundle: Any = field(repr=False, compare=False)
    source: str = "registry"
    precomputed: Any = field(default=None, repr=False, compare=False)  # serving.precompute

    @property
    def history_end(self) -> Any:
        """The last date the bundle knows (forecasts start the day after), when it says."""
        for name in ("origin", "data_end", "history_end"):
            try:
                value = getattr(self.bundle, name, None)
            except Exception:  # noqa: BLE001 - a description, never worth a failed listing
                value = None
            if value is not None:
                return _as_date(value)
        return None

    def version_fields(self) -> dict[str, str]:
        return {
            "family": self.family,
            "brand": self.brand,
            "name": self.name,
            "version": self.version,
            "run_id": self.run_id,
            "source": self.source,
        }


@dataclass(frozen=True)
class LoadFailure:
    family: str
    brand: str  # the brand part of the registered name when the bundle could not be read
    name: str
    version: str | None
    error: str


class ModelUnavailable(RequestError):
    """The brand has a champion, but it failed to load at start (HTTP 503)."""

    def __init__(self, failure: LoadFailure) -> None:
        super().__init__(
            "brand",
            f"the {failure.family} champion of brand '{failure.brand}' ({failure.name} "
            f"v{failure.version}) failed to load at start: {failure.error}",
            "see /readyz; fix the model and restart the service",
            status=503,
        )


class ChampionSet:
    """Champions by (family, brand), plus what failed to load."""

    def __init__(self, champions: Iterable[Champion], failures: Iterable[LoadFailure], source: str) -> None:
        self.source = source
        self._champions = {(c.family, c.brand): c for c in champions}
        self.failures = list(failures)

    @property
    def champions(self) -> list[Champion]:
        return sorted(self._champions.values(), key=lambda c: (c.brand, c.family))

    @property
    def brands(self) -> list[str]:
        return sorted({brand for _, brand in self._champions} | {f.brand for f in self.failures})

    def __len__(self) -> int:
        return len(self._champions)

    def replace(self, champion: Champion) -> None:
        self._champions[(champion.family, champion.brand)] = champion

    def discard(self, failure: LoadFailure) -> None:
        """Stop serving a champion that turned out broken; it is reported as a failure instead."""
        self._champions.pop((failure.family, failure.brand), None)
        self.failures.append(failure)

    def find(self, family: str, brand: str) -> Champion | None:
        """The brand's champion of `family`, None when it has none (no error: for optional helpers)."""
        return self._champions.get((family, brand))

    def get(self, family: str, brand: str, visible_brands: list[str] | None = None) -> Champion:
        """The brand's champion; 404 when it has none (naming only brands the caller may see),
        503 when it failed to load."""
        champion = self.find(family, brand)
        if champion is not None:
            return champion
        for failure in self.failures:
            if failure.family == family and failure.brand == brand:
                raise ModelUnavailable(failure)
        known = [b for (f, b) in sorted(self._champions) if f == family]
        if visible_brands is not None:
            known = [b for b in known if b in visible_brands]
        raise RequestError(
            "brand",
            f"brand '{brand}' has no {family} champion",
            f"train one with `daiyun train {family} --data DIR --brand {brand}`"
            + (f" (brands with one: {', '.join(known[:10])})" if known else ""),
            status=404,
        )


# ---------------------------------------------------------------------------- registry


def load_from_registry() -> ChampionSet:
    """Every registered daiyun champion from the MLflow registry (MLFLOW_TRACKING_URI or mlflow/)."""
    champions: list[Champion] = []
    failures: list[LoadFailure] = []
    registered = list_models()
    for name, alias_version in zip(registered["name"], registered["champion_version"], strict=True):
        parsed = split_name(str(name))
        if parsed is None or not alias_version or str(alias_version) == "nan":
            continue  # not ours, or registered without a champion yet
        family, slug = parsed
        version = str(alias_version)
        try:
            # the slug is its own registry name, so champion_info finds this model by it
            info = champion_info(family, slug)
            if info is None:
                continue
            version = info.version
            # the tenant check comes before any unpickling: a version registered for another brand
            # (or for none) is refused by its registry tags, so its pickle is never opened
            _check_registered_brand(family, str(name), info.version)
            bundle = load_bundle(f"models:/{name}/{info.version}")  # pinned: the alias may move
            brand = _bundle_brand(bundle, family, name, model_name)
            champions.append(
                Champion(family, brand, name, info.version, info.run_id, _floats(info.metrics), bundle)
            )
        except Exception as error:  # noqa: BLE001 - one broken model must not stop the others
            logger.exception("could not load %s v%s", name, version)
            failures.append(LoadFailure(family, slug, name, version, describe_error(error)))
    return ChampionSet(champions, failures, source="registry")


def _check_registered_brand(family: str, name: str, version: str) -> None:
    """The version's `brand` and `family` tags (written when it was registered) must give back its
    registered name; otherwise it is not loaded at all."""
    tags = dict(registry_client().get_model_version(name, version).tags or {})
    brand, tagged_family = tags.get("brand"), tags.get("family")
    if not brand or tagged_family != family:
        raise ValueError(
            f"{name} v{version}: registered without the brand and family tags daiyun writes; "
            f"not loaded (register it with `daiyun train {family}`)"
        )
    if model_name(family, brand) != name:
        raise ValueError(f"{name} v{version}: registered for brand '{brand}'; not loaded under this name")


def _bundle_brand(bundle: Any, family: str, name: str, model_name: Any) -> str:
    brand = getattr(bundle, "brand", None)
    if not brand:
        raise TypeError(f"{name}: the bundle has no `brand` attribute")
    if model_name(family, brand) != name:
        # never serve a bundle under another brand's name
        raise ValueError(f"{name}: the bundle was trained for brand '{brand}'")
    return str(brand)


def _as_date(value: Any) -> Any:
    import pandas as pd

    try:
        return pd.Timestamp(value).date()
    except (TypeError, ValueError):
        return None


def _floats(metrics: dict[str, Any]) -> dict[str, float]:
    out = {}
    for key, value in metrics.items():
        try:
            out[str(key)] = float(value)
        except (TypeError, ValueError):
            continue
    return out


def describe_error(error: BaseException) -> str:
    text = f"{type(error).__name__}: {error}".strip()
    return text if len(text) <= 300 else text[:297] + "..."


# ---------------------------------------------------------------------------- packed (Bento)


def write_snapshot(champion_set: ChampionSet, directory: Path) -> list[dict[str, Any]]:
    """Pickle each champion's bundle into `directory` with a manifest of names and versions."""
    directory.mkdir(parents=True, exist_ok=True)
    manifest = []
    for champion in champion_set.champions:
        filename = f"{champion.name}-v{champion.version}.pkl"
        temporary = directory / (filename + ".tmp")
        temporary.write_bytes(pickle.dumps(champion.bundle, protocol=pickle.HIGHEST_PROTOCOL))
        temporary.rename(directory / filename)
        entry = champion.version_fields() | {"metrics": champion.metrics, "file": filename}
        entry.pop("source")
        manifest.append(entry)
    temporary = directory / (MANIFEST + ".tmp")
    temporary.write_text(json.dumps(manifest, indent=2, ensure_ascii=False), encoding="utf-8")
    temporary.rename(directory / MANIFEST)
    return manifest


def read_snapshot(directory: Path) -> ChampionSet:
    """The champions `write_snapshot` wrote; an unreadable bundle becomes a LoadFailure."""
    manifest = json.loads((Path(directory) / MANIFEST).read_text(encoding="utf-8"))
    champions: list[Champion] = []
    failures: list[LoadFailure] = []
    for entry in manifest:
        try:
            # the tenant check comes before unpickling: the entry's name must be its brand's, and
            # its file the one packed under that name and version
            if model_name(entry["family"], entry["brand"]) != entry["name"]:
                raise ValueError(f"{entry['name']}: the manifest gives it to brand '{entry['brand']}'")
            if entry["file"] != f"{entry['name']}-v{entry['version']}.pkl":
                raise ValueError(f"{entry['name']}: file '{entry['file']}' is not the one packed for it")
            with readable_bundle(entry["name"]):
                bundle = pickle.loads((Path(directory) / entry["file"]).read_bytes())
            check_bundle(bundle, entry["name"])
            if str(getattr(bundle, "brand", "")) != entry["brand"]:
                raise ValueError(f"{entry['file']}: the bundle was not trained for brand '{entry['brand']}'")
            champions.append(
                Champion(
                    entry["family"], entry["brand"], entry["name"], str(entry["version"]),
                    entry.get("run_id", ""), _floats(entry.get("metrics", {})), bundle, source="bento",
                )
            )
        except Exception as error:  # noqa: BLE001 - one broken model must not stop the others
            logger.exception("could not load %s from the Bento", entry.get("file"))
            failures.append(
                LoadFailure(
                    entry["family"], entry["brand"], entry["name"], str(entry["version"]),
                    describe_error(error),
                )
            )
    return ChampionSet(champions, failures, source="bento")


def pack_champions(champion_set: ChampionSet | None = None) -> str:
    """Snapshot the registry's champions into the BentoML model store as `daiyun-champions`.

    Run before `bentoml build` (that is what `daiyun bento` does). Refuses to pack when any
    champion failed to load, so a Bento never ships without a brand nobody noticed was missing.
    Returns the BentoML model tag.
    """
    import bentoml

    champion_set = champion_set if champion_set is not None else load_from_registry()
    if champion_set.failures:
        broken = "; ".join(f"{f.name} v{f.version}: {f.error}" for f in champion_set.failures)
        raise RuntimeError(f"not packing: {len(champion_set.failures)} champion(s) failed to load: {broken}")
    if not len(champion_set):
        raise LookupError("no champions in the registry to pack; train with `daiyun train all --data DIR`")
    summary = {c.name: c.version for c in champion_set.champions}
    with bentoml.models.create(
        PACKED_MODEL,
        labels={"project": "daiyun"},
        metadata={"champions": summary, "source": champion_set.source},
    ) as model:
        write_snapshot(champion_set, Path(model.path))
    return str(model.tag)


def choose_source(loaded_from_bento: bool) -> str:
    source = os.environ.get(SOURCE_ENV, "").strip().lower() or ("bento" if loaded_from_bento else "registry")
    if source not in ("registry", "bento"):
        raise ValueError(f"{SOURCE_ENV} must be 'registry' or 'bento', got '{source}'")
    return source
