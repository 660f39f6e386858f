"""Debian's Chromium for the browser tests, driven by Playwright (which never downloads a browser of its own).

``.ci/install-tools`` installs Chromium (CI runs it from ``.ci/run``).  Under CI (CI=true) a missing browser
or Playwright fails the test that needs it; elsewhere the test is skipped with the reason.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"  # screenshots kept for a reader
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def unavailable(reason: str):
    if os.environ.get("CI"):
        pytest.fail(f"browser test cannot run under CI: {reason} (.ci/install-tools installs it)")
    pytest.skip(f"{reason}; run .ci/install-tools as root to install it")


@contextlib.contextmanager
def chromium(tmp_path_factory, width: int, height: int) -> Iterator:
    """A persistent Chromium context (its own profile folder) with a ``width`` x ``height`` viewport."""
    exe = CHROMIUM if CHROMIUM.exists() else shutil.which("chromium")
    if exe is None:
        unavailable("Debian's chromium is not installed")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("the playwright package is not installed (it is a test extra)")
    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as pw:
        ctx = pw.chromium.launch_persistent_context(str(profile), executable_path=str(exe), args=FLAGS,
                                                    headless=True, viewport={"width": width, "height": height})
        try:
            yield ctx
        finally:
            ctx.close()
