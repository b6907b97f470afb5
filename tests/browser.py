"""Headless Chromium for the page tests: the DOM of a page after its scripts ran, and its screenshot.

Debian's ``chromium`` package (``/usr/bin/chromium``; CI installs it) runs
with no profile of the user's, no network services and no sandbox (tests run
as root in containers). A missing browser is a failure, never a skip: the
browser test is part of CI. :func:`parse_rows` reads the table of strata of a
``geodln explore`` page (as written, or as the browser left it), with the
standard library's :mod:`html.parser`.
"""

from __future__ import annotations

import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import quote, urlencode

import pytest

CHROMIUM = "/usr/bin/chromium"  # Debian's package
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run")
TIMEOUT = 180  # seconds: a cold start on a busy two-core machine takes a few; a page of 13 MB some more


def chromium() -> str:
    """The browser's executable; the calling test FAILS (does not skip) when it is not installed."""
    found = shutil.which(CHROMIUM)
    if found is None:
        pytest.fail(f"headless Chromium is missing ({CHROMIUM}): install Debian's package with "
                    "`apt-get install -y chromium` (.ci/run does)", pytrace=False)
    return found


def file_url(path, query: dict | None = None, fragment: str = "") -> str:
    """``file://`` address of ``path``, with ``?query`` (a dict, URL-encoded) and ``#fragment``."""
    url = "file://" + quote(str(Path(path).resolve()))
    if query:
        url += "?" + urlencode(query)
    return url + (f"#{quote(fragment)}" if fragment else "")


def _run(url: str, profile: Path, *flags: str) -> subprocess.CompletedProcess:
    profile.mkdir(parents=True, exist_ok=True)
    cmd = [chromium(), *FLAGS, f"--user-data-dir={profile}", *flags, url]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT, check=False)
    if done.returncode != 0:
        pytest.fail(f"chromium exited with {done.returncode} on {url}:\n{done.stderr[-2000:]}", pytrace=False)
    return done


def dump_dom(url: str, profile: Path) -> str:
    """The serialised DOM of the page at ``url`` after its scripts ran (``--dump-dom``).

    Parameters
    ----------
    url : str
        Usually :func:`file_url` of a page.
    profile : pathlib.Path
        A fresh folder for the browser's profile (``tmp_path / "profile"``).
    """
    dom = _run(url, profile, "--dump-dom").stdout
    if "<html" not in dom:
        pytest.fail(f"chromium printed no DOM for {url}", pytrace=False)
    return dom


def screenshot(url: str, png: Path, profile: Path, size: tuple[int, int] = (1400, 1000)) -> Path:
    """A PNG screenshot of the page at ``url`` in a window of ``size`` (width, height) pixels."""
    _run(url, profile, f"--window-size={size[0]},{size[1]}", f"--screenshot={png}")
    if not png.is_file() or png.read_bytes()[:8] != b"\x89PNG\r\n\x1a\n":
        pytest.fail(f"chromium wrote no PNG screenshot of {url} to {png}", pytrace=False)
    return png


class _Rows(HTMLParser):
    """The rows of ``#strata-table``'s body: attributes, and per cell its text and ``data-sort``."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.rows, self._in_table, self._cell = [], False, None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table" and attrs.get("id") == "strata-table":
            self._in_table = True
        elif self._in_table and tag == "tr" and "data-id" in attrs:
            self.rows.append({"attrs": attrs, "cells": []})
        elif self._in_table and tag == "td" and self.rows:
            self._cell = {"text": "", "sort": attrs.get("data-sort")}
            self.rows[-1]["cells"].append(self._cell)

    def handle_endtag(self, tag):
        if tag == "table":
            self._in_table = False
        elif tag == "td":
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell["text"] += data


def parse_rows(html: str) -> list[dict]:
    """The strata rows of a page: ``{"id", "hidden", "attrs", "cells": [{"text", "sort"}]}`` each, in page order."""
    parser = _Rows()
    parser.feed(html)
    return [{"id": r["attrs"]["data-id"], "hidden": "hidden" in r["attrs"], **r} for r in parser.rows]
