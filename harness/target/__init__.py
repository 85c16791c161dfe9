"""The embedded demo chatbot API: a believable coaching-assistant product to point load tests at.

`create_app` builds it, `serve` runs it in this process, `start_target` runs it in a child process.
"""

from harness.target.config import ROUTE_NAMES, TargetConfig

__all__ = ["ROUTE_NAMES", "TargetConfig"]
