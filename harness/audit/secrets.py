"""Row `secrets`: keys anyone can download from the target, as a browser or a curious user would.

What is scanned (same origin only, every fetch bounded in time and size, at most MAX_FETCHES):
the `[audit] static_paths`; the scripts an HTML page loads (`<script src>`, `<link rel=modulepreload>`);
every script's source map (its `//# sourceMappingURL=`, a `SourceMap` header, else `<script>.map`),
source by source, since a map carries the original files verbatim, server-only modules included; and
the answers of the API map's GET routes (`me`, `conversations`, `health`...), as the logged-in client.

Each body goes through `harness.audit.keys.scan`: the harness's provider patterns and keyword
assignments, then detect-secrets' maintained plugins on the first MAINTAINED_CHARS of it. A live provider
key (OpenAI, Anthropic, Stripe secret or restricted, webhook secret, Supabase service role, AWS secret, a
private key, a JWT secret, and whatever detect-secrets knows: GitHub, Slack, Twilio...) fails the row; a
Stripe test key, an AWS key ID alone, a browser variable named like a key, or a high-entropy string
detect-secrets flags (minified bundles are full of hashes) is a note, at most MAX_NOTES of each kind.
Findings show each key only as its prefix and last four characters, with every place it was seen.
A scan that could not read everything it found (no answer, a body cut at MAX_BYTES, URLs past
MAX_FETCHES) finds no pass: with no key found it is untested and names what was not scanned.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections import deque
from dataclasses import dataclass, field
from urllib.parse import unquote_to_bytes, urljoin, urlsplit

import httpx

from harness.audit.context import AuditContext
from harness.audit.keys import MAINTAINED_CHARS, Hit, scan
from harness.audit.model import FAIL, PASS, UNTESTED, CheckResult

__all__ = ["run", "page_scripts", "source_map_ref", "scan_source_map"]

CHECK = "keys in pages, bundles, source maps and API answers"
MAX_FETCHES = 40
MAX_BYTES = 5 * 1024 * 1024
MAX_API_ROUTES = 6
MAX_PLACES = 3
MAX_NOTES = 3  # notes of one kind (detect-secrets' high-entropy strings can be many)

_TAG = re.compile(r"<(script|link)\b[^>]*>", re.IGNORECASE)
_ATTR = re.compile(r"""\b(src|href|rel)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))""", re.IGNORECASE)
_MAP_REF = re.compile(r"[#@]\s*sourceMappingURL=([^\s'\"*]+)")
_SCRIPT_PATH = re.compile(r"\.(?:m|c)?js$")


def page_scripts(html: str) -> list[str]:
    """The `src` of every `<script>` and the `href` of every `<link rel=modulepreload>`, as written."""
    found = []
    for tag in _TAG.finditer(html):
        attrs = {
            m.group(1).lower(): next(g for g in m.groups()[1:] if g is not None) for m in _ATTR.finditer(tag.group(0))
        }
        if tag.group(1).lower() == "script" and attrs.get("src"):
            found.append(attrs["src"])
        elif tag.group(1).lower() == "link" and "modulepreload" in attrs.get("rel", "").lower() and attrs.get("href"):
            found.append(attrs["href"])
    return found


def source_map_ref(script: str) -> str | None:
    """The last `//# sourceMappingURL=` of a script (the one that counts), if any."""
    refs = _MAP_REF.findall(script[-4096:]) or _MAP_REF.findall(script)
    return refs[-1] if refs else None


def _inline_map(ref: str) -> str | None:
    """The JSON of a `data:` source map URL, or None."""
    header, _, data = ref.partition(",")
    try:
        raw = base64.b64decode(data) if header.endswith(";base64") else unquote_to_bytes(data)
    except (binascii.Error, ValueError):
        return None
    return raw.decode("utf-8", "replace")


def scan_source_map(text: str) -> list[tuple[str, Hit]]:
    """(source name, hit) for the original sources a map carries; the raw text when it is not a map."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        data = None
    contents = data.get("sourcesContent") if isinstance(data, dict) else None
    if not isinstance(contents, list):
        return [("", hit) for hit in scan(text)]
    sources = data.get("sources") if isinstance(data.get("sources"), list) else []
    found = []
    for i, content in enumerate(contents):
        if isinstance(content, str):
            name = sources[i] if i < len(sources) and isinstance(sources[i], str) else f"source {i}"
            found += [(name, hit) for hit in scan(content)]
    return found


@dataclass(frozen=True)
class _Fetched:
    status: int
    headers: httpx.Headers
    size: int
    text: str


@dataclass
class _Key:
    hit: Hit
    places: list[str] = field(default_factory=list)


class _Scan:
    """One pass over the target: a queue of same-origin URLs, and what was found where."""

    def __init__(self, ctx: AuditContext, client: httpx.Client) -> None:
        self.ctx = ctx
        self.client = client
        origin = urlsplit(ctx.base_url)
        self.origin = (origin.scheme, origin.netloc)
        self.queue: deque[tuple[str, str]] = deque()  # (path, kind): page | script | map
        self.seen: set[str] = set()
        self.fetches = 0
        self.answered = 0
        self.keys: dict[str, _Key] = {}
        self.unscanned: list[str] = []  # what could not be scanned (whole): no answer, cut, left in the queue
        self.evidence: list[str] = []
        self.notes: list[str] = []

    def enqueue(self, url: str, kind: str, base: str = "/") -> None:
        absolute = urljoin(self.ctx.base_url.rstrip("/") + base, url)
        parts = urlsplit(absolute)
        if (parts.scheme, parts.netloc) != self.origin:
            return  # another origin's file (a CDN's): not the target's to fix, and not ours to fetch
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        if path not in self.seen:
            self.seen.add(path)
            self.queue.append((path, kind))

    def record(self, place: str, hits: list[Hit]) -> None:
        for hit in hits:
            key = self.keys.setdefault(hit.fingerprint, _Key(hit))
            if place not in key.places:
                key.places.append(place)

    def fetch(self, path: str, headers: dict[str, str] | None = None) -> _Fetched | None:
        """GET `path`, reading at most MAX_BYTES of its body; None (and a line of evidence) on no answer."""
        self.fetches += 1
        body = bytearray()
        try:
            with self.client.stream("GET", path, headers=headers) as response:
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) >= MAX_BYTES:
                        self.unscanned.append(f"{path} (only its first {MAX_BYTES // 1024 // 1024} MiB)")
                        break
        except httpx.HTTPError as exc:
            self.evidence.append(f"GET {path} -> no answer ({type(exc).__name__})")
            self.unscanned.append(f"{path} (no answer)")
            return None
        self.answered += 1
        text = bytes(body).decode(response.charset_encoding or "utf-8", "replace")
        return _Fetched(response.status_code, response.headers, len(body), text)

    def describe(self, path: str, response: _Fetched, found: int, extra: str = "") -> None:
        kind = response.headers.get("content-type", "").split(";")[0] or "no content type"
        line = f"GET {path} -> {response.status}, {response.size:,} bytes, {kind}"
        if len(response.text) > MAINTAINED_CHARS:
            extra = ", ".join(p for p in (extra, f"detect-secrets read its first {MAINTAINED_CHARS // 1024} KiB") if p)
        self.evidence.append(
            line + (f", {extra}" if extra else "") + (f": {found} key-shaped value(s)" if found else "")
        )

    def crawl(self) -> None:
        while self.queue and self.fetches < MAX_FETCHES:
            path, kind = self.queue.popleft()
            response = self.fetch(path)
            if response is None:
                continue
            text = response.text
            if kind == "map":
                mapped = scan_source_map(text)
                for source, hit in mapped:
                    self.record(f"{path} ({source} line {hit.line})" if source else f"{path} line {hit.line}", [hit])
                self.describe(path, response, len(mapped), "source map")
                continue
            hits = scan(text)
            self.record_lines(path, hits)
            self.describe(path, response, len(hits))
            if response.status >= 400:
                continue
            content_type = response.headers.get("content-type", "").lower()
            if "html" in content_type or text.lstrip()[:15].lower().startswith(("<!doctype", "<html")):
                for src in page_scripts(text):
                    self.enqueue(src, "script", path)
            elif kind == "script" or "javascript" in content_type or _SCRIPT_PATH.search(path.split("?")[0]):
                self.follow_map(path, text, response)
        if self.queue:
            self.unscanned += [f"{path} (past the {MAX_FETCHES} fetches)" for path, _ in self.queue]

    def record_lines(self, path: str, hits: list[Hit]) -> None:
        for hit in hits:
            self.record(f"{path} line {hit.line}", [hit])

    def follow_map(self, path: str, script: str, response: _Fetched) -> None:
        ref = source_map_ref(script) or response.headers.get("sourcemap") or response.headers.get("x-sourcemap")
        if ref and ref.startswith("data:"):
            inline = _inline_map(ref)
            if inline is not None:
                hits = scan_source_map(inline)
                for source, hit in hits:
                    self.record(f"{path} (inline source map: {source or 'raw'} line {hit.line})", [hit])
            return
        if ref:
            self.enqueue(ref, "map", path)
        elif _SCRIPT_PATH.search(path.split("?")[0]):
            self.enqueue(path.split("?")[0] + ".map", "map", path)  # published beside the bundle, unreferenced

    def api_answers(self) -> None:
        """The map's GET routes without placeholders, as a logged-in client (anonymous when public)."""
        account = self.ctx.account("client") or next(iter(self.ctx.credentials.accounts), None)
        token = None
        routes = [
            e
            for e in self.ctx.scenario.endpoints.values()
            if e.method == "GET" and "{" not in e.path and not e.path.startswith("/__")
        ]
        for endpoint in routes[:MAX_API_ROUTES]:
            if endpoint.auth and token is None and account is not None:
                token = self.ctx.token(account)
            headers = self.ctx.auth_headers(token) if endpoint.auth else {}
            if endpoint.path in self.seen:
                continue
            self.seen.add(endpoint.path)
            response = self.fetch(endpoint.path, headers)
            if response is None:
                continue
            hits = scan(response.text)
            self.record_lines(endpoint.path, hits)
            self.describe(endpoint.path, response, len(hits), f"route {endpoint.name}")


def run(ctx: AuditContext) -> list[CheckResult]:
    with ctx.client() as client:
        crawl = _Scan(ctx, client)
        for path in ctx.settings.static_paths:
            crawl.enqueue(path, "page")
        crawl.crawl()
        crawl.api_answers()
    if not crawl.answered:
        return [
            CheckResult(
                "secrets",
                CHECK,
                UNTESTED,
                evidence=[ctx.redact(e) for e in crawl.evidence],
                note="the target answered none of the requests for its pages and API",
            )
        ]
    findings: list[str] = []
    notes = list(crawl.notes)
    noted: dict[str, int] = {}  # kind -> notes of it
    for key in crawl.keys.values():
        places = ", ".join(key.places[:MAX_PLACES]) + (
            f" and {len(key.places) - MAX_PLACES} more" if len(key.places) > MAX_PLACES else ""
        )
        line = f"{key.hit.kind} {key.hit.shown} in {places}"
        if key.hit.severe:
            findings.append(line)
            continue
        noted[key.hit.kind] = noted.get(key.hit.kind, 0) + 1
        if noted[key.hit.kind] <= MAX_NOTES:
            notes.append(line)
    notes += [f"{n - MAX_NOTES} more {kind.split(' (')[0]}(s)" for kind, n in noted.items() if n > MAX_NOTES]
    if findings:
        notes.append("rotate every key found: a key that was ever public is compromised")
    if crawl.unscanned:  # an incomplete scan is no pass: the key may be in what was not read
        shown = ", ".join(crawl.unscanned[:5]) + (
            f" and {len(crawl.unscanned) - 5} more" if len(crawl.unscanned) > 5 else ""
        )
        notes.append(f"{len(crawl.unscanned)} URL(s) not scanned: {shown}")
    status = FAIL if findings else UNTESTED if crawl.unscanned else PASS
    return [
        CheckResult(
            "secrets",
            CHECK,
            status,
            [ctx.redact(f) for f in findings],
            [ctx.redact(e) for e in crawl.evidence],
            ctx.redact("; ".join(notes)),
            fix="make every page, script and source map answer, or list fewer in [audit] static_paths"
            if status == UNTESTED
            else "",
            gate=status == UNTESTED,
        )
    ]
