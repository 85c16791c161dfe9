"""The host under test as the user gave it: checked, and with any credentials taken out of it.

Staging servers often sit behind HTTP basic auth, and the natural way to say so is
`--host https://user:pass@staging.example.com`. The URL itself is printed, stored in run.json and
the reports, and passed to the Locust master on its command line, so the credentials are split off
here, once, and travel apart: the URL everywhere, the credentials only in memory (to the master in
its environment, to the workers in the run plan) and on the wire as an `Authorization` header.
"""

from __future__ import annotations

import base64
import ipaddress
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit, urlunsplit

from harness.errors import UsageError

__all__ = ["Host", "HostError", "parse_host", "is_loopback", "basic_auth_header", "HOST_AUTH_ENV"]

HOST_AUTH_ENV = "HARNESS_HOST_AUTH"  # "user:password" for the master, never on its command line


class HostError(UsageError):
    """A host that is not an http(s) URL; `str(error)` is the one-line message."""


@dataclass(frozen=True)
class Host:
    url: str  # scheme://host[:port][/path], without user or password
    auth: str | None = None  # "user:password" from the URL, for basic auth

    def __repr__(self) -> str:  # never the password, in any log line
        return f"Host({self.url!r}{', with basic auth' if self.auth else ''})"


def parse_host(text: str, where: str = "--host") -> Host:
    """`http(s)://[user:pass@]host[:port][/path]` → Host; HostError naming `where` otherwise."""
    try:
        parts = urlsplit(text.strip())
        port = parts.port  # a port that is not a number raises here
    except ValueError:
        raise HostError(f"{where}: expected a URL like http://127.0.0.1:8000, got {_shown(text)}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise HostError(f"{where}: expected an http:// or https:// URL like http://127.0.0.1:8000, got {_shown(text)}")
    netloc = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    if port is not None:
        netloc += f":{port}"
    auth = None
    if parts.username is not None or parts.password is not None:
        auth = f"{unquote(parts.username or '')}:{unquote(parts.password or '')}"
    return Host(urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), parts.query, "")), auth)


def is_loopback(url: str) -> bool:
    """Is this URL's host on this machine's loopback (127.0.0.0/8, ::1, localhost)?"""
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def basic_auth_header(auth: str) -> str:
    """The `Authorization` value for "user:password"."""
    return "Basic " + base64.b64encode(auth.encode()).decode()


def _shown(text: str) -> str:
    """The URL as it may be printed: a password in it is masked."""
    try:
        parts = urlsplit(text)
        if parts.password:
            return repr(text.replace(f":{parts.password}@", ":***@", 1))
    except ValueError:
        pass
    return repr(text)
