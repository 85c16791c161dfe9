"""Transport checks (row `cache_cdn_ssl`): HTTPS only, a modern TLS, HSTS, the browser security headers
and the flags of the cookies the site sets.

What is sent, all bounded in time:

- HTTPS redirect: two GETs on plain HTTP (the target's own `http://` URL, else `http://HOST/`), `/` and a
  probe path with a query. Each must answer 301 or 308 to `https://` on the same host, path and query.
- TLS: five handshakes with `[audit] https_url` (or the target, when it is `https://`): one as a modern
  client would (the version and cipher negotiated, and whether the certificate is trusted), then TLS 1.3,
  1.2, 1.1 and 1.0 each alone. Accepting 1.0 or 1.1 is a finding; offering 1.3 is recorded. When this
  machine's OpenSSL cannot offer an old version at all, that version is "not checked" (a note), never a
  pass. A private CA (staging) is trusted through `SSL_CERT_FILE`, as OpenSSL and httpx read it.
- HSTS: one GET of the HTTPS URL: `Strict-Transport-Security` with max-age of at least 180 days.
- Security headers and cookies: a GET of each `[audit] static_paths` and one login with a real account
  on each login route of the map, on the HTTPS URL if there is one, else on the target. Every 2xx answer
  must say `X-Content-Type-Options: nosniff`; HTML pages also need a Content-Security-Policy, framing
  forbidden (`X-Frame-Options` or CSP `frame-ancestors`) and a Referrer-Policy. Every `Set-Cookie` must
  be Secure, HttpOnly and carry an explicit SameSite. Cookie values are never recorded.

A target on loopback over plain HTTP has no TLS to judge: HTTPS is untested there, unless
`[audit] https_url` points at the TLS front. Anywhere else, plain HTTP that does not redirect to HTTPS
is a finding. The HTTPS origin a redirect names is only checked (handshakes, GETs, the login) when it is
loopback or in `[guardrails] allowed_hosts`, like the target; otherwise HTTPS is untested.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
import time
import warnings
from collections.abc import Iterable
from dataclasses import dataclass

import httpx

from harness.audit.context import AuditContext
from harness.audit.model import FAIL, PASS, UNTESTED, CheckResult
from harness.audit.values import account_values, unfilled, unfilled_note
from harness.scenario.guardrails import abuse_refusal

__all__ = ["run", "is_loopback", "parse_hsts", "parse_cookie", "HSTS_MIN_AGE_S"]

ROW = "cache_cdn_ssl"
HSTS_MIN_AGE_S = 15_552_000  # 180 days
CERT_WARN_DAYS = 14
HANDSHAKE_TIMEOUT_S = 5.0
MAX_PAGES = 5
REDIRECT_STATUSES = (301, 308)
PROBE_PATH = "/launch-audit/redirect-probe?check=1"
LOOPBACK_NOTE = "the target is plain HTTP on loopback; give [audit] https_url to check TLS"
OFF_LIMITS_NOTE = (
    "plain HTTP redirects to {origin}, which is neither loopback nor in [guardrails] allowed_hosts: "
    "nothing was sent there (list its host in allowed_hosts if you own it)"
)
VERSIONS = (
    ("TLSv1.3", ssl.TLSVersion.TLSv1_3),
    ("TLSv1.2", ssl.TLSVersion.TLSv1_2),
    ("TLSv1.1", ssl.TLSVersion.TLSv1_1),
    ("TLSv1.0", ssl.TLSVersion.TLSv1),
)
OLD_VERSIONS = ("TLSv1.1", "TLSv1.0")
CANNOT_OFFER = {"NO_PROTOCOLS_AVAILABLE", "NO_CIPHERS_AVAILABLE"}  # raised before anything is sent


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and `localhost` names (never resolved: no DNS traffic)."""
    host = host.strip("[]").lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def run(ctx: AuditContext) -> list[CheckResult]:
    base = httpx.URL(ctx.base_url)
    https_url = ctx.settings.https_url or (ctx.base_url if base.scheme == "https" else "")
    results: list[CheckResult] = []
    verify: ssl.SSLContext = _trusting_context()
    if not https_url and is_loopback(base.host):
        results.append(CheckResult(ROW, "HTTPS", UNTESTED, note=LOOPBACK_NOTE))
    else:
        # the target's own plain URL when it has one, else the HTTPS host's port 80
        plain = ctx.base_url if base.scheme == "http" else f"http://{_netloc(httpx.URL(https_url).host)}/"
        redirect, redirected_to = _redirect(ctx, plain)
        results.append(redirect)
        off_limits = not https_url and redirected_to and abuse_refusal(ctx.scenario, redirected_to, audit=True)
        https_url = https_url or ("" if off_limits else redirected_to)
        if off_limits:  # the audit's requests (a login with a real account among them) stay where they may go
            results.append(CheckResult(ROW, "HTTPS", UNTESTED, note=OFF_LIMITS_NOTE.format(origin=redirected_to)))
        elif not https_url:
            results.append(
                CheckResult(
                    ROW,
                    "HTTPS",
                    FAIL,
                    [
                        f"no HTTPS: {base.host} is served over plain HTTP only (give [audit] https_url if TLS is elsewhere)"
                    ],
                )
            )
        else:
            tls, trusted = _tls(ctx, https_url)
            results.append(tls)
            if trusted is None:  # no handshake at all: nothing more to ask over HTTPS
                results.append(CheckResult(ROW, "HSTS", UNTESTED, note=f"{https_url} did not complete a handshake"))
                https_url = ""
            else:
                if not trusted:  # already a finding; read the headers all the same
                    verify = _unverified_context()
                results.append(_hsts(ctx, https_url, verify))
    site = https_url or ctx.base_url
    results.extend(_headers_and_cookies(ctx, site, verify, https=site.startswith("https:")))
    return results


# --- the redirect ---------------------------------------------------------------------------------
def _netloc(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _redirect(ctx: AuditContext, plain: str) -> tuple[CheckResult, str]:
    """Whether plain HTTP redirects to HTTPS on the same host and path; and the HTTPS origin it names."""
    findings, evidence = [], []
    origin = ""
    plain_url = httpx.URL(plain)
    with httpx.Client(timeout=_timeout(ctx), follow_redirects=False, verify=False) as client:
        for path in ("/", PROBE_PATH):
            url = plain_url.join(path)
            try:
                response = _headers_of(client, url)
            except httpx.HTTPError as exc:
                findings.append(
                    f"plain {url} does not answer ({_error(exc)}): visitors who type the address "
                    "get an error instead of a redirect to HTTPS"
                )
                break
            location = response.headers.get("location", "")
            evidence.append(f"GET {url} -> {response.status_code}" + (f" Location: {location}" if location else ""))
            target = plain_url.join(location) if location else None
            if target is None or target.scheme != "https":
                findings.append(f"plain {url} answers {response.status_code} without redirecting to https://")
                break  # the next path would say the same
            origin = origin or str(target.copy_with(path="/", query=None, fragment=None))
            if response.status_code not in REDIRECT_STATUSES:
                findings.append(
                    f"plain {url} redirects with {response.status_code}, not a permanent redirect: "
                    "use 301 or 308 so browsers and crawlers keep going to HTTPS"
                )
            if target.host.lower() != url.host.lower():
                findings.append(f"plain {url} redirects to another host ({target.host})")
            if (target.path, target.query) != (url.path, url.query):
                findings.append(
                    f"plain {url} redirects to {target.path or '/'}"
                    f"{'?' + target.query.decode() if target.query else ''}: the path or query is lost"
                )
    status = FAIL if findings else PASS
    return CheckResult(ROW, "HTTPS redirect", status, findings, [ctx.redact(e) for e in evidence]), origin


# --- TLS ------------------------------------------------------------------------------------------
@dataclass
class Handshake:
    version: str = ""
    cipher: str = ""
    error: str = ""
    cannot_offer: bool = False  # this machine's OpenSSL could not even offer the version
    untrusted: str = ""  # why the certificate failed verification
    not_after: float | None = None
    reached: bool = True  # False: no TCP connection at all


def _trusting_context() -> ssl.SSLContext:
    """What a browser would trust: the system store (and `SSL_CERT_FILE`, which OpenSSL reads)."""
    return ssl.create_default_context()


def _unverified_context(version: ssl.TLSVersion | None = None) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    if version is not None:
        with warnings.catch_warnings():  # asking for TLS 1.0/1.1 on purpose, to see if the server accepts it
            warnings.simplefilter("ignore", DeprecationWarning)
            context.minimum_version = version
            context.maximum_version = version
        if version < ssl.TLSVersion.TLSv1_2:
            context.set_ciphers("DEFAULT:@SECLEVEL=0")  # old versions need the old ciphers offered too
    return context


def handshake(host: str, port: int, context: ssl.SSLContext, timeout_s: float) -> Handshake:
    """One TLS handshake; never raises."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s) as raw:
            with context.wrap_socket(raw, server_hostname=host) as tls:
                cipher = tls.cipher()
                cert = tls.getpeercert() if context.verify_mode != ssl.CERT_NONE else None
                expiry = cert.get("notAfter") if cert else None  # text; the stubs type a value as text or tuples
                not_after = ssl.cert_time_to_seconds(expiry) if isinstance(expiry, str) and expiry else None
                return Handshake(tls.version() or "", cipher[0] if cipher else "", not_after=not_after)
    except ssl.SSLCertVerificationError as exc:
        return Handshake(error=str(exc.verify_message or exc.reason), untrusted=str(exc.verify_message or exc.reason))
    except ssl.SSLError as exc:
        reason = str(exc.reason or "")
        return Handshake(error=_ssl_text(exc), cannot_offer=reason in CANNOT_OFFER)
    except (OSError, ValueError) as exc:
        return Handshake(error=_error(exc), reached=False)


def _ssl_text(exc: ssl.SSLError) -> str:
    text = str(exc)
    return text.split("] ", 1)[-1].split(" (_ssl.c", 1)[0] if "]" in text else text


def _tls(ctx: AuditContext, https_url: str) -> tuple[CheckResult, bool | None]:
    """The TLS check, and whether the certificate is trusted (None: no handshake succeeded)."""
    url = httpx.URL(https_url)
    host, port = url.host, url.port or 443
    where = f"{_netloc(host)}:{port}"
    timeout = min(ctx.timeout_s, HANDSHAKE_TIMEOUT_S)
    findings, evidence, notes = [], [], []
    first = handshake(host, port, _trusting_context(), timeout)
    trusted = not first.error
    if first.untrusted:
        findings.append(f"the certificate of {where} is not trusted ({first.untrusted}): browsers show an error page")
        first = handshake(host, port, _unverified_context(), timeout)
    if not first.reached:  # nothing listens (or a firewall drops): each further try would only wait as long
        return CheckResult(
            ROW,
            "TLS",
            FAIL,
            [f"no TLS handshake with {where}: {first.error}"],
            [f"TLS handshake with {where}: {first.error}"],
        ), None
    if first.error:
        findings.append(f"no TLS handshake with {where} as a modern client: {first.error}")
        evidence.append(f"TLS handshake with {where}: {first.error}")
    else:
        evidence.append(
            f"TLS handshake with {where}: {first.version}, {first.cipher}, "
            f"certificate {'trusted' if trusted else 'NOT trusted'}"
        )
    if first.not_after is not None:
        days = (first.not_after - time.time()) / 86400
        if days < CERT_WARN_DAYS:
            findings.append(
                f"the certificate of {where} expires in {max(days, 0):.0f} days: renew it (automate renewal)"
            )
    accepted = {}
    for name, version in VERSIONS:
        result = handshake(host, port, _unverified_context(version), timeout)
        if result.cannot_offer:
            notes.append(f"this machine's OpenSSL cannot offer {name}, so whether {where} accepts it was not checked")
            evidence.append(f"{name} alone: not checked (OpenSSL here cannot offer it)")
            continue
        accepted[name] = not result.error
        evidence.append(f"{name} alone: " + ("accepted" if not result.error else f"refused ({result.error})"))
    if first.error and not any(accepted.values()):
        return CheckResult(ROW, "TLS", FAIL, findings, evidence, "; ".join(notes)), None
    for name in OLD_VERSIONS:
        if accepted.get(name):
            findings.append(f"{where} accepts {name}, which is deprecated (RFC 8996): allow TLS 1.2 and 1.3 only")
    if not accepted.get("TLSv1.2") and not accepted.get("TLSv1.3"):
        findings.append(f"{where} accepts neither TLS 1.2 nor 1.3")
    if accepted.get("TLSv1.3") is False:
        notes.append(f"{where} does not offer TLS 1.3")
    return CheckResult(ROW, "TLS", FAIL if findings else PASS, findings, evidence, "; ".join(notes)), trusted


# --- HSTS -----------------------------------------------------------------------------------------
def parse_hsts(value: str) -> tuple[int | None, bool, bool]:
    """(max-age or None when absent or bad, includeSubDomains, preload) of a Strict-Transport-Security value."""
    max_age, subdomains, preload = None, False, False
    for part in value.split(";"):
        name, _, arg = part.strip().partition("=")
        name = name.strip().lower()
        if name == "max-age":
            try:
                max_age = int(arg.strip().strip('"'))
            except ValueError:
                max_age = None
        elif name == "includesubdomains":
            subdomains = True
        elif name == "preload":
            preload = True
    return max_age, subdomains, preload


def _hsts(ctx: AuditContext, https_url: str, verify: ssl.SSLContext) -> CheckResult:
    try:
        with httpx.Client(timeout=_timeout(ctx), follow_redirects=False, verify=verify) as client:
            response = _headers_of(client, https_url)
    except httpx.HTTPError as exc:
        return CheckResult(ROW, "HSTS", UNTESTED, note=f"GET {https_url} failed: {_error(exc)}")
    value = response.headers.get("strict-transport-security")
    evidence = [f"GET {https_url} -> {response.status_code} Strict-Transport-Security: {value or '(none)'}"]
    if not value:
        return CheckResult(
            ROW,
            "HSTS",
            FAIL,
            [
                f"no Strict-Transport-Security header on {https_url}: browsers "
                "may still try plain HTTP first, where the connection can be hijacked"
            ],
            evidence,
        )
    max_age, subdomains, preload = parse_hsts(value)
    findings = []
    if max_age is None:
        findings.append(f"Strict-Transport-Security without a valid max-age: {value!r}")
    elif max_age < HSTS_MIN_AGE_S:
        findings.append(f"HSTS max-age={max_age} is under 180 days ({HSTS_MIN_AGE_S}): use at least a year")
    note = "" if subdomains else "HSTS without includeSubDomains: subdomains can still be reached over plain HTTP"
    return CheckResult(ROW, "HSTS", FAIL if findings else PASS, findings, evidence, note)


# --- security headers and cookies -----------------------------------------------------------------
def _headers_and_cookies(ctx: AuditContext, site: str, verify: ssl.SSLContext | bool, https: bool) -> list[CheckResult]:
    """The security-header and cookie checks, from the static paths' answers (headers only: bodies are
    not read) and one login on each login route. A site that cannot be reached is asked nothing more."""
    answers: list[tuple[str, httpx.Response]] = []
    errors: list[str] = []
    login_notes: list[str] = []
    login_failed = False  # a login answered an error: its cookies, if any, were not seen
    with httpx.Client(base_url=site, timeout=_timeout(ctx), follow_redirects=False, verify=verify) as client:
        try:
            for path in ctx.settings.static_paths[:MAX_PAGES]:
                answers.append((f"GET {path}", _headers_of(client, path)))
            account = next(iter(ctx.credentials.accounts), None)
            logins = ctx.scenario.routes("login")
            if not logins or account is None:
                login_notes.append("no login route or account: cookies set at login were not seen")
            for login in logins if account is not None else []:
                values = account_values(account)
                missing = unfilled(login, values)
                if missing:
                    login_notes.append(unfilled_note(login.name, missing, {}) + ": its cookies were not seen")
                    continue
                response = ctx.call(client, login.name, values)
                answers.append((f"{login.method} {login.path}", response))
                if response.status_code >= 400:
                    login_failed = True
                    login_notes.append(
                        f"{login.name} answered {response.status_code}: cookies set at login were not seen"
                    )
        except httpx.HTTPError as exc:
            errors.append(f"{site} stopped answering: {_error(exc)}")
    login_note = "; ".join(login_notes)
    cookies = _cookies(ctx, answers, errors, site, https, login_note, login_failed)
    return [_security_headers(ctx, answers, errors), cookies]


def _frame_protected(headers: httpx.Headers) -> bool:
    xfo = headers.get("x-frame-options", "").strip().upper()
    csp = headers.get("content-security-policy", "").lower()
    return xfo in ("DENY", "SAMEORIGIN") or "frame-ancestors" in csp


def _security_headers(ctx: AuditContext, answers: list[tuple[str, httpx.Response]], errors: list[str]) -> CheckResult:
    judged = [(label, r) for label, r in answers if 200 <= r.status_code < 300]
    if not judged:
        seen = [f"{label} -> {r.status_code}" for label, r in answers] + errors
        return CheckResult(
            ROW,
            "security headers",
            UNTESTED,
            evidence=[ctx.redact(s) for s in seen],
            note="no page or API answer (2xx) to read the headers of; set [audit] static_paths",
        )
    missing: dict[str, list[str]] = {}
    evidence = []
    html_seen = False
    for label, response in judged:
        headers = response.headers
        is_html = headers.get("content-type", "").lower().startswith("text/html")
        html_seen = html_seen or is_html
        wanted = {
            "X-Content-Type-Options: nosniff": headers.get("x-content-type-options", "").strip().lower() == "nosniff"
        }
        if is_html:
            wanted["Content-Security-Policy"] = bool(headers.get("content-security-policy", "").strip())
            wanted["X-Frame-Options or CSP frame-ancestors"] = _frame_protected(headers)
            referrer = headers.get("referrer-policy", "").strip().lower()
            wanted["Referrer-Policy (not unsafe-url)"] = bool(referrer) and "unsafe-url" not in referrer
        for name, ok in wanted.items():
            if not ok:
                missing.setdefault(name, []).append(label)
        present = [
            h
            for h in ("x-content-type-options", "x-frame-options", "content-security-policy", "referrer-policy")
            if h in headers
        ]
        evidence.append(
            f"{label} -> {response.status_code} ({headers.get('content-type', 'no type')}): "
            f"{', '.join(present) or 'no security headers'}"
        )
    findings = [f"{name} missing on {', '.join(labels)}" for name, labels in missing.items()]
    note = "" if html_seen else "no HTML page among the answers: CSP, framing and Referrer-Policy are judged on pages"
    return CheckResult(
        ROW, "security headers", FAIL if findings else PASS, findings, [ctx.redact(e) for e in evidence + errors], note
    )


def parse_cookie(set_cookie: str) -> tuple[str, dict[str, str]]:
    """(cookie name, attributes lowercased -> value) of one Set-Cookie header; the value is dropped."""
    first, *attributes = set_cookie.split(";")
    name = first.partition("=")[0].strip()
    attrs = {}
    for attribute in attributes:
        key, _, value = attribute.strip().partition("=")
        if key:
            attrs[key.strip().lower()] = value.strip()
    return name, attrs


def _cookies(
    ctx: AuditContext,
    answers: Iterable[tuple[str, httpx.Response]],
    errors: list[str],
    site: str,
    https: bool,
    login_note: str,
    login_failed: bool,
) -> CheckResult:
    findings, evidence, notes = [], [], [login_note] if login_note else []
    loopback_http = not https and is_loopback(httpx.URL(site).host)
    seen = 0
    for label, response in answers:
        for header in response.headers.get_list("set-cookie"):
            name, attrs = parse_cookie(header)
            seen += 1
            same_site = attrs.get("samesite", "")
            flags = [f for f in ("secure", "httponly") if f in attrs] + ([f"SameSite={same_site}"] if same_site else [])
            evidence.append(ctx.redact(f"{label}: Set-Cookie {name}=… ({', '.join(flags) or 'no flags'})"))
            if "secure" not in attrs:
                if loopback_http:
                    notes.append(f"cookie {name} is not Secure (fine on plain-HTTP loopback, not in production)")
                else:
                    findings.append(f"cookie {name} (from {label}) is not Secure: it is sent over plain HTTP too")
            if "httponly" not in attrs:
                findings.append(f"cookie {name} (from {label}) is not HttpOnly: any injected script can read it")
            if not same_site:
                findings.append(f"cookie {name} (from {label}) has no SameSite: set Lax or Strict against CSRF")
            elif same_site.lower() == "none" and "secure" not in attrs:
                findings.append(f"cookie {name} (from {label}) is SameSite=None without Secure: browsers reject it")
    if not seen:
        if not answers:
            return CheckResult(
                ROW,
                "cookie flags",
                UNTESTED,
                evidence=[ctx.redact(e) for e in errors],
                note="; ".join(notes + ["no page or login answered"]),
            )
        evidence.append("no Set-Cookie on " + ", ".join(label for label, _ in answers))
        if login_failed:  # the session cookie, if any, comes with a login that worked: none seen is no pass
            return CheckResult(
                ROW,
                "cookie flags",
                UNTESTED,
                evidence=evidence,
                note="; ".join(notes),
                fix="let a login succeed (an account that works, its rate limit waited out), then audit again",
                gate=True,
            )
    return CheckResult(ROW, "cookie flags", FAIL if findings else PASS, findings, evidence, "; ".join(notes))


# --- helpers --------------------------------------------------------------------------------------
def _headers_of(client: httpx.Client, url: str | httpx.URL) -> httpx.Response:
    """A GET whose body is never read: only the status and headers matter here, whatever the size."""
    with client.stream("GET", url) as response:
        return response


def _timeout(ctx: AuditContext) -> httpx.Timeout:
    return httpx.Timeout(min(ctx.timeout_s, 10.0))


def _error(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 160 else text[:157] + "..."
