"""The bypass techniques' request changes made at send time: the address an ip-headers attempt claims.

The plan (which techniques, the path spellings, the switched method) is harness.scenario.probeplan,
which the analysis and `validate` read too.
"""

from __future__ import annotations

import random

__all__ = ["spoofed_ip"]


def spoofed_ip() -> str:
    return f"203.0.113.{random.randint(1, 254)}"  # TEST-NET-3: a documentation range, only ever a header value
