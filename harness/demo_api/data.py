"""Deterministic seed data for the demo API: coaching practices (tenants), their coach and clients,
one platform admin, and a few conversations per client; and what sign-ups and new conversations add
while it runs (random ids: not seed data).

Everything seeded is a pure function of the seed, so two demo APIs started with the same seed hand out the
same accounts. Passwords are derived from the seed and the e-mail with SHA-256, which makes them
reproducible yet not guessable from the e-mail alone (the seed is public through `/__demo__/accounts`,
which is the point: it is a demo).
"""

from __future__ import annotations

import hashlib
import hmac
import random
import secrets
from dataclasses import dataclass, field

__all__ = ["Tenant", "User", "Message", "Conversation", "Dataset", "build_dataset", "hash_password"]

PRODUCT_DOMAIN = "coachpilot.example"
WEBHOOK_SECRET_PREFIX = "whsec" + "_"
API_KEY_PREFIX = "sk-demo-"
OAUTH_CLIENT_ID = "coachpilot-demo"

_PRACTICES = [
    "Northstar Coaching",
    "Clearpath Consulting",
    "Summit Leadership",
    "Brightside Wellness",
    "Keystone Advisors",
    "Open Door Coaching",
    "Tidewater Careers",
    "Evergreen Mindset",
    "Lantern Strategy",
    "Harbor Light Coaching",
    "Fieldnote Partners",
    "Meridian Growth",
]
_FIRST = [
    "Maya",
    "Jonas",
    "Priya",
    "Lucas",
    "Amara",
    "Theo",
    "Sofia",
    "Daniel",
    "Leila",
    "Marcus",
    "Hana",
    "Oliver",
    "Zoe",
    "Rafael",
    "Ingrid",
    "Kwame",
    "Elena",
    "Tomas",
    "Aisha",
    "Felix",
    "Nora",
    "Samuel",
]
_LAST = [
    "Lindqvist",
    "Okafor",
    "Raman",
    "Moreau",
    "Brennan",
    "Castillo",
    "Novak",
    "Haddad",
    "Fischer",
    "Tanaka",
    "Osei",
    "Larsen",
    "Whitfield",
    "Silva",
    "Kowalski",
    "Duarte",
    "Ahmed",
    "Byrne",
]
_TOPICS = [
    ("Quarterly goals", "I want to set goals for the next quarter but keep overcommitting."),
    ("Pricing my offer", "How should I price a three month coaching package?"),
    ("Career change", "I am thinking about leaving my job to start consulting."),
    ("Team feedback", "My team says my feedback feels vague. How do I fix that?"),
    ("Morning routine", "I lose the first two hours of every day to email."),
    ("Finding clients", "Where do I find my first five paying clients?"),
    ("Difficult conversation", "I need to tell a partner that the project is late."),
    ("Burnout check", "I feel tired all the time and my work is slipping."),
]
_REPLIES = [
    "Let us start with one outcome that would make this quarter feel like a win.",
    "Price the result, not the hours. What change does a client see after three months?",
    "Before deciding, list what you would miss and what you would gain in the first year.",
    "Try naming the behaviour, its effect, and one thing to do differently next time.",
    "Block the first hour for your most important task and check email after it.",
]


def hash_password(password: str, salt: bytes) -> bytes:
    """Salted SHA-256. bcrypt or scrypt is what a real product should use; it is deliberately not
    used here so that a login storm measures the API and not a deliberately slow hash on 2 cores."""
    return hashlib.sha256(salt + password.encode()).digest()


def _derive(seed: int, *parts: str) -> bytes:
    return hashlib.sha256(":".join([str(seed), *parts]).encode()).digest()


def _password(seed: int, email: str) -> str:
    alphabet = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    digest = _derive(seed, "password", email)
    chars = [alphabet[b % len(alphabet)] for b in digest[:12]]
    return "-".join("".join(chars[i : i + 4]) for i in range(0, 12, 4))


def _id(prefix: str, seed: int, *parts: str) -> str:
    return prefix + "_" + _derive(seed, prefix, *parts).hex()[:12]


@dataclass
class Tenant:
    id: str
    slug: str
    name: str


@dataclass
class User:
    id: str
    email: str
    name: str
    role: str  # "admin" | "coach" | "client"
    tenant_id: str | None
    salt: bytes
    password_hash: bytes
    demo_password: str  # what /__demo__/accounts reports; kept current across password resets
    api_key: str = ""  # its static API key ([target] auth = "api_key")

    def check_password(self, password: str) -> bool:
        return hmac.compare_digest(hash_password(password, self.salt), self.password_hash)

    def set_password(self, password: str) -> None:
        self.password_hash = hash_password(password, self.salt)
        self.demo_password = password

    def public(self) -> dict[str, object]:
        return {"id": self.id, "email": self.email, "role": self.role, "tenant_id": self.tenant_id, "name": self.name}


@dataclass
class Message:
    role: str
    content: str
    created_at: int


@dataclass
class Conversation:
    id: str
    tenant_id: str
    user_id: str
    title: str
    created_at: int
    messages: list[Message] = field(default_factory=list)

    def summary(self) -> dict[str, object]:
        return {
            "id": self.id,
            "tenant_id": self.tenant_id,
            "user_id": self.user_id,
            "title": self.title,
            "created_at": self.created_at,
            "message_count": len(self.messages),
        }

    def detail(self) -> dict[str, object]:
        messages = [{"role": m.role, "content": m.content, "created_at": m.created_at} for m in self.messages]
        return {**self.summary(), "messages": messages}


@dataclass
class Dataset:
    tenants: list[Tenant]
    users: list[User]
    conversations: list[Conversation]
    webhook_secret: str
    oauth_client_secret: str = ""  # the secret of the OAuth2 client OAUTH_CLIENT_ID
    users_by_id: dict[str, User] = field(init=False)
    users_by_email: dict[str, User] = field(init=False)
    users_by_api_key: dict[str, User] = field(init=False)
    tenants_by_slug: dict[str, Tenant] = field(init=False)
    conversations_by_id: dict[str, Conversation] = field(init=False)

    def __post_init__(self) -> None:
        self.users_by_id = {u.id: u for u in self.users}
        self.users_by_email = {u.email: u for u in self.users}
        self.users_by_api_key = {u.api_key: u for u in self.users}
        self.tenants_by_slug = {t.slug: t for t in self.tenants}
        self.conversations_by_id = {c.id: c for c in self.conversations}

    def sign_up(self, email: str, password: str, name: str) -> User:
        """A new client in a new tenant of its own (a practice of one), as a self-service sign-up makes."""
        suffix = secrets.token_hex(6)
        tenant = Tenant(f"ten_{suffix}", f"signup-{suffix}", f"{name}'s practice")
        salt = secrets.token_bytes(16)
        key = API_KEY_PREFIX + secrets.token_hex(16)
        user = User(
            f"usr_{suffix}", email, name, "client", tenant.id, salt, hash_password(password, salt), password, key
        )
        self.tenants.append(tenant)
        self.tenants_by_slug[tenant.slug] = tenant
        self.users.append(user)
        self.users_by_id[user.id] = user
        self.users_by_email[user.email] = user
        self.users_by_api_key[user.api_key] = user
        return user

    def new_conversation(self, user: User, title: str, now: int) -> Conversation:
        """An empty conversation of `user`'s, in its tenant."""
        assert user.tenant_id is not None, "the platform admin keeps no conversations"
        conversation = Conversation(f"conv_{secrets.token_hex(6)}", user.tenant_id, user.id, title, now)
        self.conversations.append(conversation)
        self.conversations_by_id[conversation.id] = conversation
        return conversation

    def visible_to(self, user: User, conversation: Conversation) -> bool:
        """Tenant isolation: clients see their own, coaches their tenant's, the admin everything."""
        if user.role == "admin":
            return True
        if conversation.tenant_id != user.tenant_id:
            return False
        return user.role == "coach" or conversation.user_id == user.id


def _user(seed: int, email: str, name: str, role: str, tenant_id: str | None) -> User:
    salt = _derive(seed, "salt", email)[:16]
    password = _password(seed, email)
    key = API_KEY_PREFIX + _derive(seed, "api_key", email).hex()[:32]
    return User(
        _id("usr", seed, email), email, name, role, tenant_id, salt, hash_password(password, salt), password, key
    )


def build_dataset(seed: int, tenants: int, clients_per_tenant: int) -> Dataset:
    """The demo world for `seed`: `tenants` practices, each with one coach and `clients_per_tenant` clients."""
    rng = random.Random(seed)
    epoch = 1_735_689_600  # 2025-01-01, so seed data does not depend on the clock
    used_names: set[str] = set()

    def person() -> tuple[str, str]:
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        base = local = f"{first}.{last}".lower()
        n = 2
        while local in used_names:
            local, n = f"{base}{n}", n + 1
        used_names.add(local)
        return f"{first} {last}", local

    tenant_list: list[Tenant] = []
    users = [_user(seed, f"ops@{PRODUCT_DOMAIN}", "Platform Operations", "admin", None)]
    conversations: list[Conversation] = []
    practices = rng.sample(_PRACTICES, k=min(tenants, len(_PRACTICES)))
    for i in range(tenants):
        name = practices[i] if i < len(practices) else f"Practice {i + 1}"
        slug = name.lower().replace(" ", "-")
        tenant = Tenant(_id("ten", seed, slug), slug, name)
        tenant_list.append(tenant)
        coach_name, local = person()
        users.append(_user(seed, f"{local}@{slug}.example", coach_name, "coach", tenant.id))
        for _ in range(clients_per_tenant):
            client_name, local = person()
            client = _user(seed, f"{local}@mail.example", client_name, "client", tenant.id)
            users.append(client)
            for title, question in rng.sample(_TOPICS, k=2):
                created = epoch + rng.randrange(0, 180 * 86400)
                conversation = Conversation(_id("conv", seed, client.id, title), tenant.id, client.id, title, created)
                conversation.messages.append(Message("user", question, created))
                conversation.messages.append(Message("assistant", rng.choice(_REPLIES), created + 4))
                conversations.append(conversation)
    secret = WEBHOOK_SECRET_PREFIX + _derive(seed, "webhook").hex()[:32]
    return Dataset(tenant_list, users, conversations, secret, _derive(seed, "oauth-client").hex()[:32])
