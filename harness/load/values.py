"""What the harness puts in the {placeholders} of the routes it calls (harness.scenario.model.PLACEHOLDERS).

Templates are rendered strictly (harness.scenario.templates), so every caller hands over a value for
every placeholder the parser lets through: the account's, a chat message, a visitor's, and the ids it
has; the caller's own values win.
"""

from __future__ import annotations

import random
from typing import Any

from harness.scenario.accounts import Account

__all__ = ["DEFAULT_MESSAGES", "template_values"]

DEFAULT_MESSAGES = [
    "How do I price my first coaching package?",
    "Draft a follow-up e-mail for a lead who went quiet.",
    "What should I ask in a discovery call?",
    "Summarise my last session notes in three bullet points.",
    "Give me a weekly plan to get my first ten clients.",
]


def template_values(account: Account | None, tenants: list[str], **given: Any) -> dict[str, Any]:
    """Every placeholder the harness fills, for one call: `account`'s columns that have a value
    ({username}, {api_key}, an accounts file's own), its e-mail and password, a message, no conversation
    ("" until a list route gives one), a tenant and a visitor; then `given`."""
    n = random.randrange(1_000_000)
    message = given.get("message") or random.choice(DEFAULT_MESSAGES)
    return {
        **{k: v for k, v in (account.values() if account else {}).items() if v},
        "email": account.email if account else "",
        "password": account.password if account else "",
        "message": message,
        "messages": [{"role": "user", "content": message}],
        "conversation_id": "",
        "tenant": random.choice(tenants) if tenants else "",
        "name": f"Lead {n}",
        "lead_email": f"lead-{n}@example.test",
        **given,
    }
