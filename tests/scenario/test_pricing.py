"""Prices: genai-prices' list prices under the scenario's overrides; every error in one line."""

from __future__ import annotations

from importlib.metadata import version

import pytest
from genai_prices import Usage, calc_price

from harness.scenario.pricing import Price, PriceError, load_prices


@pytest.mark.parametrize(
    "model",
    ["gpt-4o", "gpt-4o-mini", "gpt-4.1", "o3-mini", "claude-sonnet-4-5", "claude-3-5-haiku", "gemini-2.5-flash"],
)
def test_a_models_price_is_the_packages_own(model: str) -> None:
    """Per million tokens, exactly what genai-prices' own data charges for a million tokens (at the first
    tier: a million tokens in one prompt would be a long-context price at some providers)."""
    price = load_prices().get(model)
    per_token = {
        "input": calc_price(Usage(input_tokens=100), model).input_price / 100,
        "cached_input": calc_price(Usage(input_tokens=100, cache_read_tokens=100), model).input_price / 100,
        "output": calc_price(Usage(output_tokens=100), model).output_price / 100,
    }
    assert price.model == model
    for key, value in per_token.items():
        assert getattr(price, key) == pytest.approx(float(value) * 1_000_000, rel=1e-12), key
    assert 0 <= price.cached_input <= price.input < price.output  # a cache read never costs more


def test_known_list_prices_and_the_tables_name() -> None:
    table = load_prices()
    assert table.get("gpt-4o-mini") == Price("gpt-4o-mini", input=0.15, cached_input=0.075, output=0.60)
    assert table.get("gpt-4o") == Price("gpt-4o", input=2.50, cached_input=1.25, output=10.00)
    assert table.date == f"genai-prices {version('genai-prices')}" and "genai-prices" in table.source
    assert table.overridden == ()


def test_unknown_model_is_one_line_naming_the_table_and_the_fix() -> None:
    table = load_prices()
    with pytest.raises(PriceError) as err:
        table.get("gpt-99-turbo-nonexistent")
    message = str(err.value)
    assert message.startswith(f"unknown model 'gpt-99-turbo-nonexistent': {table.date} has no price for it")
    assert message.endswith(
        "; set [spend] model to a model a provider lists (gpt-4o-mini, claude-sonnet-4-5, gemini-2.5-flash, ...), "
        'or add [spend.prices."gpt-99-turbo-nonexistent"] with input, cached_input and output (USD per million tokens)'
    )
    assert "\n" not in message and "gpt-99-turbo-nonexistent" not in table


def test_the_scenarios_override_wins_field_by_field() -> None:
    table = load_prices(overrides={"gpt-4o": {"output": 12}})
    listed = load_prices().get("gpt-4o")
    assert table.get("gpt-4o") == Price("gpt-4o", input=listed.input, cached_input=listed.cached_input, output=12.0)
    assert table.get("GPT-4o").output == 12.0  # the scenario's name, whatever its case
    assert table.overridden == ("gpt-4o",) and table.date == load_prices().date


def test_override_adds_a_new_model_with_cached_defaulting_to_input() -> None:
    table = load_prices(overrides={"my-finetune": {"input": 3, "output": 6}})
    assert table.get("my-finetune") == Price(model="my-finetune", input=3.0, cached_input=3.0, output=6.0)
    table = load_prices(overrides={"my-finetune": {"input": 3, "cached_input": 1, "output": 6}})
    assert table.get("my-finetune").cached_input == 1.0


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"gpt-4o": {"output": "x"}}, "spend.prices.gpt-4o.output: expected a non-negative number, got 'x'"),
        ({"gpt-4o": {"input": -1}}, "spend.prices.gpt-4o.input: expected a non-negative number, got -1"),
        (
            {"gpt-4o": {"cached_input": True}},
            "spend.prices.gpt-4o.cached_input: expected a non-negative number, got True",
        ),
        (
            {"gpt-4o": {"outptu": 1}},
            "spend.prices.gpt-4o.outptu: unknown field (expected one of: input, cached_input, output)",
        ),
        ({"gpt-4o": 5}, "spend.prices.gpt-4o: expected a table with input, cached_input, output, got 5"),
        ({"new-model": {"input": 1}}, "spend.prices.new-model.output: missing"),
        ([1, 2], "spend.prices: expected a table of models"),
    ],
)
def test_bad_overrides_fail_in_one_line_naming_the_field(overrides: object, message: str) -> None:
    with pytest.raises(ValueError) as err:
        load_prices(overrides=overrides)  # type: ignore[arg-type]
    assert str(err.value).startswith(message)
    assert "\n" not in str(err.value)
