"""What a route is for, what to call it and what to send, guessed from what an importer sees.

Both importers (an OpenAPI document, a browser recording) know a route by its method, its path and
maybe an operationId; these guesses are theirs in common. Every guess comes with the reason a person
reads in the draft's `# review:` comment, so a wrong one is easy to spot and fix.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = [
    "guess_kind",
    "route_name",
    "unique_name",
    "words",
    "id_placeholder",
    "field_placeholder",
    "is_secret_field",
    "singular",
    "body_template",
    "REDACTED",
]

REDACTED = "REDACTED"  # what a secret field of a body holds in a draft: never the recorded or example value

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_NOT_WORD = re.compile(r"[^A-Za-z0-9]+")

_HEALTH = {"health", "healthz", "healthcheck", "ready", "readyz", "readiness", "live", "livez", "liveness", "ping"}
_LOGIN = {"login", "signin", "token", "tokens", "session", "sessions", "authenticate"}
_LOGOUT = {"logout", "signout"}
_PASSWORD = {"password", "passwords", "passwd", "pwd"}
_RESET = {"reset", "forgot", "recover", "recovery"}
_CONFIRM = {"confirm", "complete", "verify", "change", "update"}
_WEBHOOK = {"webhook", "webhooks", "hook", "hooks"}
_CHAT = {"chat", "chats", "completion", "completions", "messages", "responses"}
_LEAD = {"lead", "leads", "contact"}


def words(text: str) -> list[str]:
    """Lower-case words of a path or an operationId: `findPetById` and `/pets/{id}` alike.

    Pairs a person writes apart are joined (`sign_in`, `log-out`), so `signin` is one word to match."""
    found = [w.lower() for part in _NOT_WORD.split(text) for w in _CAMEL.split(part) if w]
    joined: list[str] = []
    for word in found:
        if joined and joined[-1] in ("sign", "log") and word in ("in", "on", "out"):
            joined[-1] += "in" if word in ("in", "on") else "out"
        else:
            joined.append(word)
    return joined


def guess_kind(method: str, path: str, operation_id: str = "", *, lists: bool = False) -> tuple[str, str]:
    """(kind, why) for a route: the words of its path and operationId, then its method.

    `lists`: the route is known to answer an array (a schema, a recorded answer). A guess never makes
    a route that changes data into one the shipped journeys and attacks call on their own: an admin
    route that is not a GET is a write or a delete, a password-reset confirmation is a write."""
    segments = [s for s in path.split("?")[0].split("/") if s and not s.startswith("{")]
    seg_words = {w for s in segments for w in words(s)}
    all_words = seg_words | set(words(operation_id))
    reading = method in ("GET", "HEAD")
    where = f"{method} {path}" + (f" ({operation_id})" if operation_id else "")
    if reading and all_words & _HEALTH:
        return "health", f"{where}: a health, readiness or liveness check"
    if not reading and all_words & _LOGOUT:
        return "logout", f"{where}: ends a session"
    if all_words & _PASSWORD and all_words & _RESET:
        if all_words & _CONFIRM:
            return "write", f"{where}: completes a password reset (changes a password: never called unless named)"
        if not reading:
            return "reset", f"{where}: starts a password reset"
    if not reading and all_words & _LOGIN and "refresh" not in all_words:
        return "login", f"{where}: trades credentials for a session"
    if not reading and seg_words & _WEBHOOK:
        return "webhook", f"{where}: receives deliveries from a provider"
    if method == "POST" and (seg_words & _CHAT or set(words(operation_id)) & {"chat", "completion", "completions"}):
        return "chat", f"{where}: sends messages to a model"
    if "admin" in seg_words:
        if reading:
            return "admin", f"{where}: under /admin"
        kind = "delete" if method == "DELETE" else "write"
        return kind, f"{where}: an admin route that changes data (kind admin is probed as anonymous and as a user)"
    if method == "POST" and seg_words & _LEAD:
        return "lead", f"{where}: a public form"
    if reading:
        last = path.split("?")[0].rstrip("/").rsplit("/", 1)[-1]
        if last.startswith("{"):
            return "read", f"{where}: GET of one item (a path id)"
        if lists:
            return "list", f"{where}: GET on a collection that answers an array"
        return "read", f"{where}: GET that answers one thing (make it list if it answers items with ids)"
    if method == "DELETE":
        return "delete", f"{where}: deletes data"
    if method in ("POST", "PUT", "PATCH"):
        return "write", f"{where}: creates or changes data"
    return "other", f"{where}: called only by journeys that name it"


def route_name(text: str) -> str:
    """A route name from an operationId or `method path`: snake_case words, a bare TOML key."""
    name = "_".join(words(text))[:60].strip("_")
    if not name:
        return "route"
    return f"r_{name}" if name[0].isdigit() else name


def unique_name(name: str, taken: set[str]) -> str:
    """`name`, or `name_2`, `name_3`... when an earlier route has it; added to `taken`."""
    candidate, n = name, 1
    while candidate in taken:
        n += 1
        candidate = f"{name}_{n}"
    taken.add(candidate)
    return candidate


def singular(word: str) -> str:
    """`pets` -> `pet`, `entries` -> `entry`: good enough for naming an id after its collection."""
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("sses", "xes", "ches", "shes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith("ss") and len(word) > 2:
        return word[:-1]
    return word


def id_placeholder(param: str, collection: str) -> str:
    """The {NAME_id} placeholder for a path parameter (`petId` -> pet_id, `id` under /pets -> pet_id).

    One word before `_id`: the audit takes `{id}` and `{WORD_id}` as object ids to swap between users."""
    found = words(param)
    if found and found[-1] in ("id", "uuid", "key") and len(found) > 1:
        found = found[:-1]
    elif found in ([], ["id"], ["uuid"]):
        found = words(singular(collection)) if collection else []
    stem = "".join(found)
    return f"{{{stem}_id}}" if stem else "{id}"


# field name -> placeholder the harness fills; the name is matched without case, `_` or `-`.
_FIELD_PLACEHOLDERS = {
    "email": "{email}",
    "emailaddress": "{email}",
    "username": "{username}",
    "login": "{username}",
    "password": "{password}",
    "passwd": "{password}",
    "apikey": "{api_key}",
}
_CHAT_FIELDS = {"messages": "{messages}", "message": "{message}", "prompt": "{message}", "input": "{message}"}
_CHAT_TEXT_FIELDS = {"content", "text", "query", "question"}
_LEAD_FIELDS = {"email": "{lead_email}", "name": "{name}", "message": "{message}", "tenant": "{tenant}"}
_SECRET_WORDS = {
    "password",
    "passwd",
    "passphrase",
    "secret",
    "token",
    "apikey",
    "authorization",
    "cookie",
    "otp",
    "cvv",
    "cvc",
}
_SECRET_NAMES = {"key", "sid", "session", "code", "pin", "auth", "signature", "sig", "apikey", "accesskey"}


def _squash(field: str) -> str:
    return re.sub(r"[^a-z0-9]", "", field.lower())


def field_placeholder(field: str, kind: str, value: Any = None) -> str | None:
    """The placeholder a body field takes on a route of `kind` (an e-mail, a password, the chat
    history...), or None when the field keeps a drafted value."""
    key = _squash(field)
    if kind == "lead" and key in _LEAD_FIELDS:
        return _LEAD_FIELDS[key]
    if kind == "chat":
        if key in _CHAT_FIELDS and (key != "messages" or not isinstance(value, str)):
            return _CHAT_FIELDS[key]
        if key in _CHAT_TEXT_FIELDS and (value is None or isinstance(value, str)):
            return "{message}"
    if key == "login" and kind != "login":
        return None
    return _FIELD_PLACEHOLDERS.get(key)


def is_secret_field(field: str) -> bool:
    """A body, query or header field whose recorded value is a credential and must never be copied:
    one named for a token, a key, a cookie... (`access_token`, `X-Api-Key`), or a password anywhere in
    its name; not a count of tokens (`max_tokens`, `token_count`)."""
    found = words(field)
    if not found:
        return False
    if found[-1] in _SECRET_WORDS or set(found) & {"password", "passwd", "passphrase", "secret"}:
        return True
    if "".join(found) in _SECRET_NAMES:
        return True
    return found[-1] == "key" and bool(set(found[:-1]) & {"api", "access", "private", "secret", "client", "auth"})


def body_template(value: Any, kind: str) -> tuple[Any, list[str]]:
    """A body with the fields the harness fills made placeholders (an e-mail, a password, the chat
    history...) and every other secret field REDACTED; and the review lines that say which.

    `value` is already `literal` (no `{word}` of its own), so every placeholder here is meant."""
    notes: list[str] = []

    def walk(item: Any, where: str) -> Any:
        if isinstance(item, dict):
            out = {}
            for key, sub in item.items():
                at = f"{where}.{key}"
                placeholder = field_placeholder(key, kind, sub)
                fills = not isinstance(sub, (dict, list)) or (placeholder == "{messages}" and isinstance(sub, list))
                if placeholder is not None and fills:
                    out[key] = placeholder
                elif is_secret_field(key) and not isinstance(sub, (dict, list, bool)):
                    out[key] = REDACTED
                    notes.append(f"{at} is a secret: fill it in (an environment variable or a value from an answer)")
                else:
                    out[key] = walk(sub, at)
            return out
        if isinstance(item, list):
            return [walk(sub, f"{where}[{i}]") for i, sub in enumerate(item)]
        return item

    return walk(value, "body"), notes
