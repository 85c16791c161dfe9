"""E-mail authentication checks (row `email_auth`): the SPF, DKIM and DMARC records of `[audit] domain`.

Only DNS is asked (TXT records), through `[audit] dns_server` (`HOST[:PORT]`) or the system resolver,
each query bounded to DNS_TIMEOUT_S; once the server fails to answer, nothing more is asked and the
checks are untested. Whether real mail passes (alignment, signatures) needs a sent message:
send a test mail to a few inboxes and read its Authentication-Results header as well.

How the records are judged:

- SPF: exactly one `v=spf1` record; it must end in `-all` (pass) or `~all` (pass, with a note: softfail
  marks spoofed mail rather than rejecting it, fine behind an enforcing DMARC). `+all` lets anyone send
  as the domain, and `?all` (or no `all` at all) says nothing about other senders: both fail. More than
  10 DNS-querying terms (include, a, mx, ptr, exists, redirect, counted through every include) is a
  permanent error at receivers: fail. An include of a name with no SPF record is one too.
- DKIM, for each `[audit] dkim_selectors` (selectors cannot be listed from DNS): a record must exist,
  its `p=` must not be empty (empty is a revoked key), and an RSA key must have 1024 bits or more
  (2048 is recommended: a note). Ed25519 keys pass.
- DMARC: one `v=DMARC1` record at `_dmarc.DOMAIN` with a valid `p=`. Decision on `p=none`: it is a
  finding ("monitoring only, not enforced"). The launch checklist rightly says to publish p=none
  first and watch the reports; but a domain whose policy is still none has spoofed mail delivered as
  usual, so it is not yet launch-ready: the fix is to move to p=quarantine once the reports show your
  own mail passing. `pct` under 100 (only part of the failing mail is acted on) is a finding too; no
  `rua` (no aggregate reports, so no way to see failures) is a note.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
import socket
from collections.abc import Callable
from dataclasses import dataclass, field

import dns.exception
import dns.resolver

from harness.audit.context import AuditContext
from harness.audit.model import FAIL, PASS, UNTESTED, CheckResult

__all__ = ["run", "Dns", "DnsUnreachable", "spf_lookups", "rsa_key_bits", "parse_tags", "DNS_TIMEOUT_S"]

ROW = "email_auth"
DNS_TIMEOUT_S = 2.0  # one query, retries included
SPF_MAX_LOOKUPS = 10  # RFC 7208 section 4.6.4
MAX_SPF_QUERIES = 30  # what the lookup count may cost us, whatever the records say
MIN_RSA_BITS = 1024
GOOD_RSA_BITS = 2048
LOOKUP_TERMS = ("include", "a", "mx", "ptr", "exists")
ALL_TERM = re.compile(r"^([+\-~?]?)all$", re.IGNORECASE)


class DnsUnreachable(Exception):
    """The DNS server did not answer: nothing it says can be judged."""


@dataclass
class Dns:
    """TXT lookups through one resolver, bounded in time; after the first unanswered query, none more."""

    server: str = ""  # "HOST[:PORT]"; "" = the system resolver
    timeout_s: float = DNS_TIMEOUT_S
    queries: int = 0
    _down: str = ""
    _resolver: dns.resolver.Resolver | None = field(default=None, repr=False)

    def resolver(self) -> dns.resolver.Resolver:
        if self._resolver is None:
            if self.server:
                host, port = _host_port(self.server)
                resolver = dns.resolver.Resolver(configure=False)
                resolver.nameservers = [host]
                resolver.port = port
            else:
                resolver = dns.resolver.Resolver()
            resolver.timeout = resolver.lifetime = self.timeout_s
            resolver.use_edns(0, 0, 1232)  # DKIM keys rarely fit in 512 bytes
            self._resolver = resolver
        return self._resolver

    @property
    def where(self) -> str:
        return f"DNS server {self.server}" if self.server else "the system resolver"

    def txt(self, name: str) -> list[str]:
        """The TXT strings at `name` (each record's strings joined); [] when there is none."""
        if self._down:
            raise DnsUnreachable(self._down)
        self.queries += 1
        try:
            answer = self.resolver().resolve(name, "TXT", raise_on_no_answer=False)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return []
        except dns.resolver.NoNameservers as exc:  # SERVFAIL or refused everywhere
            self._down = f"{self.where} failed to answer for {name} ({_short(exc)})"
            raise DnsUnreachable(self._down) from None
        except (dns.exception.Timeout, dns.resolver.LifetimeTimeout):
            self._down = f"{self.where} did not answer within {self.timeout_s:g} s (asked for {name})"
            raise DnsUnreachable(self._down) from None
        except (dns.exception.DNSException, OSError, ValueError) as exc:
            self._down = f"{self.where}: {type(exc).__name__}: {_short(exc)}"
            raise DnsUnreachable(self._down) from None
        if answer.rrset is None:
            return []
        return [b"".join(rdata.strings).decode("utf-8", "replace") for rdata in answer.rrset]


def _host_port(server: str) -> tuple[str, int]:
    server = server.strip()
    match = re.fullmatch(r"\[([^\]]+)\](?::(\d+))?", server)  # [::1]:53
    if match:
        host, port = match.group(1), match.group(2)
    elif server.count(":") == 1:
        host, _, port = server.partition(":")
    else:  # a bare IPv6 address or a bare host
        host, port = server, None
    try:
        ipaddress.ip_address(host)
    except ValueError:
        host = socket.getaddrinfo(host, 53, proto=socket.IPPROTO_UDP)[0][4][0]  # a name: its first address
    return host, int(port) if port else 53


def _short(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 160 else text[:157] + "..."


def run(ctx: AuditContext) -> list[CheckResult]:
    domain = ctx.settings.domain.strip().rstrip(".").lower()
    if not domain:
        return [
            CheckResult(
                ROW,
                "SPF, DKIM, DMARC",
                UNTESTED,
                note="no [audit] domain: give the domain your mail is sent from",
            )
        ]
    resolver = Dns(ctx.settings.dns_server, timeout_s=DNS_TIMEOUT_S)
    checks: list[tuple[str, Callable[[], CheckResult]]] = [
        ("SPF", lambda: check_spf(resolver, domain)),
        ("DKIM", lambda: check_dkim(resolver, domain, ctx.settings.dkim_selectors)),
        ("DMARC", lambda: check_dmarc(resolver, domain)),
    ]
    results = []
    for name, check in checks:
        try:
            results.append(check())
        except DnsUnreachable as exc:
            results.append(CheckResult(ROW, name, UNTESTED, note=str(exc)))
    return results


# --- SPF ------------------------------------------------------------------------------------------
def _spf_records(texts: list[str]) -> list[str]:
    return [t for t in texts if re.match(r"^v=spf1(\s|$)", t.strip(), re.IGNORECASE)]


@dataclass
class SpfCount:
    lookups: int = 0
    problems: list[str] = field(default_factory=list)
    queries: int = 0


def spf_lookups(
    resolver: Dns, record: str, count: SpfCount | None = None, seen: frozenset[str] = frozenset(), depth: int = 0
) -> SpfCount:
    """How many DNS-querying terms `record` costs a receiver, its includes and redirect followed."""
    count = count or SpfCount()
    for term in record.split()[1:]:
        if count.lookups > SPF_MAX_LOOKUPS:
            break  # already over: the exact figure does not matter
        name, _, target = term.lstrip("+-~?").partition(":")
        name = name.lower()
        if name.startswith("redirect="):
            name, target = "redirect", name.partition("=")[2] or term.partition("=")[2]
        name = name.split("/")[0]
        if name not in (*LOOKUP_TERMS, "redirect"):
            continue
        count.lookups += 1
        if name not in ("include", "redirect") or not target or "%" in target:
            continue  # a macro cannot be expanded without a message: counted, not followed
        target = target.lower().rstrip(".")
        if target in seen or depth >= SPF_MAX_LOOKUPS or count.queries >= MAX_SPF_QUERIES:
            if target in seen:
                count.problems.append(f"SPF {name}:{target} loops back on itself")
            continue
        count.queries += 1
        records = _spf_records(resolver.txt(target))
        if len(records) != 1:
            count.problems.append(
                f"SPF {name}:{target} has {'no' if not records else len(records)} SPF record"
                f"{'s' if len(records) > 1 else ''}: receivers give a permanent error"
            )
            continue
        spf_lookups(resolver, records[0], count, seen | {target}, depth + 1)
    return count


def _spf_all(resolver: Dns, record: str, depth: int = 0) -> str | None:
    """The qualifier of the `all` that ends `record` ("+", "-", "~", "?"), following a redirect; None: no all."""
    redirect = None
    for term in record.split()[1:]:
        match = ALL_TERM.match(term)
        if match:
            return match.group(1) or "+"
        if term.lower().startswith("redirect="):
            redirect = term.partition("=")[2].lower().rstrip(".")
    if redirect and "%" not in redirect and depth < 5:
        records = _spf_records(resolver.txt(redirect))
        if len(records) == 1:
            return _spf_all(resolver, records[0], depth + 1)
    return None


def check_spf(resolver: Dns, domain: str) -> CheckResult:
    records = _spf_records(resolver.txt(domain))
    evidence = [f"TXT {domain}: {r}" for r in records] or [f"TXT {domain}: no v=spf1 record"]
    if not records:
        return CheckResult(ROW, "SPF", FAIL, [f"no SPF record at {domain}: any server can send mail as it"], evidence)
    if len(records) > 1:
        return CheckResult(
            ROW,
            "SPF",
            FAIL,
            [
                f"{len(records)} SPF records at {domain}: receivers treat that as a "
                "permanent error, as if there were none; merge them into one"
            ],
            evidence,
        )
    record = records[0]
    findings, note = [], ""
    qualifier = _spf_all(resolver, record)
    if qualifier == "+":
        findings.append(f"SPF of {domain} ends in +all: every server on the internet may send as {domain}")
    elif qualifier == "?":
        findings.append(
            f"SPF of {domain} ends in ?all (neutral): it says nothing about other senders; end in -all or ~all"
        )
    elif qualifier is None:
        findings.append(f"SPF of {domain} has no 'all': mail from any other server gets a neutral result; end in -all")
    elif qualifier == "~":
        note = (
            "SPF ends in ~all (softfail): spoofed mail is marked, not rejected; "
            "fine with an enforcing DMARC, -all is stricter"
        )
    count = spf_lookups(resolver, record)
    evidence.append(
        f"SPF DNS lookups: {count.lookups}{'+' if count.lookups > SPF_MAX_LOOKUPS else ''} (at most {SPF_MAX_LOOKUPS})"
    )
    if count.lookups > SPF_MAX_LOOKUPS:
        findings.append(
            f"SPF of {domain} needs more than {SPF_MAX_LOOKUPS} DNS lookups: receivers give a permanent "
            "error; drop includes of services you do not send from"
        )
    findings.extend(count.problems)
    return CheckResult(ROW, "SPF", FAIL if findings else PASS, findings, evidence, note)


# --- DKIM -----------------------------------------------------------------------------------------
def parse_tags(record: str) -> dict[str, str]:
    """`k=v; k=v` tags (DKIM, DMARC), names lowercased, spaces inside values dropped."""
    tags = {}
    for part in record.split(";"):
        name, sep, value = part.partition("=")
        if sep:
            tags[name.strip().lower()] = re.sub(r"\s+", "", value)
    return tags


def _der(data: bytes, pos: int) -> tuple[int, int, int]:
    """(tag, start, end) of the DER element at `pos`."""
    tag, length = data[pos], data[pos + 1]
    pos += 2
    if length & 0x80:
        n = length & 0x7F
        length = int.from_bytes(data[pos : pos + n], "big")
        pos += n
    if pos + length > len(data):
        raise ValueError("truncated")
    return tag, pos, pos + length


def _modulus_bits(der: bytes) -> int:
    """The RSA modulus size of a SubjectPublicKeyInfo or a bare RSAPublicKey, read from the DER."""
    tag, start, _ = _der(der, 0)
    if tag != 0x30:
        raise ValueError("not a DER sequence")
    inner, s, e = _der(der, start)
    if inner == 0x30:  # SubjectPublicKeyInfo: AlgorithmIdentifier, then the key in a BIT STRING
        bits_tag, bs, be = _der(der, e)
        if bits_tag != 0x03:
            raise ValueError("no key bit string")
        return _modulus_bits(der[bs + 1 : be])  # the first byte counts unused bits
    if inner == 0x02:  # RSAPublicKey: the modulus, then the exponent
        return int.from_bytes(der[s:e], "big").bit_length()
    raise ValueError("not an RSA public key")


def rsa_key_bits(p: str) -> int | None:
    """The size in bits of the base64 RSA public key of a DKIM record; None when it does not parse."""
    try:
        der = base64.b64decode(p + "=" * (-len(p) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None
    try:
        # cryptography is optional (not a dependency): where it is installed its own types apply
        from cryptography.hazmat.primitives.serialization import load_der_public_key  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        pass
    else:
        try:
            # RSA keys have a key_size; newer cryptography releases add key types without one (AttributeError)
            return int(load_der_public_key(der).key_size)  # type: ignore[union-attr, unused-ignore]
        except (ValueError, TypeError, AttributeError):
            pass  # maybe a bare RSAPublicKey, which some publish: read the DER ourselves
    try:
        return _modulus_bits(der)
    except (ValueError, IndexError):
        return None


def _judge_dkim(selector: str, name: str, record: str) -> list[str]:
    tags = parse_tags(record)
    if tags.get("v", "DKIM1") != "DKIM1":
        return [f"DKIM {name}: v={tags['v']} is not DKIM1"]
    if "p" not in tags:
        return [f"DKIM {name}: no p= (public key) tag"]
    if not tags["p"]:
        return [f"DKIM selector {selector}: p= is empty, the key is revoked; mail signed with it fails DKIM"]
    key_type = tags.get("k", "rsa").lower()
    if key_type == "ed25519":
        return []
    if key_type != "rsa":
        return [f"DKIM selector {selector}: unknown key type k={key_type}"]
    bits = rsa_key_bits(tags["p"])
    if bits is None:
        return [f"DKIM selector {selector}: p= does not decode as an RSA public key"]
    if bits < MIN_RSA_BITS:
        return [
            f"DKIM selector {selector}: {bits}-bit RSA key, under {MIN_RSA_BITS}: receivers ignore the "
            f"signature and the key can be cracked; publish a {GOOD_RSA_BITS}-bit key"
        ]
    return []


def check_dkim(resolver: Dns, domain: str, selectors: tuple[str, ...]) -> CheckResult:
    if not selectors:
        return CheckResult(
            ROW,
            "DKIM",
            UNTESTED,
            note="DKIM keys cannot be listed from DNS: give [audit] dkim_selectors (the s= of a "
            "DKIM-Signature in a mail you sent, e.g. google, s1, k1)",
        )
    findings, evidence, notes = [], [], []
    for selector in selectors:
        name = f"{selector}._domainkey.{domain}"
        records = [t for t in resolver.txt(name) if "p=" in t or t.strip().lower().startswith("v=dkim1")]
        if not records:
            findings.append(f"no DKIM record for selector {selector} ({name}): mail signed with it fails DKIM")
            evidence.append(f"TXT {name}: none")
            continue
        record = records[0]
        tags = parse_tags(record)
        bits = rsa_key_bits(tags.get("p", "")) if tags.get("k", "rsa").lower() == "rsa" and tags.get("p") else None
        key = f"{tags.get('k', 'rsa')} key" + (f", {bits} bits" if bits else "") if tags.get("p") else "empty p="
        evidence.append(f"TXT {name}: DKIM record, {key}")
        if len(records) > 1:
            findings.append(f"{len(records)} DKIM records for selector {selector}: receivers may pick either")
        findings.extend(_judge_dkim(selector, name, record))
        if bits and MIN_RSA_BITS <= bits < GOOD_RSA_BITS:
            notes.append(f"selector {selector}: {bits}-bit key; {GOOD_RSA_BITS} bits is recommended")
        if "y" in tags.get("t", "").split(":"):
            notes.append(f"selector {selector} is in testing mode (t=y)")
    return CheckResult(ROW, "DKIM", FAIL if findings else PASS, findings, evidence, "; ".join(notes))


# --- DMARC ----------------------------------------------------------------------------------------
def check_dmarc(resolver: Dns, domain: str) -> CheckResult:
    name = f"_dmarc.{domain}"
    records = [t for t in resolver.txt(name) if re.match(r"^v\s*=\s*DMARC1\s*(;|$)", t.strip(), re.IGNORECASE)]
    evidence = [f"TXT {name}: {r}" for r in records] or [f"TXT {name}: no v=DMARC1 record"]
    if not records:
        return CheckResult(
            ROW,
            "DMARC",
            FAIL,
            [
                f"no DMARC record at {name}: receivers have no policy for mail "
                "that fails SPF and DKIM; publish v=DMARC1; p=none; rua=… first"
            ],
            evidence,
        )
    if len(records) > 1:
        return CheckResult(
            ROW, "DMARC", FAIL, [f"{len(records)} DMARC records at {name}: receivers ignore them all"], evidence
        )
    tags = parse_tags(records[0])
    findings, notes = [], []
    policy = tags.get("p", "").lower()
    if policy not in ("none", "quarantine", "reject"):
        findings.append(f"DMARC at {name} has no valid p= (got {tags.get('p', 'none given')!r}): the record is ignored")
    elif policy == "none":
        findings.append(
            f"DMARC p=none at {name}: monitoring only, not enforced; spoofed mail is still delivered. "
            "Move to p=quarantine once the reports show your mail passing"
        )
    else:
        pct = tags.get("pct", "100")
        if not pct.isdigit() or int(pct) < 100:
            findings.append(f"DMARC pct={pct} at {name}: the policy is applied to only part of the failing mail")
        if tags.get("sp", policy).lower() == "none":
            notes.append("DMARC sp=none: subdomains are not protected")
    if not tags.get("rua"):
        notes.append("DMARC without rua=: no aggregate reports, so failures go unseen")
    return CheckResult(ROW, "DMARC", FAIL if findings else PASS, findings, evidence, "; ".join(notes))
