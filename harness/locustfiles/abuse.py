"""Abuse traffic: the scenario"s attacks, the bypass matrix and the denial-of-wallet probe.

A Locust entry point (the user classes live in harness.load.attacks; importing them registers the
harness's recording plugin):  locust -f locustfiles/abuse.py --headless --host URL [--scenario FILE]
"""

from harness.load.attacks import (
    AdminProbe,
    BruteForce,
    ChatFlood,
    ChatFloodManyAccounts,
    CredentialStuffing,
    LeadSpam,
    LimitProbe,
    PasswordSpraying,
    ResetFlood,
    ResetFloodMany,
    WalletProbe,
    WebhookFlood,
    WebhookForged,
    WebhookReplay,
    WebhookStale,
)

__all__ = [
    "CredentialStuffing",
    "PasswordSpraying",
    "BruteForce",
    "ChatFlood",
    "ChatFloodManyAccounts",
    "ResetFlood",
    "ResetFloodMany",
    "WebhookForged",
    "WebhookStale",
    "WebhookReplay",
    "WebhookFlood",
    "AdminProbe",
    "LeadSpam",
    "LimitProbe",
    "WalletProbe",
]
