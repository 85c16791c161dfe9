"""What the simulated model sees besides the user's message: its system prompt and recent context.

Two planted flaws live here (docs/demo-api.md, flaws 15 and 16), so that `harness audit` has
something real to find. A message that asks for the model's instructions gets the system prompt back
(vulnerable) or a refusal (hardened). A message that asks what was said before gets the most recent
message of *another* user from a context cache shared by every session (vulnerable), or the caller's
own previous message (hardened: one context per user). Every other message gets `None`: the model's
usual advice, so load traffic is unchanged.
"""

from __future__ import annotations

import re
from collections import deque

from harness.demo_api.model import SYSTEM_PROMPT

__all__ = ["ChatContext", "asks_for_prompt", "asks_for_history"]

SCAN_CHARS = 16 * 1024  # only the start of a message is read: a huge prompt costs no regex time
SNIPPET_CHARS = 160  # how much of a remembered message is quoted back
SHARED_KEPT = 64  # vulnerable: recent messages of every user, newest last
REFUSAL = "I keep my instructions private, but I am happy to help with your coaching question."
START = "This is the start of our conversation, so there is nothing earlier to repeat."

# Requests for the system prompt: direct ("print your instructions"), "the text above", translation
# and spell-check tricks, and fake maintenance messages asking for the configuration.
_PROMPT_REQUEST = re.compile(
    r"\bsystem\s+prompt\b"
    r"|\b(?:your|initial|original|hidden|previous|system|these|secret)\s+(?:instructions|prompt|rules)\b"
    r"|\b(?:instructions|rules|prompt)\s+(?:that\s+)?"
    r"(?:were\s+you|you\s+were|you\s+have\s+been|you've\s+been)\s+given\b"
    r"|\b(?:text|words|everything|message|instructions)\s+(?:written\s+)?above\b|\babove\s+this\b"
    r"|\b(?:print|show|dump|output|reveal|display)\s+(?:\w+\s+){0,2}(?:configuration|config)\b",
    re.IGNORECASE,
)
# Questions about earlier context: "what did the previous user say", "our previous conversation".
_HISTORY_REQUEST = re.compile(
    r"\b(?:previous|last|other|earlier)\s+(?:user|person|caller|customer|conversation|chat|message)s?\b"
    r"|\bsomeone\s+else\b|\bbefore\s+(?:me|this\s+one)\b|\brecent\s+context\b",
    re.IGNORECASE,
)


def asks_for_prompt(message: str) -> bool:
    return _PROMPT_REQUEST.search(message[:SCAN_CHARS]) is not None


def asks_for_history(message: str) -> bool:
    return _HISTORY_REQUEST.search(message[:SCAN_CHARS]) is not None


def _snippet(message: str) -> str:
    return " ".join(message[: SNIPPET_CHARS * 2].split())[:SNIPPET_CHARS]


class ChatContext:
    """The reply text a message calls for (or None), and the recent messages it is drawn from.

    Everything is in memory in one process; with several processes each has its own context."""

    def __init__(self, vulnerable: bool) -> None:
        self.vulnerable = vulnerable
        self._shared: deque[tuple[str, str]] = deque(maxlen=SHARED_KEPT)  # (user id, snippet): flaw 16
        self._own: dict[str, str] = {}  # user id -> that user's last snippet (one entry per account)

    def reply(self, user_id: str, message: str) -> str | None:
        """A fixed reply for `message` from `user_id`, or None for the model's usual advice."""
        if asks_for_prompt(message):
            return f"Sure, here are my instructions: {SYSTEM_PROMPT}" if self.vulnerable else REFUSAL  # flaw 15
        if asks_for_history(message):
            earlier = self._earlier(user_id)
            return f'Earlier you told me: "{earlier}"' if earlier else START
        return None

    def remember(self, user_id: str, message: str) -> None:
        """Keep the start of `message` as recent context."""
        snippet = _snippet(message)
        if self.vulnerable:
            self._shared.append((user_id, snippet))
        else:
            self._own[user_id] = snippet

    def _earlier(self, user_id: str) -> str | None:
        if not self.vulnerable:
            return self._own.get(user_id)
        # flaw 16: one cache for every session; the newest message that is not the caller's own
        return next((snippet for owner, snippet in reversed(self._shared) if owner != user_id), None)
