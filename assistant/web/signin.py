"""OpenID Connect sign-in (authlib's Starlette client) and the signed, expiring session it leaves.

``/auth/login`` sends the browser to the issuer (authorization code flow, with state, nonce and
PKCE); ``/auth/callback`` checks the ID token (issuer, audience, signature from the JWKS, nonce)
and keeps the user, their groups (from ``CASEBOOK_OIDC_GROUPS_CLAIM``) and role in the session
cookie until ``CASEBOOK_SESSION_HOURS`` pass; ``/auth/logout`` forgets it; ``/auth/me`` says who
you are.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from fastapi import FastAPI, Request
from starlette.middleware.sessions import SessionMiddleware
from starlette.responses import HTMLResponse, RedirectResponse, Response

from assistant.settings import Settings
from assistant.web.audit import AuditLog
from assistant.web.auth import AuthConfig, address_of, identity_of, session_secret, unauthorized_page
from assistant.web.users import Identity, parse_groups, role_for

log = logging.getLogger(__name__)
SESSION_COOKIE = "casebook_session"


def add_sessions(app: FastAPI, settings: Settings) -> None:
    """Add the signed session cookie (outermost, so the sign-in gate can read it)."""
    app.add_middleware(
        SessionMiddleware,
        secret_key=session_secret(settings),
        session_cookie=SESSION_COOKIE,
        max_age=int(settings.session_hours * 3600),
        same_site="lax",  # the issuer's redirect back is a top-level GET, which lax cookies follow
        https_only=settings.session_https_only,
    )


def add_routes(app: FastAPI, settings: Settings, config: AuthConfig, audit: AuditLog | None) -> None:
    """Add ``/auth/*``: the OIDC sign-in (when an issuer is set), sign-out and who-am-I."""

    @app.get("/auth/me", include_in_schema=False)
    def me(request: Request) -> dict[str, Any]:
        identity = identity_of(request)
        return identity.to_json() if identity else {}

    @app.get("/auth/logout", include_in_schema=False)
    def logout(request: Request) -> Response:
        request.session.clear()
        login = '<p><a href="login">Sign in again</a></p>' if config.oidc else ""
        return HTMLResponse(f"<!doctype html><title>Signed out</title><h1>Signed out</h1>{login}")

    if not config.oidc:
        return
    from authlib.integrations.starlette_client import OAuth, OAuthError

    oauth = OAuth()
    oauth.register(
        "oidc",
        server_metadata_url=settings.oidc_issuer.rstrip("/") + "/.well-known/openid-configuration",
        client_id=settings.oidc_client_id,
        client_secret=settings.oidc_client_secret,
        client_kwargs={"scope": settings.oidc_scopes, "code_challenge_method": "S256"},
    )

    @app.get("/auth/login", include_in_schema=False)
    async def login(request: Request, next: str = "/") -> Response:
        # Only a path on this site: an absolute or protocol-relative URL would be an open redirect.
        request.session["next"] = next if next.startswith("/") and not next.startswith("//") else "/"
        try:
            callback = settings.oidc_redirect_uri or str(request.url_for("auth_callback"))
            return await oauth.oidc.authorize_redirect(request, callback)
        except Exception as exc:  # the issuer is down or its discovery document is wrong
            log.error("oidc discovery failed issuer=%s error=%s", settings.oidc_issuer, exc)
            return HTMLResponse(unauthorized_page("The sign-in service cannot be reached."), 503)

    @app.get("/auth/callback", name="auth_callback", include_in_schema=False)
    async def callback(request: Request) -> Response:
        try:
            token = await oauth.oidc.authorize_access_token(request)
        except OAuthError as exc:
            log.warning("oidc sign-in refused error=%s", exc.error)
            return HTMLResponse(unauthorized_page(f"Sign-in failed ({exc.error})."), 401)
        claims = dict(token.get("userinfo") or {})
        if settings.oidc_groups_claim not in claims and token.get("access_token"):
            claims = {**await oauth.oidc.userinfo(token=token), **claims}
        user = str(claims.get(settings.oidc_user_claim) or claims.get("email") or claims["sub"])[:200]
        groups = parse_groups(_claim_list(claims.get(settings.oidc_groups_claim)))
        role = role_for(groups, config.editor_groups, config.admin_groups)
        exp = time.time() + settings.session_hours * 3600
        target = _next(request)
        request.session.clear()
        request.session["identity"] = {"user": user, "role": role, "groups": list(groups), "exp": exp}
        if audit is not None:
            who = Identity(user, role, groups, "oidc")
            audit.record("signin", who, channel="oidc", address=address_of(request))
        return RedirectResponse(request.scope.get("root_path", "") + target, status_code=303)


def _next(request: Request) -> str:
    target = str(request.session.pop("next", "/") or "/")
    return target if target.startswith("/") and not target.startswith("//") else "/"


def _claim_list(value: Any) -> list[str]:
    """Return a groups claim as a list (it may be a list or a comma-separated string)."""
    if isinstance(value, str):
        return value.split(",")
    return [str(v) for v in value] if isinstance(value, list | tuple) else []
