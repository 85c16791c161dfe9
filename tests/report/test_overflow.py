"""Reports people can read at 1280 px: in a real browser, neither audit.html nor report.html (with its
audit section) is wider than the window, even with long URLs and long tokens without spaces."""

from __future__ import annotations

import json
import re
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest

from harness.audit.html import audit_page, audit_section
from harness.report.build import build_report
from harness.report.html import render
from harness.report.screenshot import chromium_args, find_browser
from tests.report.test_screenshot import small_run

pytestmark = [
    pytest.mark.e2e,  # starts Chromium (see tests/conftest.py)
    pytest.mark.skipif(find_browser() is None, reason="chromium not found (apt-get install chromium)"),
]

WIDTH = 1280
LONG_URL = "https://api.example.test/v1/" + "segment/" * 40 + "?redirect=" + "https%3A%2F%2Fevil.example.test%2F" * 8
LONG_TOKEN = "sk-live-" + "Zq9xW3" * 40  # no space, no hyphen to break at
# after layout, the page's width and every element (outside a scrolling table) that ends past the window
PROBE = """<script>
(function () {
  document.querySelectorAll("details").forEach(function (d) { d.open = true; });  // the evidence too
  var root = document.documentElement, width = root.clientWidth, wide = [];
  document.querySelectorAll("body *").forEach(function (e) {
    if (e.getBoundingClientRect().right > width + 1 && !e.closest(".scroll")) wide.push(e.tagName + "#" + e.id);
  });
  var out = document.createElement("pre");
  out.id = "overflow-probe";
  out.textContent = JSON.stringify({scroll: root.scrollWidth, client: width, wide: wide.slice(0, 8)});
  document.body.appendChild(out);
})();
</script>"""


def hostile_audit() -> dict[str, Any]:
    """An audit whose findings and evidence are long URLs and keys, and a long finding list."""
    evidence = [f"GET {LONG_URL} → 200, served {LONG_TOKEN}", f"Set-Cookie: session={LONG_TOKEN}; Path=/"]
    check = {"check": "served_scripts", "status": "fail", "note": f"scanned {LONG_URL}", "evidence": evidence}
    row = {
        "title": "Secrets in served files",
        "status": "fail",
        "findings": [f"live key {LONG_TOKEN} in {LONG_URL}", "a key in a source map", f"{LONG_URL}"],
        "why": "Anyone can read a served script; a live key in it is a key for everyone.",
        "fix": f"Rotate the key and remove it from {LONG_URL}; keep keys on the server.",
        "checks": [check],
    }
    quiet = {"title": "Cookie flags", "status": "pass", "findings": [], "why": "w", "fix": "", "checks": []}
    return {"target": LONG_URL, "verdict": "fail", "rows": {"secrets": row, "cookies": quiet}}


def page_width(page: Path) -> dict[str, Any]:
    """The page rendered by headless Chromium in a 1280 px window: {scroll, client, wide}."""
    probe = page.with_name(page.stem + "-probe.html")
    probe.write_text(page.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"), encoding="utf-8")
    with tempfile.TemporaryDirectory(prefix="harness-chromium-") as profile:
        args = chromium_args(Path(profile), f"--window-size={WIDTH},900", "--dump-dom", probe.as_uri())
        done = subprocess.run(args, capture_output=True, text=True, timeout=90, stdin=subprocess.DEVNULL)
    found = re.search(r'<pre id="overflow-probe">(.*?)</pre>', done.stdout, re.S)
    assert found, f"no probe in the DOM (exit {done.returncode}): {done.stderr[-1500:]}"
    return json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))


def test_the_audit_page_wraps_its_findings_at_1280_px(tmp_path: Path) -> None:
    page = tmp_path / "audit.html"
    page.write_text(audit_page(hostile_audit()), encoding="utf-8")
    measured = page_width(page)
    assert measured["client"] == WIDTH
    assert measured["scroll"] <= WIDTH and measured["wide"] == [], measured


def test_the_run_report_with_its_audit_section_has_no_horizontal_overflow_at_1280_px(tmp_path: Path) -> None:
    run_dir = small_run(tmp_path)
    summary = build_report(run_dir).to_dict()
    summary["notes"] = [*summary["notes"], f"a note naming {LONG_URL}", f"and a token {LONG_TOKEN}"]
    summary["verdict_reasons"] = [f"threshold failed at {LONG_URL}"]
    page = run_dir / "report-hostile.html"
    page.write_text(render(summary, {}, [audit_section(hostile_audit())]), encoding="utf-8")
    measured = page_width(page)
    assert measured["client"] == WIDTH
    assert measured["scroll"] <= WIDTH and measured["wide"] == [], measured
