"""Row `cors`: which browser origins the API lets read its answers.

A browser lets a page on origin O read a cross-origin answer only when the answer says
`Access-Control-Allow-Origin: O` (or `*`), and with the user's cookies only when it also says
`Access-Control-Allow-Credentials: true`. So the check plays the browser: it sends preflights
(OPTIONS with `Access-Control-Request-Method`/`-Headers`) and plain requests, with and without
credentials, to a public and an authenticated route, from origins that must not be allowed:

- a foreign site (`https://evil.example`) and `null` (sandboxed iframes, `file:` pages, redirects);
- look-alikes of the target's own origin and of every `[audit] origins` entry: a suffix
  (`https://app.example.evil.example`), a prefix (`https://evilapp.example`), the other scheme and
  another port, which catch allow-lists matched with `startswith`, `endswith`, `in` or a loose regex.

An answer that allows one of them fails the row (worst with credentials); `*` with credentials fails
too. `*` alone is a note: without credentials no user's data can be read. Allowed methods or headers
wider than the API map uses are a note. The row passes when no such origin gets an allow header.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx

from harness.audit.context import AuditContext
from harness.audit.model import FAIL, PASS, UNTESTED, CheckResult

__all__ = ["run", "probe_origins", "Origin"]

CHECK = "cross-origin requests"
FOREIGN = "https://evil.example"
MAX_ORIGINS = 16
MAX_EVIDENCE = 24
SESSION_COOKIE = "session=audit-probe"  # a cookie the target never set: "with credentials", as a browser sends


@dataclass(frozen=True)
class Origin:
    value: str
    why: str  # "a foreign site", "a look-alike of https://app.example (suffix)"


@dataclass(frozen=True)
class Target:
    route: str
    method: str
    path: str
    authed: bool


@dataclass
class _Allowed:
    """What one untrusted origin was allowed, over every request that sent it."""

    origin: Origin
    paths: list[str] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    credentials: bool = False


def _origin_of(url: str) -> tuple[str, str, int | None] | None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return parts.scheme, parts.hostname, parts.port


def _format(scheme: str, host: str, port: int | None) -> str:
    default = {"http": 80, "https": 443}[scheme]
    return f"{scheme}://{host}" + (f":{port}" if port and port != default else "")


def probe_origins(own: str, allowed: Iterable[str]) -> list[Origin]:
    """The origins to try: a foreign one, `null`, and look-alikes of `own` and of every allowed one."""
    allowed = [a.rstrip("/") for a in allowed]
    origins = [Origin(FOREIGN, "a foreign site"), Origin("null", "the origin of sandboxed iframes and file: pages")]
    for base in [own.rstrip("/"), *allowed]:
        parsed = _origin_of(base)
        if parsed is None:
            continue
        scheme, host, port = parsed
        other = "http" if scheme == "https" else "https"
        like = f"a look-alike of {_format(scheme, host, port)}"
        origins += [
            Origin(_format(scheme, f"{host}.evil.example", None), f"{like} with a suffix"),
            Origin(_format(scheme, f"evil{host}", None), f"{like} with a prefix"),
            Origin(_format(other, host, port if port else None), f"{like} on the other scheme"),
            Origin(_format(scheme, host, (port or {"http": 80, "https": 443}[scheme]) + 1), f"{like} on another port"),
        ]
    trusted = {a.lower() for a in allowed} | {own.rstrip("/").lower()}
    unique: dict[str, Origin] = {}
    for origin in origins:
        if origin.value.lower() not in trusted and origin.value.lower() not in unique:
            unique[origin.value.lower()] = origin
    return list(unique.values())[:MAX_ORIGINS]


def _targets(ctx: AuditContext) -> list[Target]:
    """A public route and an authenticated one of the map, not admin-only (GET without placeholders
    preferred, a read route first)."""
    endpoints = [e for e in ctx.scenario.endpoints.values() if "{" not in e.path and not e.path.startswith("/__")]

    def pick(authed: bool) -> Target | None:
        candidates = [e for e in endpoints if e.auth == authed and not ctx.admin_only(e.name)]
        candidates.sort(key=lambda e: (e.method != "GET", e.kind != "read"))
        if not candidates:
            return None
        e = candidates[0]
        return Target(e.name, e.method, e.path, authed)

    found = [t for t in (pick(False), pick(True)) if t is not None]
    return found or [Target("/", "GET", "/", False)]


def _grants(response: httpx.Response, origin: str) -> tuple[str, bool]:
    """(the Access-Control-Allow-Origin value, whether credentials are allowed)."""
    acao = response.headers.get("access-control-allow-origin", "").strip()
    acac = response.headers.get("access-control-allow-credentials", "").strip().lower() == "true"
    return acao, acac


def run(ctx: AuditContext) -> list[CheckResult]:
    own = ctx.base_url
    origins = probe_origins(own, ctx.settings.origins)
    targets = _targets(ctx)
    account = ctx.account("client") or next(iter(ctx.credentials.accounts), None)
    token = ctx.token(account) if account is not None and any(t.authed for t in targets) else None
    map_methods = {e.method for e in ctx.scenario.endpoints.values()} | {"OPTIONS", "HEAD"}

    allowed: dict[str, _Allowed] = {}
    findings: list[str] = []
    notes: list[str] = []
    evidence: list[str] = []
    answered = failed = blocked = 0

    def note(text: str) -> None:
        if text not in notes:
            notes.append(text)

    with ctx.client() as client:
        for target in targets:
            for origin in origins:
                requests = [
                    (
                        "preflight",
                        "OPTIONS",
                        {
                            "Access-Control-Request-Method": target.method,
                            "Access-Control-Request-Headers": "authorization, content-type"
                            if target.authed
                            else "content-type",
                        },
                    )
                ]
                if target.method in ("GET", "HEAD"):  # plain requests only where they change nothing
                    requests.append(("plain", target.method, {}))
                    credentials = {"Cookie": SESSION_COOKIE, **ctx.auth_headers(token if target.authed else None)}
                    requests.append(("with credentials", target.method, credentials))
                for kind, method, headers in requests:
                    label = f"{method} {target.path}" + (" with credentials" if kind == "with credentials" else "")
                    try:
                        response = client.request(method, target.path, headers={"Origin": origin.value, **headers})
                    except httpx.HTTPError as exc:
                        failed += 1
                        evidence.append(f"{label} Origin: {origin.value} -> no answer ({type(exc).__name__})")
                        continue
                    answered += 1
                    blocked += ctx.scenario.block.matches(response.status_code, response.headers, None)
                    acao, acac = _grants(response, origin.value)
                    seen = f"ACAO: {acao or '(none)'}" + (", ACAC: true" if acac else "")
                    evidence.append(f"{label} Origin: {origin.value} -> {response.status_code}, {seen}")
                    if acao == "*":
                        if acac:
                            findings.append(
                                f"{label}: Access-Control-Allow-Origin: * together with "
                                "Access-Control-Allow-Credentials: true (a wildcard policy on credentialed requests)"
                            )
                        else:
                            note(
                                f"{target.path} allows every origin (Access-Control-Allow-Origin: *): fine for public "
                                "data only, since browsers then send no cookies"
                            )
                    elif acao and acao.lower() == origin.value.lower():
                        entry = allowed.setdefault(origin.value, _Allowed(origin))
                        entry.paths.append(target.path)
                        entry.kinds.append(kind)
                        entry.credentials |= acac
                    if kind == "preflight" and acao and (acao == "*" or acao.lower() == origin.value.lower()):
                        methods = {
                            m.strip().upper()
                            for m in response.headers.get("access-control-allow-methods", "").split(",")
                            if m.strip()
                        }
                        extra = sorted(methods - map_methods)
                        if "*" in methods or extra:
                            note(f"preflights allow methods the API map never uses: {', '.join(extra) or '*'}")
                        if response.headers.get("access-control-allow-headers", "").strip() == "*":
                            note("preflights allow every request header (Access-Control-Allow-Headers: *)")

        for trusted in ctx.settings.origins[:3]:  # a control: the allowed origins should be allowed
            target = targets[-1]
            try:
                response = client.request(
                    "OPTIONS", target.path, headers={"Origin": trusted, "Access-Control-Request-Method": target.method}
                )
            except httpx.HTTPError:
                continue
            acao, acac = _grants(response, trusted)
            evidence.insert(
                0,
                f"OPTIONS {target.path} Origin: {trusted} (allowed) -> {response.status_code}, "
                f"ACAO: {acao or '(none)'}" + (", ACAC: true" if acac else ""),
            )
            if not acao:
                note(f"{trusted}, an [audit] origin, is not allowed either: is the list right?")

    for entry in allowed.values():
        where = f"{', '.join(dict.fromkeys(entry.paths))} ({', '.join(dict.fromkeys(entry.kinds))})"
        if entry.credentials:
            findings.append(
                f"Origin {entry.origin.value} ({entry.origin.why}) is allowed WITH credentials "
                f"(Access-Control-Allow-Origin echoes it, Access-Control-Allow-Credentials: true) on "
                f"{where}: any page there can read a logged-in user's answers"
            )
        else:
            findings.append(
                f"Origin {entry.origin.value} ({entry.origin.why}) is allowed "
                f"(Access-Control-Allow-Origin echoes it) on {where}"
            )
    findings = list(dict.fromkeys(findings))
    if len(evidence) > MAX_EVIDENCE:
        evidence = evidence[:MAX_EVIDENCE] + [f"... and {len(evidence) - MAX_EVIDENCE} more requests like these"]
    evidence = [ctx.redact(line) for line in evidence]
    if not answered:
        return [
            CheckResult(
                "cors",
                CHECK,
                UNTESTED,
                evidence=evidence,
                note=f"the target answered none of {failed} cross-origin requests",
            )
        ]
    if failed:
        note(f"{failed} of {answered + failed} requests got no answer")
    if blocked:
        note(f"{blocked} answers were rate limited: a limiter that answers before the CORS layer can hide its policy")
    tried = ", ".join(o.value for o in origins)
    summary = f"tried {len(origins)} untrusted origins on {', '.join(t.path for t in targets)}: {tried}"
    return [CheckResult("cors", CHECK, FAIL if findings else PASS, findings, [summary, *evidence], "; ".join(notes))]
