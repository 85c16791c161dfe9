"""Key-shaped values in a text: which provider's secret, where, and a redacted form safe to report.

The patterns are tight on purpose: a provider's own prefix and length (OpenAI's `T3BlbkFJ` marker,
Stripe's `sk_live_`), a JWT only when its payload says `service_role`, a private key only with a key
body after its header, an assignment only when its value is a quoted literal (and, for the generic names `apiKey`,
`SECRET_KEY`, `client_secret`..., one that looks generated: letters and digits, high entropy). A loose pattern fires
on every minified bundle (`task-...`, a PEM header constant in a crypto library, `sk-` CSS classes)
and a finding nobody believes helps nobody.

Beside them, Yelp's maintained rule set (detect-secrets, its default plugins, in memory on the text:
no files, no baseline, no network; its own false-positive filters applied) finds what the patterns above
do not know (GitHub and Slack tokens, Twilio, SendGrid...). A provider key it finds is severe; a
high-entropy string or a value under a secret-like keyword is only a note, since minified bundles are
full of hashes and ids; what the patterns above rule out stays out (a JWT whose role is `anon` or
`authenticated`, a private-key header with no key after it, a Stripe publishable key). detect-secrets reads the first MAINTAINED_CHARS of
a text (about a second of work); the patterns above read all of it.

A hit never carries the value itself: only `shown` (the prefix and the last four characters, e.g.
`sk-proj-…a1b2`) and a short fingerprint to tell two values apart.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache

from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class
from detect_secrets.filters import heuristic
from detect_secrets.plugins.base import BasePlugin, RegexBasedDetector
from detect_secrets.plugins.high_entropy_strings import HighEntropyStringsPlugin
from detect_secrets.plugins.ip_public import IPPublicDetector
from detect_secrets.plugins.jwt import JwtTokenDetector
from detect_secrets.plugins.keyword import DENYLIST, KeywordDetector
from detect_secrets.plugins.private_key import PrivateKeyDetector

__all__ = ["Hit", "MAINTAINED_CHARS", "mask", "scan", "shown"]

MAINTAINED_CHARS = 1 << 20  # how much of one text detect-secrets reads (its plugins take ~1 s per MiB)


@dataclass(frozen=True)
class Hit:
    kind: str  # "OpenAI API key"
    shown: str  # redacted: prefix and last four characters
    line: int  # 1-based line of the text it was found in
    severe: bool = True  # False: worth a note (a test-mode key, a browser variable to review), not a failure
    fingerprint: str = ""  # sha256 of the value, shortened: the same key seen twice is one finding
    plugin: str = ""  # the detect-secrets plugin that found it ("" for the harness's own patterns)


def shown(value: str, prefix: str) -> str:
    """`prefix…last4`; the tail only when the rest is long enough that four characters give nothing away."""
    rest = value[len(prefix) :] if value.startswith(prefix) else value
    return f"{prefix}…{rest[-4:] if len(rest) >= 16 else ''}"


def _fingerprint(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:12]


_KEY_END = r"(?![A-Za-z0-9_-])"
# (kind, pattern, prefix of the match to show, severe). Group "v" is the value when not the whole match.
_PROVIDER_KEYS: list[tuple[str, re.Pattern[str], Callable[[str], str], bool]] = [
    (
        "Anthropic API key",
        re.compile(r"\bsk-ant-(?:api|admin|oat)\d{2}-[A-Za-z0-9_-]{32,}" + _KEY_END),
        lambda v: v[: v.index("-", 7) + 1],
        True,
    ),
    (
        "OpenAI API key",
        re.compile(r"\bsk-[A-Za-z0-9_-]{20,400}T3BlbkFJ[A-Za-z0-9_-]{20,400}" + _KEY_END),
        lambda v: m.group(0) if (m := re.match(r"sk-(?:(?:proj|svcacct|admin)-)?", v)) else "sk-",
        True,
    ),
    ("OpenAI API key", re.compile(r"\bsk-[A-Za-z0-9]{48}" + _KEY_END), lambda v: "sk-", True),
    (  # project and service-account keys without the marker, hyphens and underscores inside
        "OpenAI API key",
        re.compile(r"\bsk-(?:proj|svcacct|admin)-[A-Za-z0-9_-]{40,400}" + _KEY_END),
        lambda v: v[: v.index("-", 3) + 1],
        True,
    ),
    ("Stripe secret key", re.compile(r"\bsk_live_[A-Za-z0-9]{20,247}(?![A-Za-z0-9])"), lambda v: "sk_live_", True),
    ("Stripe restricted key", re.compile(r"\brk_live_[A-Za-z0-9]{20,247}(?![A-Za-z0-9])"), lambda v: "rk_live_", True),
    (
        "Stripe test-mode secret key",
        re.compile(r"\b[sr]k_test_[A-Za-z0-9]{20,247}(?![A-Za-z0-9])"),
        lambda v: v[:8],
        False,
    ),
    ("Stripe webhook signing secret", re.compile(r"\bwhsec_[A-Za-z0-9+/=]{24,}"), lambda v: "whsec_", True),
    ("Supabase secret key", re.compile(r"\bsb_secret_[A-Za-z0-9_-]{20,}" + _KEY_END), lambda v: "sb_secret_", True),
    (
        "AWS secret access key",
        re.compile(r"(?i)aws_?secret_?access_?key[\"']?\s*[:=]\s*[\"']?(?P<v>[A-Za-z0-9/+=]{40})(?![A-Za-z0-9/+=])"),
        lambda v: "",
        True,
    ),
    ("AWS access key ID", re.compile(r"\b(?:AKIA|ASIA)[A-Z2-7]{16}\b"), lambda v: v[:4], False),
]

_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.(?P<payload>eyJ[A-Za-z0-9_-]{8,})\.[A-Za-z0-9_-]{16,}" + _KEY_END)
_PRIVATE_KEY = re.compile(r"-----BEGIN (?P<label>(?:[A-Z0-9]+ ){0,3}PRIVATE KEY(?: BLOCK)?)-----")
_KEY_BODY = re.compile(r"(?:[A-Za-z0-9+/=]|\s|\\[nr])+")  # the base64 body, raw or in an escaped JS string
_EXAMPLE = re.compile(r"EXAMPLE|(?i:^(?:process\.env|import\.meta|\$\{|<|\{\{|%|your[-_ ]|placeholder|xxx|\*\*\*))")

_SECRET_NAME = (
    r"[A-Za-z0-9_]*?(?i:jwt[_-]?(?:secret|signing[_-]?key|private[_-]?key)|session[_-]?secret"
    r"|nextauth[_-]?secret|auth[_-]?secret|secret[_-]?key[_-]?base)[A-Za-z0-9_]*"
)
# JWT_SECRET: "..." / jwtSecret = '...' (a quoted literal), or JWT_SECRET=... at the start of a line (.env)
_SECRET_ASSIGNMENT = re.compile(
    r"(?<![A-Za-z0-9_])[\"']?(?P<name>" + _SECRET_NAME + r")[\"']?\s*[:=]\s*[\"'`](?P<v>[^\"'`\s]{8,200})[\"'`]"
    r"|^[ \t]*(?:export[ \t]+)?(?P<dname>" + _SECRET_NAME + r")[ \t]*=[ \t]*[\"']?(?P<dv>[^\s\"'#]{8,200})",
    re.MULTILINE,
)
# Build-time variables a bundler inlines into the browser bundle.
_BROWSER_NAME = r"(?:NEXT_PUBLIC|VITE|REACT_APP|EXPO_PUBLIC|NUXT_PUBLIC|GATSBY)_[A-Z0-9_]+"
_BROWSER_VARIABLE = re.compile(  # a quoted literal, or NAME=value at the start of a line (.env)
    r"(?<![A-Za-z0-9_])(?P<name>" + _BROWSER_NAME + r")[\"']?\s*[:=]\s*[\"'`](?P<v>[^\"'`\s]{8,300})[\"'`]"
    r"|^[ \t]*(?:export[ \t]+)?(?P<dname>" + _BROWSER_NAME + r")[ \t]*=[ \t]*[\"']?(?P<dv>[^\s\"'#]{8,300})",
    re.MULTILINE,
)
# sk-… of any provider (OpenAI-compatible gateways, DeepSeek, OpenRouter's sk-or-v1-…), told from a
# CSS class or an i18n key by its randomness (see _random)
_SK_KEY = re.compile(r"\bsk-[A-Za-z0-9][A-Za-z0-9_-]{31,300}" + _KEY_END)
# apiKey: "…", SECRET_KEY = '…', "client_secret": "…": a quoted literal under a secret's name
_KEYWORD_NAME = (
    r"[A-Za-z0-9_]*?(?i:api[_-]?key|secret[_-]?key|client[_-]?secret|access[_-]?token|auth[_-]?token"
    r"|private[_-]?key|api[_-]?secret|secret)"
)
_KEYWORD_ASSIGNMENT = re.compile(
    r"(?<![A-Za-z0-9_])[\"']?(?P<name>" + _KEYWORD_NAME + r")[\"']?\s*[:=]\s*[\"'`](?P<v>[^\"'`\s]{16,300})[\"'`]"
)
_GOOGLE_BROWSER_KEY = re.compile(r"AIza[0-9A-Za-z_-]{35}")  # Firebase/Maps keys are public by design: a note
_SECRET_WORDS = re.compile(r"SECRET|PRIVATE|SERVICE_ROLE|PASSWORD|PASSWD")
_KEY_WORDS = re.compile(r"KEY|TOKEN")
_PUBLIC_WORDS = re.compile(r"PUBLISHABLE|ANON|PUBLIC_KEY|SITE_KEY|CLIENT_ID|MEASUREMENT|DSN")


def _random(value: str) -> bool:
    """Does `value` look generated (a key) rather than written (a name, a sentence, a URL)? Letters and
    digits mixed, and at least 3.5 bits of entropy per character."""
    if "/" in value or "." in value or not re.search(r"\d", value) or not re.search(r"[A-Za-z]", value):
        return False
    counts = [value.count(c) for c in set(value)]
    entropy = -sum(n / len(value) * math.log2(n / len(value)) for n in counts)
    return entropy >= 3.5


def _line(text: str, index: int) -> int:
    return text.count("\n", 0, index) + 1


def _jwt_role(payload: str) -> str | None:
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (ValueError, binascii.Error, RecursionError):
        return None
    role = claims.get("role") if isinstance(claims, dict) else None
    return role if isinstance(role, str) else None


def scan(text: str, maintained_chars: int = MAINTAINED_CHARS) -> list[Hit]:
    """Every key-shaped value in `text`, in order of appearance; the same span is reported once.
    detect-secrets reads the first `maintained_chars` characters."""
    return [hit for _, _, hit in _find(text, maintained_chars)]


def mask(text: str) -> str:
    """`text` with every key-shaped value replaced by its redacted form (for excerpts of answers); the
    strings detect-secrets only notes (hashes, ids) are left as they are, so the excerpt stays readable."""
    for start, end, hit in reversed(_find(text)):
        if hit.severe or not hit.plugin:
            text = text[:start] + hit.shown + text[end:]
    return text


def _find(text: str, maintained_chars: int = MAINTAINED_CHARS) -> list[tuple[int, int, Hit]]:
    hits: list[tuple[int, int, Hit]] = []

    def add(kind: str, start: int, end: int, value: str, display: str, severe: bool = True, plugin: str = "") -> None:
        if any(s < end and start < e for s, e, _ in hits):
            return  # already reported by a more specific pattern
        hits.append((start, end, Hit(kind, display, _line(text, start), severe, _fingerprint(value), plugin)))

    for kind, pattern, prefix, severe in _PROVIDER_KEYS:
        for m in pattern.finditer(text):
            start, end = m.span("v") if "v" in pattern.groupindex else m.span()
            value = text[start:end]
            if _EXAMPLE.search(value):
                continue  # AWS's documented example keys, templates
            add(kind, start, end, value, shown(value, prefix(value)), severe)
    for m in _JWT.finditer(text):
        if _jwt_role(m.group("payload")) == "service_role":
            add(
                "Supabase service-role key (a JWT with role service_role)",
                *m.span(),
                m.group(0),
                shown(m.group(0), "eyJ"),
            )
    for m in _PRIVATE_KEY.finditer(text):
        body = _KEY_BODY.match(text, m.end())
        material = re.sub(r"\s|\\[nr]", "", body.group(0)) if body else ""
        if len(material) >= 64:  # a real key follows, not just the header constant of a PEM library
            add(
                f"private key ({m.group('label')})",
                m.start(),
                m.end() + len(body.group(0)) if body else m.end(),
                material,
                f"-----BEGIN {m.group('label')}-----…{material[-4:]}",
            )
    for m in _SECRET_ASSIGNMENT.finditer(text):
        name, group = (m.group("name"), "v") if m.group("name") else (m.group("dname"), "dv")
        value = m.group(group)
        if not _EXAMPLE.search(value):
            add(f"secret in configuration ({name})", *m.span(group), value, f"{name}=" + shown(value, ""))
    for m in _BROWSER_VARIABLE.finditer(text):
        name, group = (m.group("name"), "v") if m.group("name") else (m.group("dname"), "dv")
        value = m.group(group)
        if _EXAMPLE.search(value) or value.startswith(("pk_", "pk.")):
            continue
        if _SECRET_WORDS.search(name):
            add(f"secret in a browser build variable ({name})", *m.span(group), value, f"{name}=" + shown(value, ""))
        elif _KEY_WORDS.search(name) and not _PUBLIC_WORDS.search(name):
            add(
                f"key in a browser build variable ({name}); make sure it is meant to be public",
                *m.span(group),
                value,
                f"{name}=" + shown(value, ""),
                severe=False,
            )
    for m in _SK_KEY.finditer(text):
        if _random(m.group(0)[3:]) and not _EXAMPLE.search(m.group(0)):
            add("secret key (sk-…)", *m.span(), m.group(0), shown(m.group(0), "sk-"))
    for m in _KEYWORD_ASSIGNMENT.finditer(text):
        value = m.group("v")
        if _EXAMPLE.search(value) or not _random(value):
            continue
        if _GOOGLE_BROWSER_KEY.fullmatch(value):
            add(
                f"Google browser key ({m.group('name')}); make sure it is restricted to your sites",
                *m.span("v"),
                value,
                shown(value, "AIza"),
                severe=False,
            )
        else:
            add(f"secret in code ({m.group('name')})", *m.span("v"), value, f"{m.group('name')}=" + shown(value, ""))
    for found in _maintained(text[:maintained_chars]):
        add(*found)
    return sorted(hits, key=lambda found: found[0])


# --- detect-secrets ------------------------------------------------------------------------------

_KEYWORD_HINT = re.compile("|".join(DENYLIST), re.IGNORECASE)  # the KeywordDetector's own words: a cheap pre-check
_PUBLIC_JWT_ROLES = ("anon", "authenticated")  # Supabase's browser keys: public by design
_LONG_LINE = 1000  # a minified line is cut into statements, so a keyword rule sees each of them


@lru_cache(maxsize=1)
def _plugins() -> tuple[BasePlugin, ...]:
    """detect-secrets' default plugin set, built once; without the public-IP one (an address is no secret)."""
    classes: list[type[BasePlugin]] = list(get_mapping_from_secret_type_to_class().values())
    return tuple(c() for c in classes if c is not IPPublicDetector)


def _segments(text: str) -> Iterator[tuple[int, str]]:
    """(offset, piece): the lines of `text`, a long (minified) line cut after each `;`."""
    for line in re.finditer(r"[^\n]+", text):
        if len(line.group(0)) <= _LONG_LINE:
            yield line.start(), line.group(0)
        else:
            for piece in re.finditer(r"[^;]+;?", line.group(0)):
                yield line.start() + piece.start(), piece.group(0)


def _filtered(plugin: BasePlugin, value: str, segment: str) -> bool:
    """detect-secrets' default heuristic filters, and the harness's own (documented examples, templates)."""
    return bool(
        heuristic.is_sequential_string(value)
        or heuristic.is_potential_uuid(value)
        or heuristic.is_likely_id_string(value, segment, plugin)
        or heuristic.is_templated_secret(value)
        or heuristic.is_prefixed_with_dollar_sign(value)
        or heuristic.is_not_alphanumeric_string(value)
        or _EXAMPLE.search(value)
        or value.startswith(("pk_live_", "pk_test_"))  # Stripe publishable keys: public by design
    )


def _judged(plugin: BasePlugin, value: str) -> tuple[str, bool] | None:
    """(kind, severe) of a detect-secrets hit, or None when it is no hit after all (entropy under the
    plugin's own limit, a keyword value that is a word, what the patterns above judged public)."""
    name = f"detect-secrets {type(plugin).__name__}"
    if isinstance(plugin, HighEntropyStringsPlugin):
        if plugin.calculate_shannon_entropy(value) <= plugin.entropy_limit:
            return None
        return f"high-entropy string ({name}); review it: usually a hash or an id", False
    if isinstance(plugin, KeywordDetector):
        if len(value) < 8 or re.search(r"\s", value):
            return None
        return f"value under a secret-like name ({name}); make sure it is not a secret", False
    if isinstance(plugin, JwtTokenDetector) and "." in value and _jwt_role(value.split(".")[1]) in _PUBLIC_JWT_ROLES:
        return None  # a Supabase browser key: public by design
    if isinstance(plugin, PrivateKeyDetector):
        return None  # with a key body after it, the patterns above found it: a bare header is a library's constant
    return f"{plugin.secret_type} ({name})", True


def _shown_maintained(value: str) -> str:
    """`prefix…last4`, the prefix being a provider's marker (`ghp_`, `xoxb-`, a URL's host) when it has one."""
    prefix = re.match(r"[A-Za-z]{2,12}[_-]|https?://[^/]+/", value)
    return shown(value, prefix.group(0) if prefix else "")


def _maintained(text: str) -> Iterator[tuple[str, int, int, str, str, bool, str]]:
    """(kind, start, end, value, shown, severe, plugin) for each detect-secrets hit in `text`. Each plugin's
    own patterns run over the whole text at once (fast); `analyze_line` is not called, since it may
    verify a key with its provider over the network."""
    for plugin in _plugins():
        for start, end in _spans(plugin, text):
            value = text[start:end]
            since = max(0, start - _LONG_LINE)  # the statement before it, within a bounded look-back
            statement = text[max(text.rfind("\n", since, start), text.rfind(";", since, start), since - 1) + 1 : end]
            judged = None if _filtered(plugin, value, statement) else _judged(plugin, value)
            if judged is not None:
                kind, severe = judged
                yield kind, start, end, value, _shown_maintained(value), severe, type(plugin).__name__


def _spans(plugin: BasePlugin, text: str) -> Iterator[tuple[int, int]]:
    """Where `plugin` finds a candidate in `text`: its quoted strings (entropy), its keyword assignments
    (statement by statement, as it reads lines), or its patterns' matches."""
    if isinstance(plugin, HighEntropyStringsPlugin):
        shortest = 2**plugin.entropy_limit  # a string of n characters has at most log2(n) bits each
        yield from (m.span(2) for m in plugin.regex.finditer(text) if m.end(2) - m.start(2) > shortest)
    elif isinstance(plugin, KeywordDetector):
        for offset, segment in _segments(text):
            if _KEYWORD_HINT.search(segment):
                for value in plugin.analyze_string(segment):
                    at = segment.find(value)
                    if at >= 0:
                        yield offset + at, offset + at + len(value)
    elif isinstance(plugin, RegexBasedDetector):
        for regex in plugin.denylist:
            for m in regex.finditer(text):
                if not isinstance(plugin, JwtTokenDetector) or plugin.is_formally_valid(m.group(0)):
                    yield _secret_span(m)


def _secret_span(match: re.Match[str]) -> tuple[int, int]:
    """The secret in a plugin's match: its last group when that is the value (an AWS secret after its
    name, a URL's password), else the whole match (a group that only picks a prefix, as `(ghp|gho)_...`)."""
    groups = [i for i in range(1, (match.re.groups or 0) + 1) if match.group(i)]
    if groups and len(match.group(groups[-1])) >= 8:
        return match.span(groups[-1])
    return match.span()
