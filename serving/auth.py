"""API keys: each key sees only the brands it was given (the tenant boundary of the HTTP API).

Keys come from `DAIYUN_API_KEYS_FILE` (JSON or YAML mapping `key: [brand, ...]`) or from
`DAIYUN_API_KEYS` (`"key1:brandA,brandB;key2:brandC"`). The brand `*` means every brand (for the
agency's own operators). With neither set the service is open, which is for local use only; set
but blank, or malformed, it refuses to start (and its errors never quote a key).
Callers send `Authorization: Bearer <key>` or `X-API-Key: <key>`.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

KEYS_ENV = "DAIYUN_API_KEYS"
KEYS_FILE_ENV = "DAIYUN_API_KEYS_FILE"
EVERY_BRAND = "*"


class AuthError(Exception):
    """401 (no or unknown key) or 403 (the key does not cover the brand)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _digest(key: str) -> str:
    # keys are looked up by digest, so lookup time says nothing about how much of a key matched
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Access:
    """What one caller may see: a set of brands, or every brand."""

    brands: frozenset[str]
    every_brand: bool = False

    def allows(self, brand: str) -> bool:
        return self.every_brand or brand in self.brands

    def visible(self, brands: list[str]) -> list[str]:
        return [brand for brand in brands if self.allows(brand)]


OPEN_ACCESS = Access(frozenset(), every_brand=True)


class KeyRing:
    """The configured keys. `None` keys means the service runs open."""

    def __init__(self, keys: Mapping[str, list[str] | tuple[str, ...] | frozenset[str]] | None) -> None:
        self._by_digest: dict[str, Access] | None = None
        if keys is not None:
            self._by_digest = {}
            for key, brands in keys.items():
                key = str(key).strip()
                if not key:
                    raise ValueError("an API key must not be empty")
                names = frozenset(str(brand).strip() for brand in brands if str(brand).strip())
                self._by_digest[_digest(key)] = Access(
                    names - {EVERY_BRAND}, every_brand=EVERY_BRAND in names
                )

    @property
    def is_open(self) -> bool:
        return self._by_digest is None

    def __len__(self) -> int:
        return 0 if self._by_digest is None else len(self._by_digest)

    @classmethod
    def from_environment(cls) -> KeyRing:
        """Keys from the file named by DAIYUN_API_KEYS_FILE, else DAIYUN_API_KEYS, else open."""
        for name in (KEYS_FILE_ENV, KEYS_ENV):
            if name in os.environ and not os.environ[name].strip():
                # set but blank is a mistake (a template or a failed secret mount), never "run open"
                raise ValueError(
                    f"{name} is set but blank: the service will not start open by accident. "
                    f"Give it keys, or unset it to run open (local use only)"
                )
        path = os.environ.get(KEYS_FILE_ENV, "").strip()
        if path:
            return cls(_non_empty(read_keys_file(Path(path)), f"{KEYS_FILE_ENV} ({path})"))
        inline = os.environ.get(KEYS_ENV, "").strip()
        if inline:
            return cls(_non_empty(parse_keys(inline), KEYS_ENV))
        return cls(None)

    def access(self, headers: Mapping[str, str]) -> Access:
        """The caller's access from its headers; AuthError(401) without a known key."""
        if self._by_digest is None:
            return OPEN_ACCESS
        key = presented_key(headers)
        if not key:
            raise AuthError(
                401, "missing API key: send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'"
            )
        access = self._by_digest.get(_digest(key))
        if access is None:
            raise AuthError(401, "unknown API key: ask the daiyun operators for a key for your brands")
        return access


def presented_key(headers: Mapping[str, str]) -> str:
    """The bearer token when an Authorization header is sent, else X-API-Key. An Authorization
    header that is not `Bearer <token>` presents no key: a valid X-API-Key beside a broken
    Authorization is refused rather than guessed at."""
    authorization = headers.get("authorization")
    if authorization is not None:
        scheme, _, token = authorization.strip().partition(" ")
        return token.strip() if scheme.lower() == "bearer" else ""
    return headers.get("x-api-key", "").strip()


def require_brand(access: Access, brand: str) -> None:
    """403 unless the key covers the brand. Checked before any lookup, so that a caller cannot
    learn whether another brand exists."""
    if not access.allows(brand):
        raise AuthError(403, f"brand '{brand}' is not covered by this API key")


def parse_keys(text: str) -> dict[str, list[str]]:
    """`"key1:brandA,brandB;key2:brandC"` -> {"key1": ["brandA", "brandB"], "key2": ["brandC"]}."""
    keys: dict[str, list[str]] = {}
    for number, entry in enumerate(text.split(";"), start=1):
        if not entry.strip():
            continue
        key, separator, brands = entry.partition(":")
        # the message names the entry by position only: no part of a key ever reaches a log
        if not separator or not key.strip():
            raise ValueError(
                f"{KEYS_ENV}: entry {number} is not 'key:brandA,brandB' (no ':' after the key); "
                "separate keys with ';'"
            )
        names = [brand.strip() for brand in brands.split(",") if brand.strip()]
        if not names:
            raise ValueError(f"{KEYS_ENV}: entry {number} names no brand; give 'key:brand' or 'key:*'")
        keys[key.strip()] = names
    return keys


def _non_empty(keys: dict[str, list[str]], where: str) -> dict[str, list[str]]:
    if not keys:
        raise ValueError(f"{where} holds no keys; give 'key:brandA,brandB;key2:brandC' or unset it")
    return keys


def read_keys_file(path: Path) -> dict[str, list[str]]:
    """A JSON or YAML mapping of key -> list of brands (or one comma-separated string)."""
    if not path.is_file():
        raise FileNotFoundError(f"{KEYS_FILE_ENV}: no file at {path}")
    text = path.read_text(encoding="utf-8")
    import yaml

    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as error:
        # the parsers quote the offending line, which holds a key: say only where it is
        line = getattr(error, "lineno", None) or getattr(getattr(error, "problem_mark", None), "line", None)
        where = f" near line {line + (0 if hasattr(error, 'lineno') else 1)}" if line is not None else ""
        kind = "JSON" if path.suffix.lower() == ".json" else "YAML"
        raise ValueError(f"{path}: not valid {kind}{where}") from None
    if not isinstance(data, Mapping):
        raise ValueError(f"{path}: expected a mapping of API key -> list of brands")
    keys: dict[str, list[str]] = {}
    for number, (key, brands) in enumerate(data.items(), start=1):
        if isinstance(brands, str):
            brands = brands.split(",")
        if not isinstance(brands, list | tuple):
            raise ValueError(f"{path}: key {number}: the brands of a key must be a list of brand names")
        if not str(key).strip():
            raise ValueError(f"{path}: key {number} is empty")
        keys[str(key)] = [str(brand) for brand in brands]
    return keys
