"""Screenshot of a study's HTML report (the README's picture), in headless Debian chromium via Playwright.

Usage: python scripts/screenshot_report.py study-out/report/index.html docs/images/study-report.png
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright


def main(report: str, png: str) -> None:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=["--mute-audio"])
        page = browser.new_page(viewport={"width": 1280, "height": 1100})
        page.goto(Path(report).resolve().as_uri())
        page.wait_for_timeout(1000)
        page.screenshot(path=png)  # the top of the page: title, headline numbers, first figures
        print(f"chromium {browser.version}: wrote {png}")
        browser.close()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
