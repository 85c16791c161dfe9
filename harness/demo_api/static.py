"""The demo's web app shell: `/` (HTML), `/static/app.js` (the bundle) and `/static/app.js.map`.

A chatbot product ships a browser bundle, and the bundle is where keys leak: a `VITE_`/`NEXT_PUBLIC_`
variable that held a secret, or a server-only module pulled into the build, whose source the source map
publishes verbatim. The vulnerable bundle carries an OpenAI key, and its source map a Stripe secret key
(flaw 13); the hardened one only public values (a Stripe publishable key, a Supabase anon key).

Every key here is fake: built at run time (no key-shaped literal in the repository for scanners to
flag), with DEMO/0000 runs no provider issues, yet in the shape the providers use, so a scanner
tuned to real keys finds them. Static files are served outside the counted, rate-limited API routes,
as a CDN would serve them.
"""

from __future__ import annotations

import base64
import json

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from harness.demo_api.config import TargetConfig

__all__ = ["FAKE_OPENAI_KEY", "FAKE_STRIPE_SECRET_KEY", "PUBLISHABLE_KEY", "static_routes"]

# Split so that no key-shaped literal sits in the source: these are fakes, but scanners cannot know.
FAKE_OPENAI_KEY = (
    "sk-"
    + "proj-"
    + "DEMO0000qZ7vN2kR9tW4xL8mB3cF6hJ1pS5dG0aYe"
    + "T3Blbk"
    + "FJ"
    + "DEMO0000nP4rT8wK2vM6xQ9zL3bC7fH1jS5dA0a1b2"
)
FAKE_STRIPE_SECRET_KEY = "sk" + "_live_" + "51DEMO0000Qz7vN2kR9tW4xL8mB3cF6hJ1pS5dG0aYnP4rT8wK2vDEMO00c3d4"
PUBLISHABLE_KEY = "pk" + "_live_" + "51DEMO0000Lm3nB8vC1xZ6aS4dF9gH2jK7qW5eR0tY3uI8oPDEMO00e5f6"


def _b64(data: dict[str, object]) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


# A Supabase anon key: a JWT with role "anon", public by design (row-level security guards the data).
ANON_KEY = ".".join(
    [
        _b64({"alg": "HS256", "typ": "JWT"}),
        _b64({"iss": "supabase", "ref": "demo0000coachpilot", "role": "anon", "iat": 1700000000, "exp": 2000000000}),
        "DEMO0000" + "x" * 35,
    ]
)

INDEX = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>CoachPilot</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><div id="app"></div><script src="/static/app.js" defer></script></body>
</html>
"""

_ASK_OPENAI = (
    'async function t(n){const o=await fetch("https://api.openai.com/v1/chat/completions",{method:"POST",'
    'headers:{authorization:"Bearer "+e.openaiApiKey,"content-type":"application/json"},'
    'body:JSON.stringify({model:"gpt-4o-mini",messages:n})});return o.json()}'
)
_ASK_API = (
    'async function t(n,s){const o=await fetch(e.apiBase+"/chat",{method:"POST",headers:{authorization:'
    '"Bearer "+s,"content-type":"application/json"},body:JSON.stringify({messages:n,stream:!1})});'
    "return o.json()}"
)


def _bundle(vulnerable: bool) -> str:
    secret = f'openaiApiKey:"{FAKE_OPENAI_KEY}",' if vulnerable else ""
    return (
        '(()=>{"use strict";const e={apiBase:"/api",'
        + secret
        + f'stripePublishableKey:"{PUBLISHABLE_KEY}",supabaseAnonKey:"{ANON_KEY}"}};'
        + (_ASK_OPENAI if vulnerable else _ASK_API)
        + 'const a=document.getElementById("app");a.className="sk-fading-circle";a.textContent="CoachPilot";'
        + "window.coachpilot={config:e,ask:t};})();\n//# sourceMappingURL=app.js.map\n"
    )


def _sources(vulnerable: bool) -> dict[str, str]:
    main = (
        'import { config } from "./config";\n'
        + ('import { ask } from "./openai";\n' if vulnerable else 'import { ask } from "./api";\n')
        + 'const app = document.getElementById("app")!;\napp.className = "sk-fading-circle";\n'
        'app.textContent = "CoachPilot";\n(window as any).coachpilot = { config, ask };\n'
    )
    if not vulnerable:
        return {
            "../src/main.ts": main,
            "../src/config.ts": (
                'export const config = {\n  apiBase: "/api",\n'
                "  stripePublishableKey: import.meta.env.VITE_STRIPE_PUBLISHABLE_KEY,\n"
                "  supabaseAnonKey: import.meta.env.VITE_SUPABASE_ANON_KEY,\n};\n"
            ),
        }
    return {
        "../src/main.ts": main,
        "../src/config.ts": (
            "// Client config. TODO: move the OpenAI call behind our API before launch.\n"
            f'export const config = {{\n  apiBase: "/api",\n  openaiApiKey: "{FAKE_OPENAI_KEY}",\n'
            f'  stripePublishableKey: "{PUBLISHABLE_KEY}",\n  supabaseAnonKey: "{ANON_KEY}",\n}};\n'
        ),
        # a server-only module the upgrade button imported: tree-shaken out of the bundle, kept in the map
        "../src/billing.ts": (
            'import Stripe from "stripe";\n\n'
            "// Prototype checkout straight from the browser; the server will own this later.\n"
            f'export const stripe = new Stripe("{FAKE_STRIPE_SECRET_KEY}", '
            '{ apiVersion: "2024-06-20" });\n'
        ),
    }


def _source_map(vulnerable: bool) -> str:
    sources = _sources(vulnerable)
    return json.dumps(
        {
            "version": 3,
            "file": "app.js",
            "sources": list(sources),
            "sourcesContent": list(sources.values()),
            "names": [],
            "mappings": "AAAA;AACA",
        }
    )


def static_routes(config: TargetConfig) -> list[Route]:
    """The page, the bundle and its source map, for `config`'s profile (not counted, never limited)."""
    vulnerable = config.profile == "vulnerable"
    bundle = _bundle(vulnerable).encode()
    source_map = _source_map(vulnerable).encode()
    assets = {"cache-control": "public, max-age=3600"}

    async def index(request: Request) -> Response:
        return HTMLResponse(INDEX, headers={"cache-control": "no-cache"})

    async def app_js(request: Request) -> Response:
        return Response(bundle, media_type="application/javascript", headers=assets)

    async def app_js_map(request: Request) -> Response:
        return Response(source_map, media_type="application/json", headers=assets)

    return [
        Route("/", index, methods=["GET"], name="web_index"),
        Route("/static/app.js", app_js, methods=["GET"], name="web_bundle"),
        Route("/static/app.js.map", app_js_map, methods=["GET"], name="web_source_map"),
    ]
