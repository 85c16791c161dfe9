"""The `secrets` row: key patterns (and what only looks like a key), the demo's bundle and source map
(flaw 13 in vulnerable, a publishable key only in hardened), and the crawl on a mock site: scripts,
inline and unreferenced source maps, API answers, other origins left alone.

Every key here is assembled at run time from pieces, so that no key-shaped literal sits in the
repository for a secret scanner to flag; all of them are fake."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from harness.audit import secrets
from harness.audit.context import AuditContext, AuditSettings
from harness.audit.keys import mask, scan, shown
from harness.audit.model import FAIL, PASS, UNTESTED
from harness.demo_api.process import RunningTarget
from harness.demo_api.static import FAKE_OPENAI_KEY, FAKE_STRIPE_SECRET_KEY, PUBLISHABLE_KEY
from harness.scenario.accounts import Credentials
from tests.audit.helpers import SCENARIO, audit_context, quick_demo

ALNUM = "Zq7vN2kR9tW4xL8mB3cF6hJ1pS5dG0aYnP4rT8wK"  # 40 characters


def b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def jwt(role: str) -> str:
    return f"{b64({'alg': 'HS256', 'typ': 'JWT'})}.{b64({'iss': 'supabase', 'role': role})}.{'s1gnature' * 4}"


OPENAI = "sk-" + "proj-" + ALNUM[:30] + "T3Blbk" + "FJ" + ALNUM[5:35] + "w9x8"
LEGACY_OPENAI = "sk-" + ALNUM[:20] + "T3Blbk" + "FJ" + ALNUM[20:40]
ANTHROPIC = "sk-" + "ant-" + "api03-" + (ALNUM * 3)[:93] + "AA"
STRIPE_LIVE = "sk" + "_live_" + ALNUM[:30] + "k3y9"
STRIPE_RESTRICTED = "rk" + "_live_" + ALNUM[:30]
STRIPE_TEST = "sk" + "_test_" + ALNUM[:30]
WEBHOOK = "whsec" + "_" + ALNUM[:32]
AWS_SECRET = ALNUM  # 40 characters
AWS_ID = "AKIA" + "QWERTYUI" + "OPASDFGH"
SUPABASE_SECRET = "sb" + "_secret_" + ALNUM[:32]
PEM_BODY = (ALNUM * 3)[:64]
RSA_HEADER = "-----BEGIN RSA " + "PRIVATE KEY-----"  # assembled here, so no key-shaped line is in the repo
PRIVATE_KEY = RSA_HEADER + "\n" + PEM_BODY + "\n" + PEM_BODY[:40] + "\n-----END RSA " + "PRIVATE KEY-----"


@pytest.mark.parametrize(
    "text, kind, display, severe",
    [
        (f'const k = "{OPENAI}";', "OpenAI API key", "sk-proj-…w9x8", True),
        (f"OPENAI={LEGACY_OPENAI}", "OpenAI API key", "sk-…" + ALNUM[36:40], True),
        (f'"{ANTHROPIC}"', "Anthropic API key", "sk-ant-api03-…" + ANTHROPIC[-4:], True),
        (f"new Stripe('{STRIPE_LIVE}')", "Stripe secret key", "sk_live_…k3y9", True),
        (f"key={STRIPE_RESTRICTED}&x", "Stripe restricted key", "rk_live_…" + ALNUM[26:30], True),
        (f'"{STRIPE_TEST}"', "Stripe test-mode secret key", "sk_test_…" + ALNUM[26:30], False),
        (f'secret: "{WEBHOOK}"', "Stripe webhook signing secret", "whsec_…" + ALNUM[28:32], True),
        (f'AWS_SECRET_ACCESS_KEY="{AWS_SECRET}"', "AWS secret access key", "…" + ALNUM[36:40], True),
        (f"id: {AWS_ID}", "AWS access key ID", "AKIA…DFGH", False),
        (
            f'supabase("{jwt("service_role")}")',
            "Supabase service-role key (a JWT with role service_role)",
            "eyJ…" + "ture",
            True,
        ),
        (f"SUPABASE_KEY={SUPABASE_SECRET}", "Supabase secret key", "sb_secret_…" + ALNUM[28:32], True),
        (PRIVATE_KEY, "private key (RSA PRIVATE KEY)", RSA_HEADER + "…" + PEM_BODY[36:40], True),
        (
            json.dumps({"pem": PRIVATE_KEY}),
            "private key (RSA PRIVATE KEY)",
            RSA_HEADER + "…" + PEM_BODY[36:40],
            True,
        ),  # inside an escaped JS/JSON string
        ("JWT_SECRET=" + ALNUM[:24], "secret in configuration (JWT_SECRET)", "JWT_SECRET=…" + ALNUM[20:24], True),
        ("export const jwtSecret = '" + ALNUM[:12] + "';", "secret in configuration (jwtSecret)", "jwtSecret=…", True),
        (
            '{"NEXT_PUBLIC_SERVICE_PASSWORD": "' + ALNUM[:20] + '"}',
            "secret in a browser build variable (NEXT_PUBLIC_SERVICE_PASSWORD)",
            "NEXT_PUBLIC_SERVICE_PASSWORD=…" + ALNUM[16:20],
            True,
        ),
        (
            'VITE_MAPS_API_KEY="' + ALNUM[:20] + '"',
            "key in a browser build variable (VITE_MAPS_API_KEY); make sure it is meant to be public",
            "VITE_MAPS_API_KEY=…" + ALNUM[16:20],
            False,
        ),
    ],
)
def test_each_kind_of_key_is_found_and_shown_redacted(text: str, kind: str, display: str, severe: bool):
    [hit] = scan("// header line\n" + text)
    assert (hit.kind, hit.shown, hit.severe, hit.line) == (kind, display, severe, 2)
    assert len(hit.shown) < 50 and text not in repr(hit)


@pytest.mark.parametrize(
    "text",
    [
        'className:"sk-fading-circle sk-spinner-pulse"',  # SpinKit's CSS classes
        "const task-manager-of-the-year-2024-award = 1; risk-assessment-T3BlbkFJ",
        f'stripePublishableKey:"{PUBLISHABLE_KEY}"',
        "pk" + "_test_" + ALNUM[:30],
        f'supabaseAnonKey:"{jwt("anon")}"',
        'const PEM="-----BEGIN PRIVATE '
        + 'KEY-----\\n"+body+"\\n-----END PRIVATE '
        + 'KEY-----"',  # a PEM library's constant
        "AKIA" + "IOSFODNN7" + "EXAMPLE",  # AWS's documented example key id
        'aws_secret_access_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"',
        "jwtSecret: process.env.JWT_SECRET, sessionSecret: config.sessionSecret",
        'JWT_SECRET="${JWT_SECRET}"\nJWT_SECRET=<your-secret-here>\nAUTH_SECRET="your-auth-secret"',
        f'VITE_STRIPE_PUBLISHABLE_KEY="{PUBLISHABLE_KEY}"',
        f'NEXT_PUBLIC_SUPABASE_ANON_KEY="{jwt("anon")}"',
        "stripePublishableKey: import.meta.env.VITE_STRIPE_PUBLISHABLE_KEY",
        "sk" + "_live_" + "short",
        "whsec" + "_" + "tooShort",
        "sk-" + "proj-" + "no-marker-in-this-one",
    ],
)
def test_look_alikes_are_not_keys(text: str):
    assert scan(text) == []


def test_a_key_is_reported_once_however_many_patterns_match_it_and_masked_in_excerpts():
    hits = scan(f'NEXT_PUBLIC_OPENAI_SECRET="{OPENAI}"')
    assert [h.kind for h in hits] == ["OpenAI API key"]
    assert shown("abc", "") == "…" and shown(STRIPE_LIVE, "sk_live_") == "sk_live_…k3y9"
    assert (
        mask(f'client = OpenAI(api_key="{OPENAI}") # and {STRIPE_LIVE}')
        == 'client = OpenAI(api_key="sk-proj-…w9x8") # and sk_live_…k3y9'
    )


def test_page_scripts_and_source_map_references():
    html = (
        '<script type="module" crossorigin src="/assets/index-4f2a.js"></script><script>inline()</script>'
        "<link rel=modulepreload href='/assets/vendor.js'><link rel=stylesheet href=/a.css>"
        "<SCRIPT SRC=https://cdn.example/lib.js defer></SCRIPT>"
    )
    assert secrets.page_scripts(html) == ["/assets/index-4f2a.js", "/assets/vendor.js", "https://cdn.example/lib.js"]
    assert (
        secrets.source_map_ref("a();\n//# sourceMappingURL=old.js.map\nb();\n//# sourceMappingURL=app.js.map\n")
        == "app.js.map"
    )
    assert secrets.source_map_ref("a();") is None


# --- the demo API ---------------------------------------------------------------------------------


@pytest.fixture(scope="module", params=["vulnerable", "hardened"])
def demo(request: pytest.FixtureRequest) -> Iterator[RunningTarget]:
    with quick_demo(request.param) as target:
        yield target


@pytest.mark.e2e
def test_flaw_13_keys_in_the_bundle_and_its_source_map(demo: RunningTarget):
    ctx = audit_context(demo)
    [result] = secrets.run(ctx)
    assert result.row == "secrets"
    scanned = [e.split(" -> ")[0] for e in result.evidence]
    assert scanned[:3] == ["GET /", "GET /static/app.js", "GET /static/app.js.map"]  # the page led to both
    assert {"GET /health", "GET /api/me", "GET /api/conversations"} <= set(scanned)
    if demo.config.profile == "hardened":
        assert result.status == PASS and result.findings == [] and result.note == ""
        return
    assert result.status == FAIL
    assert result.findings == [
        f"OpenAI API key sk-proj-…{FAKE_OPENAI_KEY[-4:]} in /static/app.js line 1, "
        "/static/app.js.map (../src/config.ts line 4)",
        f"Stripe secret key sk_live_…{FAKE_STRIPE_SECRET_KEY[-4:]} in /static/app.js.map (../src/billing.ts line 4)",
    ]
    assert "rotate every key found" in result.note
    text = json.dumps(result.to_dict())
    for secret in [
        FAKE_OPENAI_KEY,
        FAKE_STRIPE_SECRET_KEY,
        *ctx.credentials.secrets(),
        *(t for t in ctx._tokens.values() if t),
    ]:
        assert secret not in text


# --- a mock site ----------------------------------------------------------------------------------


class MockContext(AuditContext):
    handler: Callable[[httpx.Request], httpx.Response]

    def client(self, **kwargs: Any) -> httpx.Client:
        return super().client(transport=httpx.MockTransport(self.handler), **kwargs)


def mock(handler: Callable[[httpx.Request], httpx.Response]) -> MockContext:
    ctx = MockContext("http://site.example", SCENARIO, Credentials(), AuditSettings(static_paths=("/",)))
    ctx.handler = handler
    return ctx


def source_map(name: str, content: str) -> str:
    return json.dumps({"version": 3, "sources": [name], "sourcesContent": [content], "mappings": "AAAA"})


def test_the_crawl_follows_scripts_and_maps_reads_api_answers_and_stays_on_its_origin():
    inline = base64.b64encode(source_map("src/admin.ts", f'// admin\nconst k = "{jwt("service_role")}";').encode())
    files = {
        "/": (
            '<script type="module" src="/assets/index.js"></script><script src="https://cdn.example/lib.js">'
            "</script><link rel=modulepreload href=/assets/vendor.js>",
            "text/html",
        ),
        "/assets/index.js": (
            "run();\n//# sourceMappingURL=data:application/json;base64," + inline.decode(),
            "application/javascript",
        ),
        "/assets/vendor.js": ("vendor();", "application/javascript"),  # no reference: vendor.js.map is guessed
        "/assets/vendor.js.map": (source_map("src/hooks.ts", f'verify(body, "{WEBHOOK}")'), "application/json"),
        "/api/me": (json.dumps({"email": "a@b.example", "billing_key": STRIPE_RESTRICTED}), "application/json"),
    }
    asked: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        asked.append(str(request.url))
        body, kind = files.get(request.url.path, ('{"error": "not_found"}', "application/json"))
        return httpx.Response(200 if request.url.path in files else 404, text=body, headers={"content-type": kind})

    [result] = secrets.run(mock(handler))
    assert result.status == FAIL
    assert result.findings == [
        "Supabase service-role key (a JWT with role service_role) eyJ…ture in /assets/index.js "
        "(inline source map: src/admin.ts line 2)",
        f"Stripe webhook signing secret whsec_…{WEBHOOK[-4:]} in /assets/vendor.js.map (src/hooks.ts line 1)",
        f"Stripe restricted key rk_live_…{STRIPE_RESTRICTED[-4:]} in /api/me line 1",
    ]
    assert not any("cdn.example" in url for url in asked)  # another origin's script is not fetched
    assert "http://site.example/assets/vendor.js.map" in asked


def test_an_unreachable_site_is_not_measurable():
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    [result] = secrets.run(mock(refuse))
    assert result.status == UNTESTED and result.evidence[0] == "GET / -> no answer (ConnectError)"


HYPHENATED = "sk-" + "proj-" + "Ab3_x9Kq-7LmN2pQr_S8tUvW4xYz-1aBcDeF5gHiJ6kLmNoP"  # no T3BlbkFJ marker
CONFIG_KEY = "q8Zt3LmX9vRk2WpN7sYb4HcJ"
MAP_ONLY = "d9f8a7b6c5e4f3a2b1c0d9e8f7a6b5c4"


def test_a_hyphenated_key_a_config_object_key_and_a_key_only_in_a_source_map_are_all_found():
    """Must-show: keys a bundle really carries, each found, none shown whole."""
    files = {
        "/": ('<script src="/app.js"></script>', "text/html"),
        "/app.js": (
            f'const client = new OpenAI({{ key: "{HYPHENATED}" }});\n'
            f'window.__CONFIG__ = {{ apiKey: "{CONFIG_KEY}", region: "eu" }};\n'
            "//# sourceMappingURL=app.js.map",
            "application/javascript",
        ),
        "/app.js.map": (source_map("../server/settings.py", f'SECRET_KEY = "{MAP_ONLY}"\n'), "application/json"),
    }

    def handler(request: httpx.Request) -> httpx.Response:
        body, kind = files.get(request.url.path, ('{"error": "not_found"}', "application/json"))
        return httpx.Response(200 if request.url.path in files else 404, text=body, headers={"content-type": kind})

    [result] = secrets.run(mock(handler))
    assert result.status == FAIL
    assert result.findings == [
        f"OpenAI API key sk-proj-…{HYPHENATED[-4:]} in /app.js line 1",
        f"secret in code (apiKey) apiKey=…{CONFIG_KEY[-4:]} in /app.js line 2",
        f"secret in code (SECRET_KEY) SECRET_KEY=…{MAP_ONLY[-4:]} in /app.js.map (../server/settings.py line 1)",
    ]
    assert not any(key in " ".join(result.findings + result.evidence) for key in (HYPHENATED, CONFIG_KEY, MAP_ONLY))


def test_an_incomplete_scan_is_untested_never_a_pass():
    """Scripts past the fetch budget, and one that does not answer: no key seen is not "no key"."""
    scripts = "".join(f'<script src="/s{i}.js"></script>' for i in range(secrets.MAX_FETCHES + 5))

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/s3.js":
            raise httpx.ReadTimeout("slow", request=request)
        body = scripts if request.url.path == "/" else "run();"
        return httpx.Response(
            200, text=body, headers={"content-type": "text/html" if body == scripts else "text/javascript"}
        )

    [result] = secrets.run(mock(handler))
    assert result.status == UNTESTED and result.gate and "static_paths" in result.fix
    assert "URL(s) not scanned: /s3.js (no answer)" in result.note and "past the 40 fetches" in result.note


# --- detect-secrets beside the harness's own patterns ---------------------------------------------

AWS_SLASHED = "wJalrXUtnFEMI/K7MDENG/bPxRfiCY" + "q8Zt3LmX9v"  # 40 characters, slashes: no own pattern takes it
SLACK = "xoxb-" + "123456789012-1234567890123-" + "q8zt3lmx9vrk2wpn7syb4hcj"
GITHUB = "ghp_" + ALNUM[:36]
SHA256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"


def served(script: str) -> MockContext:
    """A site whose page loads one script, `script`."""
    files = {"/": ('<script src="/app.js"></script>', "text/html"), "/app.js": (script, "application/javascript")}

    def handler(request: httpx.Request) -> httpx.Response:
        body, kind = files.get(request.url.path, ('{"error": "not_found"}', "application/json"))
        return httpx.Response(200 if request.url.path in files else 404, text=body, headers={"content-type": kind})

    return mock(handler)


def test_detect_secrets_finds_provider_keys_the_own_patterns_do_not_know():
    """An AWS secret access key assigned in a minified config, a Slack bot token and a GitHub token: each a
    finding named by its detect-secrets plugin, shown as prefix and last four only."""
    assert not [h for h in scan(f'aws_config={{awsSecretKey:"{AWS_SLASHED}"}}') if not h.plugin]  # own rules miss it
    script = (
        f'var c={{region:"eu-west-1",awsSecretKey:"{AWS_SLASHED}"}};'
        f'fetch(u,{{headers:{{Authorization:"Bearer {SLACK}"}}}});\n'
        f'const gh="{GITHUB}";'
    )
    [result] = secrets.run(served(script))
    assert result.status == FAIL
    assert result.findings == [
        f"AWS Access Key (detect-secrets AWSKeyDetector) …{AWS_SLASHED[-4:]} in /app.js line 1",
        f"Slack Token (detect-secrets SlackDetector) xoxb-…{SLACK[-4:]} in /app.js line 1",
        f"GitHub Token (detect-secrets GitHubTokenDetector) ghp_…{GITHUB[-4:]} in /app.js line 2",
    ]
    text = " ".join(result.findings + result.evidence + [result.note])
    assert not any(key in text for key in (AWS_SLASHED, SLACK, GITHUB))
    assert mask(f"token {SLACK} end") == f"token xoxb-…{SLACK[-4:]} end"  # excerpts of answers too


def test_a_key_both_rule_sets_find_is_reported_once_by_the_own_patterns():
    [hit] = scan(f"new Stripe('{STRIPE_LIVE}')")  # detect-secrets' StripeDetector finds it too
    assert hit.kind == "Stripe secret key" and not hit.plugin


def test_an_entropy_only_hash_in_minified_code_is_at_most_a_note():
    script = f'!function(){{var e="{SHA256}",t=n(e);return t}}();var o={{integrity:"{SHA256[:40]}"}};'
    hits = scan(script)
    assert hits and all(not h.severe and h.plugin == "HexHighEntropyString" for h in hits)
    assert mask(script) == script  # a note is not masked: excerpts stay readable
    [result] = secrets.run(served(script))
    assert result.status == PASS and not result.findings
    assert (
        f"high-entropy string (detect-secrets HexHighEntropyString); review it: usually a hash or an id …{SHA256[-4:]} in /app.js line 1"
        in result.note
    )


def test_many_high_entropy_strings_are_a_few_notes_and_a_count():
    hashes = [f"{i:02d}" + SHA256[2:] for i in range(secrets.MAX_NOTES + 4)]
    [result] = secrets.run(served(";".join(f'var h{i}="{h}"' for i, h in enumerate(hashes))))
    assert result.status == PASS
    assert result.note.count("review it") == secrets.MAX_NOTES and "4 more high-entropy string(s)" in result.note
