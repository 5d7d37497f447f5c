"""The embeddable propagation blueprint's settings, read from the host app's config:
``TEMPLATE_MASTER_API_KEY`` (the fleet's API key) and ``TEMPLATE_SITES_LIST`` (the
sites). The dashboard reads ``TEMPLATE_SITES_LIST`` in the same format; this module
imports nothing but the standard library, so that its configuration can.
"""

from __future__ import annotations

from collections.abc import Iterable


def parse_sites_list(raw: str | Iterable[str] | None) -> list[str]:
    """Site base URLs from ``TEMPLATE_SITES_LIST``: comma or newline separated, or a list.

    Blank entries and surrounding white space are dropped; trailing slashes removed.

    Raises:
        ValueError: an entry is not an ``http://`` or ``https://`` URL (the message
            shows its first 60 characters).
    """
    if raw is None:
        return []
    parts = raw.replace("\n", ",").split(",") if isinstance(raw, str) else raw
    urls = []
    for part in parts:
        url = str(part).strip().rstrip("/")
        if not url:
            continue
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"holds an entry that is not an http(s) URL: {url[:60]!r}")
        urls.append(url)
    return urls
