"""The sites file: comments, blanks, duplicates, malformed lines."""

from __future__ import annotations

from pathlib import Path

import pytest

from stripefleet.propagation.sitesfile import SitesFileError, load_sites, normalize_url


def test_comments_blanks_and_duplicates(tmp_path: Path) -> None:
    """Comments and blank lines are ignored; duplicates are dropped and reported."""
    path = tmp_path / "sites.txt"
    path.write_text("# prod\n\nhttps://a.example\n  https://B.example/shop/  \n"
                    "https://a.example/\n#https://c.example\n")
    sites = load_sites(path)
    assert sites.urls == ["https://a.example", "https://b.example/shop"]
    assert [(d.url, d.line, d.first_line) for d in sites.duplicates] == [
        ("https://a.example", 5, 3)]


@pytest.mark.parametrize("line", [
    "a.example", "ftp://a.example", "https://", "https://a.example/?x=1",
    "https://user:pw@a.example", "https://a.example:99999", "https://a .example",
])
def test_malformed_line_named(tmp_path: Path, line: str) -> None:
    """A line that is not a base http(s) URL is an error naming the file and line."""
    path = tmp_path / "sites.txt"
    path.write_text(f"https://ok.example\n{line}\n")
    with pytest.raises(SitesFileError, match=r"sites\.txt:2:"):
        load_sites(path)


def test_empty_file_refused(tmp_path: Path) -> None:
    """A sites file without a URL is an error."""
    path = tmp_path / "sites.txt"
    path.write_text("# nothing yet\n")
    with pytest.raises(SitesFileError, match="no site URL"):
        load_sites(path)


def test_normalize_keeps_port_and_path() -> None:
    """Scheme and host are lowercased; port and path are kept; the trailing slash goes."""
    assert normalize_url("HTTP://127.0.0.1:8001/") == "http://127.0.0.1:8001"
    assert normalize_url("https://Shop.example/fr/") == "https://shop.example/fr"


def test_env_tags(tmp_path: Path) -> None:
    """A line may carry env=test or env=prod after its URL; lines without it have none."""
    path = tmp_path / "sites.txt"
    path.write_text("https://a.example env=prod\nhttps://b.example\nhttps://c.example  env=test\n")
    sites = load_sites(path)
    assert sites.urls == ["https://a.example", "https://b.example", "https://c.example"]
    assert sites.environments == {"https://a.example": "prod", "https://c.example": "test"}


@pytest.mark.parametrize("tags", ["env=staging", "region=eu", "env=prod env=test", "prod"])
def test_bad_tags_named(tmp_path: Path, tags: str) -> None:
    """An unknown tag or environment is an error naming the line."""
    path = tmp_path / "sites.txt"
    path.write_text(f"https://ok.example\nhttps://b.example {tags}\n")
    with pytest.raises(SitesFileError, match=r"sites\.txt:2:"):
        load_sites(path)
