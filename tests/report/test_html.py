"""Hostile text from a run folder (a target's error text, endpoint names, run.json fields) comes out
of report.html as text a person reads, never as markup: the templates escape every value."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

from harness.report import html
from harness.report.build import build_report
from harness.samples import DEFAULTS, SCHEMA, PartWriter

T0 = 1_796_000_000.0
HOSTILE = "<script>alert(1)</script>\"'&"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;&#34;&#39;&amp;"  # as Jinja's autoescape spells it
VOID = {"meta", "img", "br", "hr", "input", "link"}


@dataclass
class Element:
    tag: str
    attrs: dict[str, str]
    text: str = ""


class _Tree(HTMLParser):
    """Every element of a page with its attributes and its whole text, entities decoded: what a
    browser shows, whatever the escaping's spelling."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[Element] = []
        self.open: list[Element] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, {k: v or "" for k, v in attrs})
        self.elements.append(element)
        if tag not in VOID:
            self.open.append(element)

    def handle_endtag(self, tag: str) -> None:
        while self.open and self.open.pop().tag != tag:
            pass

    def handle_data(self, data: str) -> None:
        for element in self.open:
            element.text += data


def elements(page: str) -> list[Element]:
    tree = _Tree()
    tree.feed(page)
    tree.close()
    return tree.elements


def find(page_elements: list[Element], tag: str, **attrs: str) -> list[Element]:
    """Elements by tag and attributes (data_fact= for data-fact=, class_= for class=)."""
    wanted = {k.rstrip("_").replace("_", "-"): v for k, v in attrs.items()}
    return [e for e in page_elements if e.tag == tag and all(e.attrs.get(k) == v for k, v in wanted.items())]


def hostile_run(tmp_path: Path) -> Path:
    """A run whose target answers with hostile error text on a hostile route name, an admin probe
    whose technique is hostile, and a run.json with hostile scenario, host, notes and task error."""
    run_dir = tmp_path / "20261130-190000-hostile"
    legit = [
        {
            "start_s": T0 + i * 0.1,
            "endpoint": HOSTILE,
            "method": "POST",
            "role": "legit",
            "status": 500 if i % 10 == 0 else 200,
            "latency_ms": 40.0 + i,
            "error": f"HTTPStatusError: {HOSTILE}" if i % 10 == 0 else "",
        }
        for i in range(100)
    ]
    probe = [
        {
            "start_s": T0 + 2 + i,
            "endpoint": "admin_users",
            "method": "GET",
            "status": 200,
            "latency_ms": 5.0,
            "role": "admin_probe",
            "technique": HOSTILE,
        }
        for i in range(2)
    ]
    records = legit + probe
    PartWriter(run_dir / "samples").write(
        {name: [r.get(name, DEFAULTS[name]) for r in records] for name in SCHEMA.names}
    )
    run = {
        "id": run_dir.name,
        "scenario": f"smoke {HOSTILE}",
        "host": f"http://127.0.0.1:8123/?q={HOSTILE}",
        "started_at": T0,
        "ended_at": T0 + 10.5,
        "workers": 1,
        "aborted": False,
        "locust_version": "2.47.0",
        "harness_version": "0.1.0",
        "targets": {HOSTILE: 500},
        "lost_workers": [HOSTILE],
        "task_errors": [
            {
                "count": 2,
                "exception": "ValueError",
                "message": HOSTILE,
                "in": "Client.chat",
                "last_line": f"raise ValueError({HOSTILE})",
                "nodes": ["worker-1"],
            }
        ],
    }
    (run_dir / "run.json").write_text(json.dumps(run))
    return run_dir


def test_hostile_text_in_a_run_comes_out_escaped_in_report_html(tmp_path):
    run_dir = hostile_run(tmp_path)
    summary = build_report(run_dir).to_dict()
    page = (run_dir / "report.html").read_text()
    tree = elements(page)

    # no markup from the data anywhere: the page has no script of its own, so any would be injected
    assert "<script" not in page.lower() and not find(tree, "script")
    assert ESCAPED in page
    # each hostile value is shown as the exact text it was, where it belongs
    assert find(tree, "title")[0].text == f"FAIL · smoke {HOSTILE} · launch-harness"
    assert find(tree, "dd", data_fact="scenario")[0].text == f"smoke {HOSTILE}"
    assert find(tree, "dd", data_fact="host")[0].text == f"http://127.0.0.1:8123/?q={HOSTILE}"
    assert f'<dd data-fact="scenario">smoke {ESCAPED}</dd>' in page
    # the endpoint name, in its row, in attributes and in text
    assert find(tree, "td", class_="endpoint", data_endpoint=HOSTILE)[0].text == HOSTILE
    assert f'<tr data-endpoint="{ESCAPED}"><td class="endpoint" data-endpoint="{ESCAPED}">{ESCAPED}</td>' in page
    p95 = summary["endpoints"][HOSTILE]["p95_ms"]
    assert find(tree, "td", class_="p95 few", data_endpoint=HOSTILE)[0].attrs["data-value"] == str(p95)
    # the target's error text
    errors = find(tree, "td", class_="text error-reasons")[0].text
    assert errors == f"HTTPStatusError: {HOSTILE} × 10"
    # the threshold expression made from the route name
    exprs = [e.text for e in find(tree, "td", class_="expr")]
    assert f"p95({HOSTILE}) < 500ms" in exprs and f"<code>p95({ESCAPED}) &lt; 500ms</code>" in page
    # the abuse finding naming the technique
    finding = find(tree, "td", class_="text abuse-findings rl-finding", data_attack="admin_probe")[0].text
    assert finding == f"admin route answered 2xx to {HOSTILE} (2 of 2)"
    # a note (a lost worker's name) and the task exception
    notes = [e.text for e in find(tree, "li") if e.text.startswith("worker ")]
    assert notes and notes[0].startswith(f"worker {HOSTILE} lost during the run")
    assert find(tree, "td", class_="text message")[0].text == HOSTILE
    assert find(tree, "td", class_="text last-line")[0].text == f"raise ValueError({HOSTILE})"
    assert any(HOSTILE in e.text for e in find(tree, "ul", class_="reasons"))


def test_a_section_from_a_template_escapes_its_context(tmp_path):
    """A later analysis adds a section as a template and plain values: it cannot pass markup in."""
    summary = build_report(hostile_run(tmp_path)).to_dict()
    row = {"name": HOSTILE, "cells": [HOSTILE, "1", "1", "0", "0", "–", "0.5"], "class": HOSTILE, "findings": HOSTILE}
    section = html.Section(id="extra", title=f"Extra {HOSTILE}", template="abuse.html.j2", context={"rows": [row]})
    page = html.render(summary, {}, [section])
    tree = elements(page)
    assert not find(tree, "script")
    assert [e.text for e in find(tree, "h2") if e.text.startswith("Extra")] == [f"Extra {HOSTILE}"]
    cell = find(tree, "td", data_attack=HOSTILE)[0]
    assert cell.text == HOSTILE and cell.attrs["class"] == f"text abuse-findings rl-{HOSTILE}"


def test_every_template_escapes_and_none_opts_out():
    """Autoescape on for every template; no `safe` filter and no Markup anywhere (the CSS is
    template text, the images' data URIs need no exemption)."""
    root = Path(html.__file__).parent.parent
    templates = [*root.glob("report/templates/*"), *root.glob("audit/templates/*")]
    assert len(templates) >= 8
    for path in templates:
        assert not re.search(r"[{][{%][^}]*[|]\s*safe", path.read_text()), path
    for module in (root / "report" / "html.py", root / "audit" / "html.py"):
        assert "markupsafe" not in module.read_text() and "Markup(" not in module.read_text()
    env = html._environment(("harness.audit",))
    assert env.autoescape is True
    assert env.from_string("{{ x }}").render(x=HOSTILE) == ESCAPED
