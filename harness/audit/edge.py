"""Edge checks (row `cache_cdn_ssl`): is a CDN or WAF in front, are text answers compressed, can static
assets be cached, and are authenticated API answers kept out of shared caches.

What is sent, all bounded in time and count:

- a GET of each `[audit] static_paths` (at most five), with `Accept-Encoding: gzip, br`;
- a GET of each GET route of the API map that takes no path parameter (at most four), as the most
  privileged role the matrix allows, so the answers are real, sizeable JSON;
- for a static asset with an ETag, one GET with `If-None-Match` (a 304 shows revalidation works);
- the HTTPS URL (`[audit] https_url`), when given, is read once too: a CDN is usually only there.

A target that stops answering (refused, timed out) is asked nothing more.

How it decides:

- CDN/WAF: the response headers name one (`cf-ray`, `server: cloudflare`, `x-amz-cf-id`, Fastly's
  `x-served-by: cache-…`, `x-vercel-id`, Akamai's, `x-sucuri-id`, …). None on a public target is a
  finding; on loopback there can be none, so it is untested there.
- Compression: a text answer (HTML, JS, CSS, JSON, SVG, XML) of 1 KiB or more sent without a
  Content-Encoding is a finding. Smaller answers are not judged (compressing them gains nothing).
- Static caching: each static asset (JS, CSS, images: HTML pages are not judged, they are often kept
  fresh on purpose) needs Cache-Control max-age/immutable, or an ETag/Last-Modified validator;
  `no-store` on an asset is a finding.
- Authenticated API answers: `public` or a shared-cache lifetime (s-maxage, or max-age without
  `private`) is a finding; `no-store` is what is wanted (its absence is a note).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import httpx

from harness.audit.context import AuditContext
from harness.audit.model import FAIL, PASS, UNTESTED, CheckResult
from harness.audit.transport import is_loopback

__all__ = ["run", "detect_cdn", "cache_directives", "CDN_SIGNATURES"]

ROW = "cache_cdn_ssl"
MAX_STATIC = 5
MAX_ROUTES = 4
MAX_BODY_BYTES = 2 * 1024 * 1024
COMPRESS_MIN_BYTES = 1024
ACCEPT_ENCODING = "gzip, br"
ENCODINGS = {"gzip", "x-gzip", "br", "deflate", "zstd", "compress"}
ROLE_ORDER = ("admin", "coach", "client")

# (CDN or WAF, header, a regex its value must match, or "" for any value)
CDN_SIGNATURES: tuple[tuple[str, str, str], ...] = (
    ("Cloudflare", "cf-ray", ""),
    ("Cloudflare", "cf-cache-status", ""),
    ("Cloudflare", "server", r"cloudflare"),
    ("Amazon CloudFront", "x-amz-cf-id", ""),
    ("Amazon CloudFront", "x-amz-cf-pop", ""),
    ("Amazon CloudFront", "via", r"cloudfront"),
    ("Fastly", "x-served-by", r"cache-"),
    ("Fastly", "x-fastly-request-id", ""),
    ("Fastly", "fastly-debug-digest", ""),
    ("Vercel", "x-vercel-id", ""),
    ("Vercel", "server", r"^vercel"),
    ("Netlify", "x-nf-request-id", ""),
    ("Akamai", "x-akamai-transformed", ""),
    ("Akamai", "akamai-grn", ""),
    ("Akamai", "x-akamai-request-id", ""),
    ("Akamai", "server", r"akamai"),
    ("Sucuri", "x-sucuri-id", ""),
    ("Sucuri", "server", r"sucuri"),
    ("Imperva", "x-iinfo", ""),
    ("Imperva", "x-cdn", r"incapsula|imperva"),
    ("Azure Front Door", "x-azure-ref", ""),
    ("Google Cloud CDN", "via", r"\bgoogle\b"),
    ("Bunny CDN", "server", r"bunnycdn"),
    ("KeyCDN", "server", r"keycdn"),
)
TEXT_TYPES = re.compile(r"^(text/|application/(json|javascript|ecmascript|xml|[\w.+-]*\+(json|xml))|image/svg\+xml)")


@dataclass
class Answer:
    label: str  # e.g. "GET /static/app.js"
    status: int
    headers: httpx.Headers
    size: int  # bytes received, as sent (compressed when encoded)
    cut: bool  # more than MAX_BODY_BYTES: only that much was read
    authenticated: bool = False


def run(ctx: AuditContext) -> list[CheckResult]:
    static, api, errors = _fetch(ctx)
    extra = _https_front(ctx)
    return [
        _cdn(ctx, static + api + extra, errors),
        _compression(ctx, static + api, errors),
        _static_caching(ctx, static, errors),
        _api_caching(ctx, api),
    ]


# --- fetching -------------------------------------------------------------------------------------
def _read(
    client: httpx.Client, method: str, url: str, label: str, headers: Mapping[str, str], authenticated: bool = False
) -> Answer:
    """One request, its body read raw (not decoded) up to MAX_BODY_BYTES."""
    with client.stream(method, url, headers={"Accept-Encoding": ACCEPT_ENCODING, **headers}) as response:
        size, cut = 0, False
        for chunk in response.iter_raw():
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                cut = True
                break
        return Answer(label, response.status_code, response.headers, size, cut, authenticated)


def _json_routes(ctx: AuditContext) -> list[tuple[str, str | None]]:
    """(route, role to call it as; None: anonymously) for the map's GET routes without path parameters."""
    chosen: list[tuple[str, str | None]] = []
    for name, ep in ctx.scenario.endpoints.items():
        if ep.method.upper() != "GET" or "{" in ep.path or ep.stream not in ("none", "json"):
            continue
        if ep.auth:
            role = next((r for r in ROLE_ORDER if ctx.expected(name, r) == "allow" and ctx.account(r)), None)
            if role is None:
                continue
            chosen.append((name, role))
        else:
            chosen.append((name, None))
        if len(chosen) >= MAX_ROUTES:
            break
    return chosen


def _fetch(ctx: AuditContext) -> tuple[list[Answer], list[Answer], list[str]]:
    """The static paths' answers, the JSON routes' answers, and what failed. A target that cannot be
    reached (refused, timed out) is asked nothing more: each further request would only wait as long."""
    static: list[Answer] = []
    api: list[Answer] = []
    errors: list[str] = []
    with ctx.client() as client:
        try:
            for path in ctx.settings.static_paths[:MAX_STATIC]:
                static.append(_read(client, "GET", path, f"GET {path}", {}))
            for route, role in _json_routes(ctx):
                ep = ctx.scenario.endpoints[route]
                account = ctx.account(role) if role else None
                token = ctx.token(account) if account else None
                if role and not token:
                    errors.append(f"{route}: could not log in as {role}")
                    continue
                api.append(
                    _read(
                        client,
                        "GET",
                        ep.path,
                        f"GET {ep.path}" + (f" as {role}" if token else ""),
                        ctx.auth_headers(token),
                        authenticated=bool(token),
                    )
                )
        except httpx.HTTPError as exc:
            errors.append(f"the target stopped answering: {type(exc).__name__}: {str(exc)[:120]}")
    return static, api, errors


def _https_front(ctx: AuditContext) -> list[Answer]:
    url = ctx.settings.https_url
    if not url or url.rstrip("/") == ctx.base_url.rstrip("/"):
        return []
    try:  # the certificate is the TLS check's business; here only the headers matter
        with httpx.Client(timeout=ctx.timeout_s, follow_redirects=False, verify=False) as client:
            return [_read(client, "GET", url, f"GET {url}", {})]
    except httpx.HTTPError:
        return []


# --- CDN / WAF ------------------------------------------------------------------------------------
def detect_cdn(headers: httpx.Headers) -> list[str]:
    """'Name (header: value)' for every CDN or WAF signature in `headers`."""
    found = []
    for name, header, pattern in CDN_SIGNATURES:
        value = headers.get(header)
        if value is not None and (not pattern or re.search(pattern, value, re.IGNORECASE)):
            found.append(f"{name} ({header}: {value[:40]})")
    return found


def _cdn(ctx: AuditContext, answers: list[Answer], errors: list[str]) -> CheckResult:
    host = httpx.URL(ctx.settings.https_url or ctx.base_url).host
    if not answers:
        return CheckResult(ROW, "CDN/WAF in front", UNTESTED, evidence=errors, note="the target answered no request")
    seen: dict[str, None] = {}
    for answer in answers:
        for hit in detect_cdn(answer.headers):
            seen.setdefault(f"{answer.label}: {hit}", None)
    if seen:
        return CheckResult(ROW, "CDN/WAF in front", PASS, evidence=list(seen)[:6])
    servers = sorted({a.headers.get("server", "") for a in answers} - {""})
    evidence = [
        f"no CDN or WAF header on {len(answers)} answers" + (f"; server: {', '.join(servers)}" if servers else "")
    ]
    if is_loopback(host):
        return CheckResult(
            ROW,
            "CDN/WAF in front",
            UNTESTED,
            evidence=evidence,
            note="no CDN/WAF detected: the target is on loopback, where none would be; audit the public address",
        )
    return CheckResult(
        ROW,
        "CDN/WAF in front",
        FAIL,
        [f"no CDN/WAF detected in front of {host}: no edge caching, DDoS or bot protection"],
        evidence,
    )


# --- compression ----------------------------------------------------------------------------------
def _compression(ctx: AuditContext, answers: Iterable[Answer], errors: list[str]) -> CheckResult:
    findings, evidence = [], []
    judged = 0
    for a in answers:
        kind = _kind(a)
        encoding = a.headers.get("content-encoding", "").strip().lower()
        if not (200 <= a.status < 300) or not TEXT_TYPES.match(kind):
            continue
        if encoding in ENCODINGS:
            judged += 1
            evidence.append(f"{a.label} -> {a.status} {kind}, Content-Encoding: {encoding}, {a.size} bytes sent")
        elif a.size >= COMPRESS_MIN_BYTES:
            judged += 1
            size = f"{a.size}+" if a.cut else str(a.size)
            evidence.append(f"{a.label} -> {a.status} {kind}, not compressed, {size} bytes")
            findings.append(
                f"{a.label} ({kind}, {size} bytes) is sent uncompressed although the client accepts {ACCEPT_ENCODING}"
            )
        else:
            evidence.append(f"{a.label} -> {a.status} {kind}, {a.size} bytes (too small to judge)")
    if not judged:
        return CheckResult(
            ROW,
            "compression",
            UNTESTED,
            evidence=evidence + errors,
            note=f"no text answer of {COMPRESS_MIN_BYTES} bytes or more to judge",
        )
    return CheckResult(ROW, "compression", FAIL if findings else PASS, findings, evidence)


# --- caching --------------------------------------------------------------------------------------
def cache_directives(value: str) -> dict[str, str]:
    """Cache-Control directives, lowercased name -> argument ("" when none)."""
    out = {}
    for part in value.split(","):
        name, _, arg = part.strip().partition("=")
        if name:
            out[name.strip().lower()] = arg.strip().strip('"')
    return out


def _seconds(value: str | None) -> int:
    try:
        return int(value or 0)
    except ValueError:
        return 0


def _static_caching(ctx: AuditContext, static: list[Answer], errors: list[str]) -> CheckResult:
    ok = [a for a in static if 200 <= a.status < 300]
    assets = [a for a in ok if not _kind(a).startswith("text/html")]
    pages = [f"{a.label} -> {a.status} text/html: {_validators(a)}" for a in ok if a not in assets]
    if not assets:
        seen = [f"{a.label} -> {a.status}" for a in static if a not in ok] + pages + errors
        return CheckResult(
            ROW,
            "static asset caching",
            UNTESTED,
            evidence=seen,
            note="no static asset (JS, CSS, image) answered 2xx; add the site's bundles to "
            "[audit] static_paths (HTML pages are not judged: they are often kept fresh on purpose)",
        )
    findings, evidence = [], list(pages)
    for a in assets:
        directives = cache_directives(a.headers.get("cache-control", ""))
        etag = a.headers.get("etag")
        lifetime = _seconds(directives.get("max-age")) > 0 or _seconds(directives.get("s-maxage")) > 0
        cacheable = lifetime or "immutable" in directives or bool(etag or a.headers.get("last-modified"))
        evidence.append(f"{a.label} -> {a.status} {_kind(a)}: {_validators(a)}")
        if "no-store" in directives:
            findings.append(
                f"{a.label}: Cache-Control no-store on a static asset: browsers and CDNs download it every time"
            )
        elif not cacheable:
            findings.append(
                f"{a.label}: no Cache-Control max-age/immutable and no ETag or Last-Modified: "
                "it cannot be cached or revalidated"
            )
        if etag and "no-store" not in directives:
            evidence.append(_revalidate(ctx, a, etag))
    return CheckResult(ROW, "static asset caching", FAIL if findings else PASS, findings, evidence)


def _kind(answer: Answer) -> str:
    return answer.headers.get("content-type", "").split(";")[0].strip().lower()


def _validators(answer: Answer) -> str:
    control, etag, modified = (answer.headers.get(h) for h in ("cache-control", "etag", "last-modified"))
    parts = [f"Cache-Control: {control}" if control else "no Cache-Control"]
    parts += [f"ETag: {etag[:24]}"] if etag else []
    parts += [f"Last-Modified: {modified}"] if modified else []
    return ", ".join(parts)


def _revalidate(ctx: AuditContext, answer: Answer, etag: str) -> str:
    path = answer.label.split(" ", 1)[1]
    try:
        with ctx.client() as client:
            again = _read(client, "GET", path, answer.label, {"If-None-Match": etag})
    except httpx.HTTPError as exc:
        return f"{answer.label} with If-None-Match: {type(exc).__name__}"
    verdict = "revalidated" if again.status == 304 else "ETag not honoured (a full answer again)"
    return f"{answer.label} with If-None-Match -> {again.status} ({verdict})"


def _api_caching(ctx: AuditContext, api: list[Answer]) -> CheckResult:
    judged = [a for a in api if a.authenticated and 200 <= a.status < 300]
    if not judged:
        return CheckResult(
            ROW,
            "authenticated API caching",
            UNTESTED,
            evidence=[f"{a.label} -> {a.status}" for a in api],
            note="no authenticated GET route answered 2xx",
        )
    findings, evidence, notes = [], [], []
    for a in judged:
        control = a.headers.get("cache-control", "")
        d = cache_directives(control)
        evidence.append(f"{a.label} -> {a.status} Cache-Control: {control or '(none)'}")
        shared = (
            "public" in d
            or _seconds(d.get("s-maxage")) > 0
            or (_seconds(d.get("max-age")) > 0 and "private" not in d and "no-store" not in d)
        )
        if shared:
            findings.append(
                f"{a.label}: Cache-Control {control!r} lets a shared cache (CDN, proxy) keep one "
                "user's answer and serve it to others: send no-store"
            )
        elif "no-store" not in d:
            notes.append(f"{a.label}: no 'Cache-Control: no-store' on an authenticated answer")
    return CheckResult(
        ROW, "authenticated API caching", FAIL if findings else PASS, findings, evidence, "; ".join(notes)
    )
