"""Sign-in: who each request is, checked before any page, API call or Gradio event runs.

Three methods, tried in this order on every request:

1. ``Authorization: Bearer TOKEN``, a token from ``casebook users token create`` (users.db);
2. a trusted header set by the reverse proxy (``CASEBOOK_TRUSTED_USER_HEADER`` and the groups
   header), believed only when the connecting address is in ``CASEBOOK_TRUSTED_PROXIES``; from any
   other address those headers are removed before the app sees them;
3. an OpenID Connect sign-in (authlib), kept in a signed, expiring session cookie.

Once any method is configured (a token exists, a trusted header or OIDC is set), or whenever the
server listens beyond loopback, every request needs one: loopback included. Unauthenticated API
calls get 401 JSON; a browser asking for a page is sent to the OIDC sign-in, or shown a 401 page.
The identity is left in ``request.state.identity`` (``identity_of``) for routes and the chat.
"""

from __future__ import annotations

import html
import ipaddress
import logging
import os
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from starlette.datastructures import MutableHeaders
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from assistant.settings import Settings
from assistant.web.audit import AuditLog
from assistant.web.users import ANONYMOUS, Identity, Role, TokenStore, parse_groups, role_for
from vectorstore import ConfigError

log = logging.getLogger(__name__)

# /embed.js holds no data and must load on an intranet page before anyone has signed in: the
# chat it opens signs in inside its frame.
PUBLIC_PATHS = frozenset({"/api/health", "/auth/login", "/auth/callback", "/auth/logout", "/embed.js"})
NO_AUTH = Identity(ANONYMOUS, "admin", (), "none")
BANNER = (
    '<div id="cb-insecure-banner" role="alert" style="position:sticky;top:0;z-index:10000;'
    "background:#8a1c1c;color:#fff;padding:6px 12px;font:600 14px/1.4 system-ui,sans-serif;"
    'text-align:center">Casebook is running without sign-in (--insecure-no-auth): anyone who can '
    "reach this address can read the library and ask questions.</div>"
)
_TOKENS_TTL = 5.0  # seconds a "does any token exist?" answer is reused


def is_loopback(host: str) -> bool:
    """Return whether ``host`` (an address or name to listen on) is reachable only from this machine."""
    if host.strip("[]").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def parse_networks(text: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """Return the networks in a comma-separated list of addresses and CIDRs."""
    networks = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ConfigError(
                f"CASEBOOK_TRUSTED_PROXIES: {item!r} is not an address or CIDR (e.g. 10.0.0.5, 10.0.0.0/24)"
            ) from None
    return tuple(networks)


@dataclass(frozen=True)
class AuthConfig:
    """How requests are signed in, built once from the settings by ``auth_config``."""

    tokens: TokenStore
    user_header: str | None = None
    groups_header: str | None = None
    proxies: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    oidc: bool = False
    editor_groups: str = ""
    admin_groups: str = ""
    required: bool = False  # listening beyond loopback: sign-in always, even with no method left
    insecure: bool = False  # --insecure-no-auth: no sign-in, a warning on every page

    def configured(self) -> bool:
        """Return whether any sign-in method is set up (a token exists, a header or OIDC is set)."""
        return bool(self.user_header or self.oidc or self.tokens.any())


def auth_config(settings: Settings, *, host: str = "127.0.0.1", insecure: bool = False) -> AuthConfig:
    """Return the sign-in configuration, or raise ConfigError naming the setting to fix."""
    proxies = parse_networks(settings.trusted_proxies)
    if settings.trusted_user_header and not proxies:
        raise ConfigError(
            "CASEBOOK_TRUSTED_USER_HEADER is set but CASEBOOK_TRUSTED_PROXIES is empty: "
            "set it to your reverse proxy's address (e.g. 10.0.0.5 or 10.0.0.0/24)"
        )
    if settings.oidc_issuer and not settings.oidc_client_id:
        raise ConfigError("CASEBOOK_OIDC_ISSUER is set but CASEBOOK_OIDC_CLIENT_ID is not: set both")
    config = AuthConfig(
        tokens=TokenStore(settings.data_dir),
        user_header=(settings.trusted_user_header or "").lower() or None,
        groups_header=(settings.trusted_groups_header or "").lower() or None,
        proxies=proxies,
        oidc=bool(settings.oidc_issuer),
        editor_groups=settings.editor_groups,
        admin_groups=settings.admin_groups,
        required=not is_loopback(host) and not insecure,
        insecure=insecure and not is_loopback(host),
    )
    if not is_loopback(host) and not insecure and not config.configured():
        raise ConfigError(
            f"Refusing to serve on {host} with no sign-in: create a token (casebook users token create "
            "NAME --role reader), set CASEBOOK_TRUSTED_USER_HEADER or CASEBOOK_OIDC_ISSUER, "
            "or pass --insecure-no-auth"
        )
    return config


def identity_of(request: Any) -> Identity | None:
    """Return the identity the gate left on a Starlette/FastAPI request or a ``gr.Request``."""
    inner = getattr(request, "request", None) or request  # gr.Request wraps the HTTP request
    scope = getattr(inner, "scope", None)
    if isinstance(scope, dict):
        return scope.get("state", {}).get("identity")
    state = getattr(inner, "state", None)  # a pickled gr.Request keeps only its state
    return getattr(state, "identity", None)


def groups_of(identity: Identity | None) -> tuple[str, ...] | None:
    """Return the groups whose documents ``identity`` may read: None (every document) when
    sign-in is off; no groups (open documents only) when no identity is known at all."""
    if identity is None:
        return ()
    return None if identity.method == "none" else identity.groups


def address_of(request: Any) -> str | None:
    """Return the connecting address of a request (the proxy's, behind one)."""
    inner = getattr(request, "request", None) or request
    client = getattr(inner, "client", None)
    return getattr(client, "host", None)


def require(role: Role) -> Callable[..., Identity]:
    """Return a FastAPI dependency that gives the identity, or answers 403 below ``role``."""

    def dependency(request: Request) -> Identity:
        identity = identity_of(request) or NO_AUTH
        if not identity.allows(role):
            audit = getattr(request.app.state, "audit", None)
            if audit is not None:
                audit.record(
                    "denied", identity, channel="api", address=address_of(request), status=403,
                    detail=f"{request.method} {request.url.path} needs {role}",
                )  # fmt: skip
            raise HTTPException(403, f"This needs the {role} role; {identity.user} is a {identity.role}")
        return identity

    return dependency


def _role_dependency(role: Role) -> Any:
    return Annotated[Identity, Depends(require(role))]


Reader = _role_dependency("reader")  # a route parameter typed Reader answers 403 below the role
Editor = _role_dependency("editor")
Admin = _role_dependency("admin")


class Gate:
    """ASGI middleware: identify each request, refuse the unauthenticated, strip untrusted headers."""

    def __init__(self, app: Any, config: AuthConfig, audit: AuditLog | None = None) -> None:
        self.app, self.config, self.audit = app, config, audit
        self._configured_at = (0.0, False)

    def _enabled(self) -> bool:
        if self.config.required:
            return True
        if self.config.insecure:
            return False
        checked, answer = self._configured_at
        if time.monotonic() - checked > _TOKENS_TTL:  # a token created while serving counts soon
            answer = self.config.configured()
            self._configured_at = (time.monotonic(), answer)
        return answer

    def _trusted(self, scope: dict[str, Any]) -> bool:
        client = scope.get("client")
        if not client or not self.config.proxies:
            return False
        try:
            address = ipaddress.ip_address(client[0])
        except ValueError:
            return False
        return any(address in network for network in self.config.proxies)

    def _identify(self, scope: dict[str, Any], headers: dict[bytes, bytes]) -> Identity | None:
        config = self.config
        bearer = headers.get(b"authorization", b"").decode("latin-1")
        if bearer:
            scheme, _, token = bearer.partition(" ")
            # A wrong token is never overridden by another method: it is a 401.
            return config.tokens.identify(token.strip()) if scheme.lower() == "bearer" else None
        if config.user_header and self._trusted(scope):
            user = headers.get(config.user_header.encode(), b"").decode("utf-8", "replace").strip()
            if user:
                raw = headers.get((config.groups_header or "").encode(), b"").decode("utf-8", "replace")
                groups = parse_groups(raw)
                role = role_for(groups, config.editor_groups, config.admin_groups)
                return Identity(user[:200], role, groups, "header")
        session = scope.get("session") or {}
        signed = session.get("identity") if isinstance(session, dict) else None
        if config.oidc and isinstance(signed, dict) and signed.get("exp", 0) > time.time():
            return Identity(signed["user"], signed["role"], tuple(signed.get("groups", ())), "oidc")
        return None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        # Only a trusted proxy may name the user: from anyone else the headers never reach the app.
        strip = {h.encode() for h in (self.config.user_header, self.config.groups_header) if h}
        if strip and not self._trusted(scope):
            scope["headers"] = [(k, v) for k, v in scope["headers"] if k.lower() not in strip]
        enabled = self._enabled()
        headers = {k.lower(): v for k, v in scope["headers"]}
        identity = self._identify(scope, headers) if enabled else NO_AUTH
        scope.setdefault("state", {})["identity"] = identity
        path = _relative_path(scope)
        if identity is None and scope.get("method") == "OPTIONS":
            # A CORS preflight never carries credentials (Fetch standard): CORS answers it inside.
            await self.app(scope, receive, send)
            return
        if identity is None and path not in PUBLIC_PATHS and scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        if identity is None and path not in PUBLIC_PATHS:
            await self._deny(scope, headers, path)(scope, receive, send)
            return
        await self.app(scope, receive, self._banner(send) if self.config.insecure else send)

    def _deny(self, scope: dict[str, Any], headers: dict[bytes, bytes], path: str) -> Response:
        client = scope.get("client")
        if self.audit is not None:
            self.audit.record(
                "denied", None, channel="http", address=client[0] if client else None, status=401,
                detail=f"{scope.get('method', 'WS')} {path}",
            )  # fmt: skip
        root = scope.get("root_path", "")
        wants_page = (
            scope["type"] == "http"
            and scope.get("method") == "GET"
            and b"text/html" in headers.get(b"accept", b"")
            and not path.startswith(("/api/", "/gradio_api/", "/v1/"))
            and b"authorization" not in headers
        )
        if wants_page and self.config.oidc:
            query = f"?{scope['query_string'].decode('latin-1')}" if scope.get("query_string") else ""
            return RedirectResponse(f"{root}/auth/login?next={_quote(path + query)}", status_code=303)
        if wants_page:
            return HTMLResponse(unauthorized_page(), status_code=401)
        return JSONResponse(
            {"detail": "Sign-in required: send Authorization: Bearer TOKEN (casebook users token create)"},
            status_code=401,
            headers={"WWW-Authenticate": 'Bearer realm="casebook"'},
        )

    def _banner(self, send: Any) -> Any:
        """Return ``send`` with the no-sign-in warning put at the top of every HTML page."""
        held: dict[str, Any] = {}
        body = bytearray()

        async def wrapped(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                head = MutableHeaders(scope=message)
                if head.get("content-type", "").startswith("text/html") and "content-encoding" not in head:
                    held["start"] = message
                    return
            elif message["type"] == "http.response.body" and "start" in held:
                body.extend(message.get("body", b""))
                if message.get("more_body"):
                    return
                page = re.sub(rb"(<body[^>]*>)", rb"\1" + BANNER.encode(), bytes(body), count=1, flags=re.I)
                start = held.pop("start")
                MutableHeaders(scope=start)["content-length"] = str(len(page))
                await send(start)
                await send({"type": "http.response.body", "body": page})
                return
            await send(message)

        return wrapped


def unauthorized_page(reason: str = "") -> str:
    """Return the 401 page a browser gets when no sign-in method applies to it."""
    extra = f"<p>{html.escape(reason)}</p>" if reason else ""
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Sign-in required - Casebook'
        '</title></head><body style="font-family:system-ui,sans-serif;max-width:40em;margin:3em auto">'
        f"<h1>Sign-in required</h1>{extra}<p>This Casebook needs you to sign in. Open it through your "
        "organisation's intranet link (which signs you in), or call the API with "
        "<code>Authorization: Bearer TOKEN</code>; an administrator creates tokens with "
        "<code>casebook users token create NAME --role reader</code>.</p></body></html>"
    )


def _relative_path(scope: dict[str, Any]) -> str:
    path, root = scope.get("path", "/"), scope.get("root_path", "")
    return path[len(root) :] or "/" if root and path.startswith(root) else path


def _quote(text: str) -> str:
    from urllib.parse import quote

    return quote(text, safe="")


def session_secret(settings: Settings) -> str:
    """Return the key signing session cookies: the setting, or one generated once into the data dir."""
    if settings.session_secret:
        return settings.session_secret
    path = Path(settings.data_dir) / "session.key"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(48))
        except FileExistsError:  # another worker wrote it first
            pass
    return path.read_text(encoding="utf-8").strip()
