"""The demo API's handlers: a coaching assistant product with accounts, conversations, a chat
endpoint that streams like OpenAI (and, at /api/chat/{format}, like other providers), a public lead
form, and a webhook that verifies Stripe signatures (or, by `webhook_scheme`, GitHub's, Standard
Webhooks' or Slack's).

All state lives in memory in one process and one event loop, so no locks are needed. With several
processes, only the signing key (and, hardened, webhook event ids) is shared; accounts, reset tokens,
logouts and conversations are each process's own, and `/__demo__/stats` merges every process's figures.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import secrets
import time
from collections import OrderedDict, deque
from collections.abc import AsyncIterator
from typing import Any, Protocol

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from harness.demo_api.auth import TokenService
from harness.demo_api.config import TargetConfig
from harness.demo_api.context import ChatContext
from harness.demo_api.data import OAUTH_CLIENT_ID, Conversation, Message, User, build_dataset, hash_password
from harness.demo_api.debug import read_object_unguarded
from harness.demo_api.formats import FORMATS, Reply, prompt_messages, stream_reply
from harness.demo_api.model import SimulatedModel, requested_tokens, sleep_until
from harness.demo_api.outbox import Outbox
from harness.demo_api.sessions import Sessions, parse_form
from harness.demo_api.sse import completion_object, stream_events
from harness.demo_api.stats import SharedStats, Stats
from harness.demo_api.web import FORM_BODY_LIMIT, ApiError, OpenAIError, read_body, read_object
from harness.protocol.signing import PRESETS, SignatureError

__all__ = ["DemoApi", "STARTED_KEY"]

STARTED_KEY = "harness.started"  # scope key: perf_counter time the request counts as started
DEFAULT_MODEL = "coachpilot-1"
CHAT_BODY_LIMIT = 1024 * 1024
VULNERABLE_CHAT_BODY_LIMIT = 16 * 1024 * 1024  # flaw 8: takes whatever a probe sends
MAX_MAX_TOKENS = 4096
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 200
MAX_MESSAGES_KEPT = 200
LARGE_PROMPT_CHARS = 32 * 1024  # tokenise bigger prompts off the event loop
MESSAGE_ROLES = {"system", "developer", "user", "assistant", "tool"}
EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]+\.[^@\s]+")
_DUMMY_SALT = bytes(16)
_NO_TOLERANCE = 10**12  # seconds: any timestamp passes
ROLE_HEADERS = ("x-user-role", "x-role")  # what the vulnerable admin check believes


class EventLog(Protocol):
    def add(self, event_id: str) -> bool:
        """Record `event_id`; False when it was already there."""
        ...


class _SeenEvents:
    """Webhook event ids already processed, forgetting the oldest beyond `capacity`."""

    def __init__(self, capacity: int = 100_000) -> None:
        self.capacity = capacity
        self._ids: OrderedDict[str, None] = OrderedDict()

    def add(self, event_id: str) -> bool:
        """Record `event_id`; False when it was already there."""
        if event_id in self._ids:
            return False
        self._ids[event_id] = None
        if len(self._ids) > self.capacity:
            self._ids.popitem(last=False)
        return True


def _measure_prompt(messages: list[tuple[str, str]]) -> tuple[int, int | None]:
    """Tokens of the message contents, and the reply length the last user message asks for (or None)."""
    last_user = next((content for role, content in reversed(messages) if role == "user"), "")
    return SimulatedModel.content_tokens(content for _, content in messages), requested_tokens(last_user)


class DemoApi:
    def __init__(
        self,
        config: TargetConfig,
        token_key: bytes | None = None,
        processes: int = 1,
        events: EventLog | None = None,
        stats_dir: str | None = None,
    ) -> None:
        self.config = config
        self.vulnerable = config.profile == "vulnerable"
        self.data = build_dataset(config.seed, config.tenants, config.clients_per_tenant)
        self.tokens = TokenService(config.token_ttl_s, key=token_key)
        self.sessions = Sessions(config, self.tokens, self.data)
        self.model = SimulatedModel(config.seed, config.ttft, config.token_delay, config.output_tokens)
        self.context = ChatContext(self.vulnerable)  # prompt requests and recent context (flaws 15, 16)
        self.outbox = Outbox()
        self.stats = Stats(processes)
        # With several processes: publishes this one's figures and merges everybody's (the app starts it).
        self.shared_stats = SharedStats(self.stats, stats_dir) if stats_dir is not None else None
        self.lead_inbox: deque[dict[str, Any]] = deque(maxlen=10_000)
        self.webhook_events: EventLog = events if events is not None else _SeenEvents()
        self.webhook_counts: dict[str, int] = {}
        self.webhook_scheme = PRESETS[config.webhook_scheme]
        self._completion_ids = random.Random(f"{config.seed}:completion-ids")
        self._by_tenant: dict[str, list[Conversation]] = {}
        for conversation in self.data.conversations:
            self._by_tenant.setdefault(conversation.tenant_id, []).append(conversation)

    # -- helpers ---------------------------------------------------------------------------------

    def authenticate(self, request: Request) -> tuple[User, dict[str, Any]]:
        return self.sessions.authenticate(request)

    def visible_conversation(self, user: User, conversation_id: Any, *, any_tenant: bool = False) -> Conversation:
        """The conversation if `user` may see it, else 404. `any_tenant` (vulnerable only: flaws 10 and
        11) checks only that it exists, whoever's it is."""
        conversation = None
        if isinstance(conversation_id, str):
            conversation = self.data.conversations_by_id.get(conversation_id)
        if conversation is None or not (any_tenant or self.data.visible_to(user, conversation)):
            raise ApiError(404, "not_found")  # the same answer whether it exists elsewhere or not at all
        return conversation

    @staticmethod
    def _strings(body: dict[str, Any], *keys: str) -> list[str]:
        values = [body.get(k) for k in keys]
        for key, value in zip(keys, values):
            if not isinstance(value, str) or not value:
                raise ApiError(422, "invalid_body", f"{key}: required string")
        return values  # type: ignore[return-value]

    # -- routes ----------------------------------------------------------------------------------

    async def health(self, request: Request) -> Response:
        return Response(b'{"status":"ok"}', media_type="application/json")

    def _check_login(self, email: str, password: str) -> User | None:
        user = self.data.users_by_email.get(email.strip().lower())
        if user is None:
            hash_password(password, _DUMMY_SALT)  # same work as a real check: no timing oracle
            return None
        return user if user.check_password(password) else None

    async def login(self, request: Request) -> Response:
        if self.config.auth == "api_key":
            raise ApiError(404, "not_found", "this API takes API keys: there is no login")
        email, password = self._strings(await read_object(request), "email", "password")
        user = self._check_login(email, password)
        if user is None:
            raise ApiError(401, "invalid_credentials")
        return self.sessions.login_answer(user)

    async def register(self, request: Request) -> Response:
        """Sign-up: a new client in a new tenant of its own, 201 with its id; 409 for an address that has
        an account, 400 for anything else wrong. Like login, there is none when the API takes API keys."""
        if self.config.auth == "api_key":
            raise ApiError(404, "not_found", "this API takes API keys: there is no sign-up")
        body = await read_object(request, status=400)
        email, password, name = body.get("email"), body.get("password"), body.get("name", "")
        if not isinstance(email, str) or len(email) > 254 or not EMAIL.fullmatch(email.strip()):
            raise ApiError(400, "invalid_body", "email: not an e-mail address")
        if not isinstance(password, str) or not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
            raise ApiError(400, "weak_password", f"password: {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters")
        if not isinstance(name, str) or len(name) > 200:
            raise ApiError(400, "invalid_body", "name: optional string of at most 200 characters")
        email = email.strip().lower()
        if email in self.data.users_by_email:
            raise ApiError(409, "email_taken")
        user = self.data.sign_up(email, password, name.strip() or email.partition("@")[0])
        return JSONResponse(user.public(), status_code=201)

    async def logout(self, request: Request) -> Response:
        _, claims = self.authenticate(request)
        return self.sessions.logout_answer(claims)

    async def csrf(self, request: Request) -> Response:
        _, claims = self.authenticate(request)
        if "csrf" not in claims:
            raise ApiError(404, "not_found", "this API has no CSRF tokens ([target] csrf = true)")
        return JSONResponse({"csrf_token": claims["csrf"]})

    async def oauth_token(self, request: Request) -> Response:
        """RFC 6749 token endpoint (oauth2 only): the client_credentials and password grants."""
        if self.config.auth != "oauth2":
            raise ApiError(404, "not_found")
        form = parse_form(await read_body(request, FORM_BODY_LIMIT))
        if not self.sessions.oauth_client_ok(request, form):
            raise ApiError(401, "invalid_client", headers={"www-authenticate": "Basic"})
        grant = form.get("grant_type", "")
        if grant == "client_credentials":  # the client acts as the first client account
            user = next(u for u in self.data.users if u.role == "client")
        elif grant == "password":
            found = self._check_login(form.get("username", ""), form.get("password", ""))
            if found is None:
                raise ApiError(400, "invalid_grant")
            user = found
        else:
            raise ApiError(400, "unsupported_grant_type")
        return self.sessions.login_answer(user, {"scope": form.get("scope", "")})

    async def me(self, request: Request) -> Response:
        user, _ = self.authenticate(request)
        return JSONResponse(user.public())

    async def reset_request(self, request: Request) -> Response:
        (email,) = self._strings(await read_object(request), "email")
        token = self.outbox.new_token()  # made either way, so both answers take the same work
        user = self.data.users_by_email.get(email.strip().lower())
        if user is not None:
            self.outbox.deliver(token, user.id, user.email)
            self.stats.email()
        return JSONResponse({"status": "accepted"}, status_code=202)

    async def reset_confirm(self, request: Request) -> Response:
        token, new_password = self._strings(await read_object(request), "token", "new_password")
        if len(new_password) < MIN_PASSWORD_LENGTH:
            raise ApiError(400, "weak_password", f"at least {MIN_PASSWORD_LENGTH} characters")
        user_id = self.outbox.redeem(token)
        if user_id is None:
            raise ApiError(400, "invalid_token")
        self.data.users_by_id[user_id].set_password(new_password)
        return JSONResponse({"status": "password_updated"})

    async def conversations(self, request: Request) -> Response:
        user, _ = self.authenticate(request)
        if user.role == "admin":
            visible = self.data.conversations
        elif user.role == "coach":
            visible = self._by_tenant.get(user.tenant_id or "", [])
        else:
            visible = [c for c in self._by_tenant.get(user.tenant_id or "", []) if c.user_id == user.id]
        return JSONResponse([c.summary() for c in visible])

    async def conversation(self, request: Request) -> Response:
        user, _ = self.authenticate(request)
        # vulnerable: any existing conversation, whichever tenant's (flaw 10)
        conversation = self.visible_conversation(user, request.path_params["id"], any_tenant=self.vulnerable)
        return JSONResponse(conversation.detail())

    async def new_conversation(self, request: Request) -> Response:
        """An empty conversation of the caller's own, 201 with its id (the chat appends to it by id)."""
        user, _ = self.authenticate(request)
        title = (await read_object(request)).get("title", "New conversation")
        if not isinstance(title, str) or not 1 <= len(title.strip()) <= 200:
            raise ApiError(422, "invalid_body", "title: optional string of 1 to 200 characters")
        if user.tenant_id is None:
            raise ApiError(403, "forbidden", "the platform admin keeps no conversations")
        conversation = self.data.new_conversation(user, title.strip(), int(time.time()))
        self._by_tenant.setdefault(conversation.tenant_id, []).append(conversation)
        return JSONResponse(conversation.summary(), status_code=201)

    async def chat(self, request: Request) -> Response:
        return await self._chat(request, "")

    async def chat_format(self, request: Request) -> Response:
        """The chat in another provider's wire format (harness.demo_api.formats); it always streams."""
        fmt = request.path_params["format"]
        if fmt not in FORMATS:
            raise ApiError(404, "unknown_format", f"expected one of {', '.join(FORMATS)}")
        return await self._chat(request, fmt)

    async def _chat(self, request: Request, fmt: str) -> Response:
        """One chat turn; `fmt` "" answers as OpenAI chat completions, streamed or not."""
        started = request.scope.get(STARTED_KEY) or time.perf_counter()
        user, _ = self.authenticate(request)
        body = await self._chat_body(request)
        messages = self._format_messages(body) if fmt else self._chat_messages(body.get("messages"))
        contents = [content for _, content in messages]
        model = body.get("model", DEFAULT_MODEL)
        stream = body.get("stream", True)
        max_tokens = body.get("max_tokens")
        if not isinstance(model, str) or not model:
            raise ApiError(400, "invalid_request", "model: expected a non-empty string")
        if not isinstance(stream, bool):
            raise ApiError(400, "invalid_request", "stream: expected true or false")
        if max_tokens is not None and (
            not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or not 1 <= max_tokens <= MAX_MAX_TOKENS
        ):
            raise ApiError(400, "invalid_request", f"max_tokens: expected an integer from 1 to {MAX_MAX_TOKENS}")
        conversation = None
        if body.get("conversation_id"):  # absent, null or "" (an empty template value): a new chat
            # vulnerable: the turn is appended to any existing conversation, whichever tenant's (flaw 11)
            conversation = self.visible_conversation(user, body["conversation_id"], any_tenant=self.vulnerable)

        prompt_tokens, requested = await self._admit_prompt(messages)  # before the model plans or spends
        last_user = next((content for role, content in reversed(messages) if role == "user"), "")
        fixed = self.context.reply(user.id, last_user)  # None: the model's usual advice
        self.context.remember(user.id, last_user)
        completion = self.model.plan(self._reply_cap(max_tokens), requested, fixed)
        self.stats.spend(prompt=prompt_tokens)
        completion_id = f"chatcmpl-{self._completion_ids.getrandbits(96):024x}"
        created = int(time.time())
        n = len(completion.tokens)

        def remember() -> None:
            if conversation is not None:
                now = int(time.time())
                conversation.messages.append(Message("user", contents[-1], now))
                conversation.messages.append(Message("assistant", completion.text, now))
                del conversation.messages[:-MAX_MESSAGES_KEPT]

        if not stream and not fmt:
            await sleep_until(started + completion.due_s[-1])
            self.stats.spend(completion=n)
            remember()
            text, finish = completion.text, completion.finish_reason
            obj = completion_object(completion_id, created, model, text, finish, prompt_tokens, n, self.config.usage)
            return JSONResponse(obj)

        async def tokens() -> AsyncIterator[str]:
            async for token in self.model.stream(completion, started):
                self.stats.spend(completion=1)  # as produced: a dropped stream stops the spend
                yield token
            remember()

        headers = {"cache-control": "no-cache", "x-accel-buffering": "no"}
        if fmt:
            reply = Reply(completion_id, created, model, completion.finish_reason, prompt_tokens, n, self.config.usage)
            chunks, media_type, extra = stream_reply(fmt, reply, tokens(), request.query_params.get("alt"))
            return StreamingResponse(chunks, media_type=media_type, headers={**headers, **extra})
        events = stream_events(
            completion_id, created, model, tokens(), completion.finish_reason, prompt_tokens, n, self.config.usage
        )
        return StreamingResponse(events, media_type="text/event-stream", headers=headers)

    async def _chat_body(self, request: Request) -> dict[str, Any]:
        """The chat's JSON object: malformed is 400 (OpenAI's status), too big 413 and a refused prompt."""
        limit = VULNERABLE_CHAT_BODY_LIMIT if self.vulnerable else CHAT_BODY_LIMIT
        try:
            return await read_object(request, limit=limit, status=400)
        except ApiError as exc:
            if exc.status == 413:
                self.stats.reject_prompt()
            raise

    async def _admit_prompt(self, messages: list[tuple[str, str]]) -> tuple[int, int | None]:
        """(prompt tokens, reply length asked for), or 413 in hardened for a prompt over `max_prompt_tokens`
        (vulnerable takes any size: flaw 8). Big prompts are tokenised off the event loop."""
        if sum(len(content) for _, content in messages) > LARGE_PROMPT_CHARS:
            content_tokens, requested = await asyncio.to_thread(_measure_prompt, messages)
        else:
            content_tokens, requested = _measure_prompt(messages)
        limit = self.config.max_prompt_tokens
        if not self.vulnerable and content_tokens > limit:
            self.stats.reject_prompt()
            message = f"prompt is {content_tokens} tokens; the maximum is {limit} tokens. Shorten the messages."
            raise OpenAIError(413, "prompt_too_large", message, param="messages")
        return self.model.system_tokens + content_tokens, requested

    def _reply_cap(self, max_tokens: int | None) -> int:
        """Most tokens a reply may have. Hardened bounds replies itself (output_tokens' maximum), so a
        client can only shorten them; vulnerable lets the client choose up to 4096 (flaw 9)."""
        if self.vulnerable:
            return max_tokens or MAX_MAX_TOKENS
        server_max = self.config.output_tokens[1]
        return server_max if max_tokens is None else min(max_tokens, server_max)

    @staticmethod
    def _format_messages(body: dict[str, Any]) -> list[tuple[str, str]]:
        """(role, text) of a provider-shaped chat body (harness.demo_api.formats.prompt_messages)."""
        messages = prompt_messages(body)
        if not messages:
            raise ApiError(400, "invalid_request", "expected messages, contents, input or prompt with some text")
        return messages

    @staticmethod
    def _chat_messages(messages: Any) -> list[tuple[str, str]]:
        """(role, content) of each message, checked."""
        if not isinstance(messages, list) or not messages:
            raise ApiError(400, "invalid_request", "messages: expected a non-empty list")
        checked = []
        for i, message in enumerate(messages):
            if not isinstance(message, dict):
                raise ApiError(400, "invalid_request", f"messages[{i}]: expected an object")
            if message.get("role") not in MESSAGE_ROLES:
                raise ApiError(400, "invalid_request", f"messages[{i}].role: expected one of {sorted(MESSAGE_ROLES)}")
            if not isinstance(message.get("content"), str):
                raise ApiError(400, "invalid_request", f"messages[{i}].content: expected a string")
            checked.append((message["role"], message["content"]))
        return checked

    async def leads(self, request: Request) -> Response:
        body = await (read_object_unguarded(request) if self.vulnerable else read_object(request))  # flaw 14
        slug, name, email = self._strings(body, "tenant", "name", "email")
        message = body.get("message", "")
        if len(name) > 200:
            raise ApiError(422, "invalid_body", "name: at most 200 characters")
        if len(email) > 254 or not EMAIL.fullmatch(email):
            raise ApiError(422, "invalid_body", "email: not an e-mail address")
        if not isinstance(message, str) or len(message) > 5000:
            raise ApiError(422, "invalid_body", "message: optional string of at most 5000 characters")
        tenant = self.data.tenants_by_slug.get(slug)
        if tenant is None:
            raise ApiError(404, "unknown_tenant")
        lead_id = "lead_" + secrets.token_hex(6)
        lead = {"id": lead_id, "tenant_id": tenant.id, "name": name, "email": email, "message": message}
        self.lead_inbox.append(lead)
        return JSONResponse({"id": lead_id}, status_code=201)

    async def webhook(self, request: Request) -> Response:
        body = await read_body(request, 256 * 1024)
        # vulnerable: the signature is checked but its timestamp is not (flaw 6, with no de-duplication)
        tolerance = _NO_TOLERANCE if self.vulnerable else self.config.webhook_tolerance_s
        try:
            self.webhook_scheme.verify(self.data.webhook_secret, body, request.headers, tolerance, time.time())
        except SignatureError as exc:
            raise ApiError(400, exc.reason) from None
        try:
            event = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise ApiError(400, "invalid_json") from None
        if not isinstance(event, dict) or not isinstance(event.get("id"), str) or not event["id"]:
            raise ApiError(400, "missing_event_id")
        if not self.vulnerable and not self.webhook_events.add(event["id"]):
            self.stats.webhook(duplicate=True)
            return JSONResponse({"received": True, "duplicate": True})
        kind = str(event.get("type", "unknown"))
        self.webhook_counts[kind] = self.webhook_counts.get(kind, 0) + 1
        self.stats.webhook(duplicate=False)
        return JSONResponse({"received": True})

    async def admin_users(self, request: Request) -> Response:
        if self.vulnerable and any(request.headers.get(h, "").strip().lower() == "admin" for h in ROLE_HEADERS):
            return JSONResponse([u.public() for u in self.data.users])  # flaw 7: the client names its role
        user, _ = self.authenticate(request)
        if user.role != "admin":
            raise ApiError(403, "forbidden")
        return JSONResponse([u.public() for u in self.data.users])

    async def demo_accounts(self, request: Request) -> Response:
        return JSONResponse(
            {
                "tenants": [{"id": t.id, "slug": t.slug, "name": t.name} for t in self.data.tenants],
                "accounts": [
                    {
                        "id": u.id,
                        "email": u.email,
                        "password": u.demo_password,
                        "role": u.role,
                        "tenant_id": u.tenant_id,
                        "name": u.name,
                        **({"api_key": u.api_key} if self.config.auth == "api_key" else {}),
                    }
                    for u in self.data.users
                ],
                "webhook_secret": self.data.webhook_secret,
                "profile": self.config.profile,
                "seed": self.config.seed,
                **self._demo_credentials(),
            }
        )

    def _demo_credentials(self) -> dict[str, Any]:
        """The auth style, when not the default, and the OAuth2 client in that style (as the webhook secret)."""
        if self.config.auth == "bearer":
            return {}
        client = {"client_id": OAUTH_CLIENT_ID, "client_secret": self.data.oauth_client_secret}
        return {"auth": self.config.auth, **({"oauth_client": client} if self.config.auth == "oauth2" else {})}

    async def demo_outbox(self, request: Request) -> Response:
        email = request.query_params.get("email", "").strip().lower()
        if not email:
            raise ApiError(422, "invalid_query", "email: required")
        return JSONResponse({"email": email, "tokens": self.outbox.pending(email)})

    async def demo_stats(self, request: Request) -> Response:
        if self.shared_stats is not None:  # several processes: all of them, as last published
            return JSONResponse(self.shared_stats.merged())
        return JSONResponse(self.stats.snapshot())

    async def demo_stats_reset(self, request: Request) -> Response:
        if self.shared_stats is not None:  # this process at once, the others on their next tick
            self.shared_stats.reset_all()
            return JSONResponse(self.shared_stats.merged())
        self.stats.reset()
        return JSONResponse(self.stats.snapshot())
