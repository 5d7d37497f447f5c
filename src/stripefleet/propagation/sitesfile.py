"""The sites file: one base URL a line (README, section 'Pushing keys to the fleet').

Blank lines and ``#`` comments are ignored; surrounding white space and a trailing
slash are dropped; a URL listed twice is reported once and pushed once; a line that is
not an ``http(s)://host[:port][/path]`` URL is an error naming the line. A URL may be
followed by tags, ``https://shop.example.fr env=prod``: ``env=test`` or ``env=prod``
(the site's Stripe mode, checked by the preflight: a live key never goes to a test
site, nor a test key to a production one); a line without it skips that check.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit


class SitesFileError(ValueError):
    """The sites file cannot be used; the message names the file and the line."""


@dataclass
class Duplicate:
    """A URL listed again: where, and where first."""

    url: str
    line: int
    first_line: int


@dataclass
class SitesFile:
    """The URLs of a sites file, in order, each once, and the duplicates dropped."""

    path: Path
    urls: list[str] = field(default_factory=list)
    duplicates: list[Duplicate] = field(default_factory=list)
    #: url -> ``test`` or ``prod``, for the lines tagged ``env=...``.
    environments: dict[str, str] = field(default_factory=dict)


#: The values of a line's ``env=`` tag.
ENVIRONMENTS = ("test", "prod")


def parse_tags(tokens: list[str]) -> dict[str, str]:
    """``["env=prod"]`` -> ``{"env": "prod"}``.

    Raises:
        ValueError: a token that is not ``env=test`` / ``env=prod``, or a tag repeated.
    """
    tags: dict[str, str] = {}
    for token in tokens:
        name, sep, value = token.partition("=")
        if not sep or name != "env":
            raise ValueError(f"{token!r} is not a tag (the only tag is env=test or env=prod)")
        if value not in ENVIRONMENTS:
            raise ValueError(f"env={value!r}: give env=test or env=prod")
        if name in tags:
            raise ValueError(f"the tag {name} is given twice")
        tags[name] = value
    return tags


def normalize_url(text: str) -> str:
    """``HTTPS://Shop.Example.fr/`` -> ``https://shop.example.fr``.

    Raises:
        ValueError: not an http(s) URL with a host, or it carries a query, a fragment,
            credentials or white space.
    """
    if any(c.isspace() for c in text):
        raise ValueError("contains white space")
    parts = urlsplit(text)
    if parts.scheme.lower() not in ("http", "https"):
        raise ValueError("must start with http:// or https://")
    if not parts.hostname:
        raise ValueError("has no host")
    if parts.query or parts.fragment or "@" in parts.netloc:
        raise ValueError("must be a base URL (no query, fragment or credentials)")
    try:
        port = parts.port
    except ValueError as exc:
        raise ValueError("has an invalid port") from exc
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{port}" if port is not None else host
    return f"{parts.scheme.lower()}://{netloc}{parts.path.rstrip('/')}"


def load_sites(path: Path) -> SitesFile:
    """Read and check a whole sites file (before any request is sent).

    Raises:
        SitesFileError: unreadable file, a malformed URL (naming the line), or no URL.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SitesFileError(f"{path}: cannot read it ({exc.__class__.__name__})") from exc
    result = SitesFile(path)
    first: dict[str, int] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        head, *rest = line.split()
        try:
            url = normalize_url(head)
        except ValueError as exc:
            raise SitesFileError(f"{path}:{number}: {head!r} is not a site URL: {exc}") from None
        try:
            tags = parse_tags(rest)
        except ValueError as exc:
            raise SitesFileError(f"{path}:{number}: {exc}") from None
        if url in first:
            result.duplicates.append(Duplicate(url, number, first[url]))
            continue
        first[url] = number
        result.urls.append(url)
        if "env" in tags:
            result.environments[url] = tags["env"]
    if not result.urls:
        raise SitesFileError(f"{path}: no site URL in it (one base URL a line)")
    return result
