"""The bypass techniques' request changes: the headers that claim another client, the path spellings.

Kept apart from the probe runner (which needs Locust) so that the analysis and tests can use them.
"""

from __future__ import annotations

import random

__all__ = ["IP_HEADERS", "IDENTITY_KEYS", "path_variants", "spoofed_ip"]

IP_HEADERS = ("X-Forwarded-For", "X-Real-IP", "True-Client-IP", "CF-Connecting-IP", "Forwarded")
IDENTITY_KEYS = {"login": "account", "reset": "email"}  # kinds of route whose identity is in the body


def path_variants(path: str) -> dict[str, str]:
    """Spellings of one path that a normalising router may send to the same handler.

    The encoded variant encodes the last slash (%2F): HTTP clients normalise an encoded unreserved
    character such as %74 back to "t" before sending, and a leading "//" is not a valid request
    target, so these are the spellings that reach a server as written.
    """
    head, _, last = path.rstrip("/").rpartition("/")
    return {
        "trailing-slash": path.rstrip("/") + "/",
        "upper-case": path.upper(),
        "double-slash": "/" + path.lstrip("/").replace("/", "//"),
        "percent-encoded": f"{head}%2F{last}" if head else path,
    }


def spoofed_ip() -> str:
    return f"203.0.113.{random.randint(1, 254)}"  # TEST-NET-3: a documentation range, only ever a header value
