"""The embedded demo chatbot API: a believable coaching-assistant product to point load tests at.

`create_app` builds it, `serve` runs it in this process, `start_target` runs it in a child process.
"""

from harness.demo_api.config import DEFAULT_LIMITS, ROUTE_NAMES, LimitRule, TargetConfig

__all__ = ["DEFAULT_LIMITS", "ROUTE_NAMES", "LimitRule", "TargetConfig"]
