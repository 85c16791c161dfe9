"""The tokenizer vocabulary loads in a native thread (harness.load.vocabulary): the event loop goes on
meanwhile, and a greenlet about to count tokens waits for it; a worker `harness run` started loads it
before it connects."""

from __future__ import annotations

from collections.abc import Iterator

import gevent
import pytest
import tiktoken.registry

from harness.lifeline import VOCABULARY_MODEL_ENV
from harness.load import vocabulary
from harness.protocol.tokens import counter_for_model, encoding

MODEL = "gpt-4o-mini"


@pytest.fixture
def unloaded() -> Iterator[str]:
    """The model's encoding taken out of tiktoken's cache, the harness's and this module's loads; put back
    after."""
    name = counter_for_model(MODEL).encoding
    kept = tiktoken.registry.ENCODINGS.pop(name, None)
    encoding.cache_clear()
    loads, vocabulary._loads = vocabulary._loads, {}
    before, vocabulary._before_connecting = vocabulary._before_connecting, []
    yield name
    vocabulary._loads, vocabulary._before_connecting = loads, before
    if kept is not None:
        tiktoken.registry.ENCODINGS.setdefault(name, kept)


def test_the_loop_runs_while_the_vocabulary_loads_and_a_counter_waits_for_it(unloaded: str) -> None:
    ticks = 0

    def tick() -> None:
        nonlocal ticks
        while unloaded not in tiktoken.registry.ENCODINGS:
            ticks += 1
            gevent.sleep(0.001)

    ticker = gevent.spawn(tick)
    vocabulary.start_loading(MODEL)
    assert not vocabulary._loads[MODEL].ready()  # the caller (a test_start listener) goes on at once
    vocabulary.wait_until_loaded(MODEL)
    assert unloaded in tiktoken.registry.ENCODINGS
    ticker.join(timeout=5)
    assert ticks > 0  # another greenlet ran while it loaded
    assert counter_for_model(MODEL).count("hello world") == 2


def test_a_model_is_loaded_once_and_one_never_started_is_not_waited_for(unloaded: str) -> None:
    vocabulary.start_loading(MODEL)
    first = vocabulary._loads[MODEL]
    vocabulary.start_loading(MODEL)
    assert vocabulary._loads[MODEL] is first and len(vocabulary._loads) == 1
    vocabulary.wait_until_loaded("a-model-never-started")  # returns at once: nothing to wait for
    vocabulary.wait_until_loaded(MODEL)
    assert unloaded in tiktoken.registry.ENCODINGS


def test_a_worker_started_by_harness_run_loads_its_models_vocabulary_before_connecting(
    unloaded: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(VOCABULARY_MODEL_ENV, MODEL)
    vocabulary.load_before_connecting()  # what the plugin does as it is imported
    assert unloaded in tiktoken.registry.ENCODINGS and vocabulary._loads[MODEL].ready()
    assert vocabulary.loaded_before_connecting().startswith(f"{unloaded} for {MODEL} in ")  # the worker's log
    vocabulary.start_loading(MODEL)  # the plan names the same model: nothing more to load
    assert vocabulary._loads[MODEL].ready()


def test_without_a_model_in_its_environment_a_worker_loads_nothing_before_the_plan(
    unloaded: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(VOCABULARY_MODEL_ENV, raising=False)
    vocabulary.load_before_connecting()
    assert vocabulary._loads == {} and unloaded not in tiktoken.registry.ENCODINGS
    assert vocabulary.loaded_before_connecting() == ""
