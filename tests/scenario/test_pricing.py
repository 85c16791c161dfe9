"""Price table: the shipped table loads with a date; scenario overrides are validated in one line."""

from __future__ import annotations

import re

import pytest

from harness.scenario.pricing import Price, PriceError, PriceTable, load_prices


def test_shipped_table_loads_with_a_date_and_common_models() -> None:
    table = load_prices()
    assert isinstance(table, PriceTable)
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", table.date)
    assert table.date == "2026-11-01"
    assert "checked" in table.source
    for model in (
        "gpt-4o",
        "gpt-4o-mini",
        "gpt-4.1",
        "gpt-4.1-mini",
        "o3-mini",
        "claude-3-5-sonnet",
        "claude-3-5-haiku",
    ):
        price = table.get(model)
        assert price.model == model
        assert price.input > 0 and price.output > 0
        # a cache read never costs more than uncached input
        assert 0 <= price.cached_input <= price.input
    assert table.overridden == ()


def test_get_is_case_insensitive() -> None:
    assert load_prices().get("GPT-4o").model == "gpt-4o"


def test_unknown_model_names_known_models() -> None:
    table = load_prices()
    with pytest.raises(ValueError) as err:
        table.get("gpt-99")
    message = str(err.value)
    assert "'gpt-99'" in message and "2026-11-01" in message
    assert "gpt-4o-mini" in message and "claude-3-5-haiku" in message
    assert message.endswith(
        '; set [spend] model to one of them, or add [spend.prices."gpt-99"] with input, '
        "cached_input and output (USD per million tokens)"
    )  # the scenario's tables
    assert "\n" not in message
    assert "gpt-99" not in table


def test_override_changes_only_given_fields() -> None:
    table = load_prices(overrides={"gpt-4o": {"output": 12}})
    price = table.get("gpt-4o")
    shipped = load_prices().get("gpt-4o")
    assert price == Price(model="gpt-4o", input=shipped.input, cached_input=shipped.cached_input, output=12.0)
    assert table.overridden == ("gpt-4o",)


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


def test_explicit_table_path(tmp_path) -> None:
    path = tmp_path / "p.toml"
    path.write_text('date = "2025-01-01"\nsource = "test"\n[models.m]\ninput = 1\ncached_input = 0.5\noutput = 2\n')
    table = load_prices(path)
    assert table.date == "2025-01-01" and table.models == ["m"]
    path.write_text('source = "no date"\n[models.m]\ninput = 1\ncached_input = 0.5\noutput = 2\n')
    with pytest.raises(PriceError, match="date"):
        load_prices(path)
    with pytest.raises(PriceError, match="cannot read"):
        load_prices(tmp_path / "missing.toml")
