"""[spend] and [wallet]: what the LLM's tokens cost (the prices and traffic `harness cost` assumes) and the
denial-of-wallet probe, which measures how far one caller can run up that bill.
"""

from __future__ import annotations

from typing import Any

from harness.scenario.model import SPEND_NUMBERS, Endpoint, SpendSettings, Wallet
from harness.scenario.sections.reader import Reader, show

__all__ = ["parse_spend", "parse_wallet"]


def parse_spend(r: Reader, data: dict[str, Any]) -> SpendSettings:
    t = r.table(data, "spend", "spend")
    r.unknown(t, {"model", "prices", *SPEND_NUMBERS}, "spend")
    numbers = {key: r.number(t, key, f"spend.{key}", default) for key, default in SPEND_NUMBERS.items()}
    return SpendSettings(
        model=r.get(t, "model", "spend.model", str, "gpt-4o-mini"),
        prices=r.table(t, "prices", "spend.prices"),
        numbers=numbers,
    )


def parse_wallet(r: Reader, data: dict[str, Any], endpoints: dict[str, Endpoint]) -> Wallet | None:
    if "wallet" not in data:
        return None
    t = r.table(data, "wallet", "wallet")
    r.unknown(
        t,
        {"route", "start_after", "prompt_start_tokens", "prompt_cap_tokens", "output_ask_tokens", "max_tokens_field"},
        "wallet",
    )
    llm = [n for n, ep in endpoints.items() if ep.stream != "none"]
    chats = [n for n in llm if endpoints[n].kind == "chat"]
    route = r.get(t, "route", "wallet.route", str, (chats or llm or [""])[0])
    if route not in llm:
        raise r.fail(
            "wallet.route",
            f"expected an endpoint with a stream format (an LLM route: "
            f"{', '.join(llm) or 'none in [endpoints]'}), got {show(route or None)}",
        )
    start = r.whole(t, "prompt_start_tokens", "wallet.prompt_start_tokens", 1024, minimum=1)
    cap = r.whole(t, "prompt_cap_tokens", "wallet.prompt_cap_tokens", 131_072, minimum=1)
    if cap < start or cap > 2_000_000:
        raise r.fail("wallet.prompt_cap_tokens", f"expected from prompt_start_tokens ({start}) to 2000000, got {cap}")
    return Wallet(
        route=route,
        start_after_s=r.duration(t.get("start_after", 5), "wallet.start_after"),
        prompt_start_tokens=start,
        prompt_cap_tokens=cap,
        output_ask_tokens=r.whole(t, "output_ask_tokens", "wallet.output_ask_tokens", 2000, minimum=1),
        max_tokens_field=r.get(t, "max_tokens_field", "wallet.max_tokens_field", str, "max_tokens"),
    )
