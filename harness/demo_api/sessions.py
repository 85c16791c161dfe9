"""Who calls the demo API, in each of its auth styles (`[target] auth`, docs/auth.md), so that every style
the harness speaks can be tested end to end:

  - bearer:  the login answers `{"access_token": JWT}` (and the header `X-Auth-Token: JWT`, for scenarios
             that read it there); requests send `Authorization: Bearer JWT`;
  - cookie:  the login answers `Set-Cookie: sid=JWT` (HttpOnly) and no token in its body; requests send
             the cookie, and nothing else is accepted;
  - api_key: every account has a static key (`/__demo__/accounts` hands them out); requests send it as
             `Authorization: Bearer sk-demo-...`, `X-Api-Key` or the `api_key` query parameter; no login;
  - oauth2:  `POST /oauth/token` (form-encoded, RFC 6749) grants a bearer JWT to the demo's client
             (client_credentials: it acts as the first client account) or to an account (password).

With `csrf = true`, a session's unsafe requests must echo its CSRF token in `X-CSRF-Token`: the login
(or token) answer gives it as the cookie `csrf_token`, the header `X-CSRF-Token` and `csrf_token` in its
body, and `GET /api/auth/csrf` gives it again. Sessions expire after `token_ttl_s` (a 401 after).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from harness.demo_api.auth import TokenError, TokenService
from harness.demo_api.config import TargetConfig
from harness.demo_api.data import OAUTH_CLIENT_ID, Dataset, User
from harness.demo_api.web import ApiError, bearer_token

__all__ = ["Sessions", "SESSION_COOKIE", "CSRF_COOKIE", "CSRF_HEADER"]

SESSION_COOKIE = "sid"
CSRF_COOKIE = "csrf_token"
CSRF_HEADER = "x-csrf-token"
TOKEN_HEADER = "x-auth-token"
UNSAFE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
_INVALID_TOKEN = {"www-authenticate": 'Bearer error="invalid_token"'}


class Sessions:
    """Issues sessions and tells who a request comes from, in the configured style."""

    def __init__(self, config: TargetConfig, tokens: TokenService, data: Dataset) -> None:
        self.style = config.auth
        self.csrf = config.csrf
        self.tokens = tokens
        self.data = data

    # -- who calls ---------------------------------------------------------------------------------

    def _credential(self, request: Request) -> str | None:
        if self.style == "cookie":
            return request.cookies.get(SESSION_COOKIE) or None
        if self.style == "api_key":
            return request.headers.get("x-api-key") or bearer_token(request) or request.query_params.get("api_key")
        return bearer_token(request)

    def authenticate(self, request: Request) -> tuple[User, dict[str, Any]]:
        """The caller and its session's claims ({} for an API key); 401 without a valid credential, 403 for
        an unsafe request of a CSRF-protected session without its token."""
        credential = self._credential(request)
        if credential is None:
            raise ApiError(401, "missing_token", headers={"www-authenticate": "Bearer"})
        if self.style == "api_key":
            user = self.data.users_by_api_key.get(credential)
            if user is None:
                raise ApiError(401, "invalid_api_key")
            return user, {}
        try:
            claims = self.tokens.verify(credential)
        except TokenError:
            raise ApiError(401, "invalid_token", headers=_INVALID_TOKEN) from None
        user = self.data.users_by_id.get(claims["sub"])
        if user is None:
            raise ApiError(401, "invalid_token", headers=_INVALID_TOKEN)
        if self.csrf and request.method in UNSAFE_METHODS:
            sent = request.headers.get(CSRF_HEADER, "")
            if not hmac.compare_digest(sent.encode(), str(claims.get("csrf", "")).encode()) or not sent:
                raise ApiError(
                    403, "csrf_failed", f"unsafe requests must echo the session's CSRF token in {CSRF_HEADER}"
                )
        return user, claims

    def user_id(self, request: Request) -> str | None:
        """The caller's id for the per-user rate limit; None without a valid credential (the handler says 401)."""
        credential = self._credential(request)
        if credential is None:
            return None
        if self.style == "api_key":
            user = self.data.users_by_api_key.get(credential)
            return user.id if user is not None else None
        try:
            return str(self.tokens.verify(credential)["sub"])
        except TokenError:
            return None

    # -- new sessions ------------------------------------------------------------------------------

    def login_answer(self, user: User, extra: dict[str, Any] | None = None) -> Response:
        """A new session for `user`: a token in the body (bearer, oauth2) or a cookie (cookie), and its
        CSRF token where one is asked for."""
        csrf = secrets.token_urlsafe(16) if self.csrf else ""
        token = self.tokens.issue(user.id, user.tenant_id, user.role, csrf=csrf)
        if self.style == "cookie":
            body: dict[str, Any] = {"user": user.public()}
        else:
            body = {"access_token": token, "token_type": "bearer", "expires_in": self.tokens.ttl_s, **(extra or {})}
        if csrf:
            body["csrf_token"] = csrf
        response = JSONResponse(body)
        if self.style == "cookie":
            response.set_cookie(
                SESSION_COOKIE, token, max_age=self.tokens.ttl_s, httponly=True, samesite="lax", path="/"
            )
        elif self.style == "bearer":
            response.headers[TOKEN_HEADER] = token
        if csrf:
            response.set_cookie(CSRF_COOKIE, csrf, max_age=self.tokens.ttl_s, samesite="lax", path="/")
            response.headers[CSRF_HEADER] = csrf
        return response

    def logout_answer(self, claims: dict[str, Any]) -> Response:
        if "jti" in claims:  # an API key is not a session: nothing to revoke
            self.tokens.revoke(claims)
        response = Response(status_code=204)
        if self.style == "cookie":
            response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    def oauth_client_ok(self, request: Request, form: dict[str, str]) -> bool:
        """The demo's client, authenticated by client_secret_post or client_secret_basic."""
        client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
        scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "basic":
            try:
                client_id, _, secret = base64.b64decode(encoded, validate=True).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                return False
        return client_id == OAUTH_CLIENT_ID and hmac.compare_digest(
            secret.encode(), self.data.oauth_client_secret.encode()
        )


def parse_form(body: bytes) -> dict[str, str]:
    """An application/x-www-form-urlencoded body; 400 when it is not one."""
    try:
        return dict(parse_qsl(body.decode("ascii"), keep_blank_values=True, strict_parsing=bool(body)))
    except (UnicodeDecodeError, ValueError):
        raise ApiError(400, "invalid_request", "expected a form-encoded body") from None
