"""Issue 9's "done when" as a whole: the deployment README.md documents, run and used as an intranet.

`casebook serve` runs the command of README's "Behind nginx, under a sub-path" with its sign-in:
a real OpenID Connect provider (oidc-provider-mock) for staff and an API token made by the
README's own command for the intranet's scripts. nginx runs that section's server block. Two
intranet pages, each from its own small HTTP server on another local port, embed the chat with
the README's snippets; one is the origin --allowed-origins lists. Chromium then does what staff
and an intranet page do, and the audit log is read back with `casebook audit export`.
"""

from __future__ import annotations

import contextlib
import http.server
import re
import shlex
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import httpx
import pytest

from tests.conftest import LIBRARY, free_port, serving
from tests.test_access import KESTREL, LEDGER, RESTRAINT, chromium  # noqa: F401  (a fixture)
from tests.test_auth import audit_rows, bearer, casebook_cli
from tests.test_browser import CHROMIUM, ask, shot
from tests.test_intranet import NGINX, fenced, readme_nginx, readme_section, run_nginx
from tests.test_web import OAP

PUBLIC = "https://apps.trust.nhs.uk"  # the README's addresses, replaced by local ones
INTRANET = "https://intranet.trust.nhs.uk"
STAFF = {"nina": ["ward-7"], "fred": ["finance"]}  # OIDC users and their groups claim
KESTREL_TITLE = "Kestrel ward restraint review"
PAGE = """<!doctype html>
<html><head><title>{name} intranet</title></head>
<body><h1>{name} intranet</h1>
{snippets}
</body></html>
"""


def readme_commands(*, app_port: int, allowed: str) -> tuple[list[str], list[str], set[str]]:
    """Return the arguments of the README's `casebook serve` (on local addresses) and of its
    `casebook users token create`, and the CASEBOOK_ variables it sets."""
    bash = fenced(readme_section("Behind nginx, under a sub-path"), "bash")[0].replace("\\\n", " ")
    serve = next(line for line in bash.splitlines() if line.strip().startswith("casebook serve"))
    token = re.search(r"\$\(casebook (users token create [^)]*)\)", bash)
    assert token, "the README's deployment makes no token"
    local = {"7860": str(app_port), INTRANET: allowed}
    args = [local.get(arg, arg) for arg in shlex.split(serve)[2:]]
    assert str(app_port) in args and allowed in args and "/casebook" in args, args
    return args, shlex.split(token.group(1)), set(re.findall(r"\b(CASEBOOK_\w+)=", bash))


def readme_snippets(casebook: str) -> str:
    """Return the README's two embedding snippets (the script tag, the iframe) for ``casebook``."""
    snippets = fenced(readme_section("Embedding the chat in another page"), "html")
    assert len(snippets) == 2 and all(f"{PUBLIC}/casebook/" in s for s in snippets), snippets
    return "\n".join(s.strip().replace(f"{PUBLIC}/casebook", casebook) for s in snippets)


@contextlib.contextmanager
def nginx(conf: Path, port: int) -> Iterator[None]:
    """Run nginx on ``conf`` until the block ends."""
    process = run_nginx(conf, f"http://127.0.0.1:{port}/casebook")
    try:
        yield
    finally:
        process.terminate()
        process.wait(timeout=10)


@contextlib.contextmanager
def web_server(app: object = None, folder: Path | None = None) -> Iterator[str]:
    """Serve a WSGI ``app`` or the files of ``folder`` on a port of its own; return its origin."""
    import werkzeug.serving

    if app is None:
        handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
        server: object = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    else:
        server = werkzeug.serving.make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()


@dataclass(frozen=True)
class Deployment:
    app: str  # casebook serve itself, on loopback
    casebook: str  # through nginx, under /casebook
    allowed: str  # an intranet page's origin, listed in --allowed-origins
    refused: str  # another intranet page's origin, not listed
    data_dir: Path
    page_token: str  # the README's token: a reader in no group
    ward_token: str  # a reader in ward-7


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory, embedder) -> Iterator[Deployment]:
    if not (NGINX.exists() and CHROMIUM.exists()):
        pytest.skip("Debian's nginx and Chromium are not installed: run `make test`, which installs them")
    from oidc_provider_mock import User
    from oidc_provider_mock import app as provider_app

    from ingest import ingest
    from vectorstore import Store

    root = tmp_path_factory.mktemp("deployment")
    library = root / "library"
    (library / "wards").mkdir(parents=True)
    shutil.copy(LIBRARY / "crisis-house-out-of-area.md", library)
    (library / "wards" / "kestrel-ward-restraint.md").write_text(KESTREL, encoding="utf-8")
    (library / "osprey-ledger.md").write_text(LEDGER, encoding="utf-8")
    (library / "access.yaml").write_text("wards/*: [ward-7]\n", encoding="utf-8")
    data_dir = root / "data"
    assert ingest([library], Store(data_dir), embedder).ok
    port, app_port = free_port(), free_port()
    casebook = f"http://127.0.0.1:{port}/casebook"
    users = [User(sub=name, claims={"preferred_username": name, "groups": g}) for name, g in STAFF.items()]
    with contextlib.ExitStack() as running:
        provider = running.enter_context(web_server(provider_app(user_claims=users)))
        origins = {}
        for name in ("allowed", "refused"):
            (root / name).mkdir()
            page = PAGE.format(name=name.title(), snippets=readme_snippets(casebook))
            (root / name / "index.html").write_text(page, encoding="utf-8")
            origins[name] = running.enter_context(web_server(folder=root / name))
        args, token_args, exported = readme_commands(app_port=app_port, allowed=origins["allowed"])
        callback = f"{casebook}/auth/callback"
        client = httpx.post(f"{provider}/oauth2/clients", json={"redirect_uris": [callback]}).json()
        env = {
            "CASEBOOK_OIDC_ISSUER": provider,
            "CASEBOOK_OIDC_CLIENT_ID": client["client_id"],
            "CASEBOOK_OIDC_CLIENT_SECRET": client["client_secret"],
            "CASEBOOK_OIDC_GROUPS_CLAIM": "groups",
            "CASEBOOK_OIDC_REDIRECT_URI": callback,
            # A sign-in gateway elsewhere may name users; nothing here (nginx included) is it.
            "CASEBOOK_TRUSTED_USER_HEADER": "X-Forwarded-User",
            "CASEBOOK_TRUSTED_GROUPS_HEADER": "X-Forwarded-Groups",
            "CASEBOOK_TRUSTED_PROXIES": "10.0.0.5",
        }
        assert exported <= env.keys(), exported - env.keys()
        ward = ["users", "token", "create", "ward-bot", "--role", "reader", "--groups", "ward-7"]
        tokens = [casebook_cli(*command, "--data-dir", str(data_dir)) for command in (token_args, ward)]
        assert [t.returncode for t in tokens] == [0, 0], [t.stderr for t in tokens]
        _, app = running.enter_context(serving(data_dir, *args, env=env, port=app_port))
        (root / "nginx").mkdir()
        (root / "nginx" / "nginx.conf").write_text(readme_nginx(root / "nginx", port=port, app_port=app_port))
        running.enter_context(nginx(root / "nginx" / "nginx.conf", port))
        page_token, ward_token = (t.stdout.strip() for t in tokens)
        allowed, refused = origins["allowed"], origins["refused"]
        yield Deployment(app, casebook, allowed, refused, data_dir, page_token, ward_token)


def problems_of(page, *origins: str) -> list[str]:
    """Collect the console errors (a CSP refusal is one), of pages and resources on ``origins`` when
    given: the sign-in provider's own page is not Casebook's to answer for, nor a missing favicon."""
    found: list[str] = []

    def seen(message) -> None:
        where = message.location.get("url", "")
        ours = where.startswith(origins) if origins else True
        if message.type == "error" and ours and not where.endswith("/favicon.ico"):
            found.append(f"{where}: {message.text}")

    page.on("console", seen)
    return found


def sign_in_inside(page, frame_selector: str, user: str):
    """Sign ``user`` in at the provider's page shown inside the frame; return the chat's frame."""
    frame = page.frame_locator(frame_selector)
    frame.locator(f"button[name=sub][value={user}]").click(timeout=60_000)
    frame.locator("#cb-question textarea").wait_for(timeout=90_000)
    return next(f for f in page.frames if "/casebook/" in f.url and "auth" not in f.url)


def fetch_api(page, url: str, question: str, token: str | None) -> list:
    """Call the API from the page's own script; return [status, cited titles] or [error name]."""
    return page.evaluate(
        """async ([url, question, token]) => {
            const headers = {'content-type': 'application/json'};
            if (token) { headers['authorization'] = 'Bearer ' + token; }
            try {
                const r = await fetch(url, {method: 'POST', headers, body: JSON.stringify({question})});
                const body = await r.json();
                return [r.status, (body.citations || []).map(c => c.title)];
            } catch (e) { return [e.name]; }
        }""",
        [url, question, token],
    )


@pytest.mark.browser
def test_the_documented_deployment_serves_an_intranet_safely(deployment: Deployment, chromium) -> None:  # noqa: F811
    d = deployment
    api = d.casebook + "/api/ask"
    # Unauthenticated calls through nginx get 401 JSON; so does a spoofed user header, through
    # nginx and straight from another local address, and a token keeps its own name whatever
    # header rides along.
    spoof = {"X-Forwarded-User": "ada", "X-Forwarded-Groups": "ward-7,board"}
    plain = httpx.post(api, json={"question": OAP}, timeout=60)
    assert plain.status_code == 401 and plain.json()["detail"].startswith("Sign-in required")
    assert plain.headers["server"].startswith("nginx")
    assert httpx.post(api, json={"question": RESTRAINT}, headers=spoof, timeout=60).status_code == 401
    with httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.3")) as direct:
        assert direct.post(d.app + "/api/ask", json={"question": RESTRAINT}, headers=spoof).status_code == 401
    me = httpx.get(d.casebook + "/auth/me", headers={**spoof, **bearer(d.page_token)}).json()
    assert (me["user"], me["groups"]) == ("intranet-page", [])
    assert httpx.get(d.casebook + "/api/health").json() == {"status": "ok"}

    # Nina (ward-7) opens the intranet page: the framed chat sends her to the trust's sign-in,
    # inside the frame, and back; she asks and gets the ward's restricted review.
    nina = chromium.new_context(viewport={"width": 1280, "height": 900})
    page = nina.new_page()
    problems = problems_of(page, d.casebook, d.allowed)
    page.goto(d.allowed + "/")
    chat = sign_in_inside(page, "iframe[title=Casebook]", "nina")
    bubble = ask(chat, RESTRAINT)
    assert "41 per cent" in bubble.inner_text() and KESTREL_TITLE in chat.locator("#cb-sources").inner_text()
    shot(page, "deployment-nina-embedded")
    # The script's button opens the same chat, already signed in, in a panel.
    page.locator("#casebook-embed-button").click()
    panel = page.frame_locator("#casebook-embed-panel iframe")
    panel.locator("#cb-question textarea").wait_for(timeout=90_000)
    panel_chat = next(
        f for f in page.frames if f.parent_frame == page.main_frame and f != chat and "/casebook/" in f.url
    )
    # The same user in the same browser: the panel carries on her conversation.
    resumed = panel_chat.locator('#cb-chat [data-testid="bot"]').first
    resumed.wait_for(timeout=30_000)
    assert "41 per cent" in resumed.inner_text()
    assert "crisis house" in ask(panel_chat, OAP, answers_before=1).inner_text().lower()
    shot(page, "deployment-nina-panel")
    # The page's own script calls the API with a token; without one it is told 401.
    assert fetch_api(page, api, RESTRAINT, d.ward_token) == [200, [KESTREL_TITLE]]
    status, titles = fetch_api(page, api, RESTRAINT, d.page_token)
    assert status == 200 and KESTREL_TITLE not in titles
    assert problems == [], problems
    assert fetch_api(page, api, OAP, None) == [401, []]
    nina.close()

    # Fred (finance) asks the same in the same page: the review is not his to read.
    fred = chromium.new_context(viewport={"width": 1280, "height": 900})
    page = fred.new_page()
    page.goto(d.allowed + "/")
    chat = sign_in_inside(page, "iframe[title=Casebook]", "fred")
    text = ask(chat, RESTRAINT).inner_text() + chat.locator("#cb-sources").inner_text()
    assert "41 per cent" not in text and "Kestrel ward" not in text
    osprey = ask(chat, "How much did the Osprey programme spend on agency nurses?")
    assert "2.4 million" in osprey.inner_text()
    shot(page, "deployment-fred-embedded")

    # A page on another origin can neither frame the chat nor call the API, token or not.
    refused = fred.new_page()
    problems = problems_of(refused)
    refused.goto(d.refused + "/")
    refused.locator("#casebook-embed-button").click()
    refused.wait_for_timeout(2000)
    assert all(frame.locator("#cb-question").count() == 0 for frame in refused.frames)
    assert len([p for p in problems if "frame-ancestors" in p]) == 2, problems
    assert fetch_api(refused, api, OAP, d.ward_token) == ["TypeError"]
    shot(refused, "deployment-refused-origin")
    fred.close()

    # The audit log: the spoofed requests are anonymous refusals, never "ada"; each signed-in
    # question is under its user, with the documents cited.
    rows = audit_rows(d.data_dir)
    assert "ada" not in {r["user"] for r in rows}
    denied = [r for r in rows if r["event"] == "denied" and r["detail"] == "POST /api/ask"]
    assert {(r["user"], r["address"]) for r in denied} >= {
        ("anonymous", "127.0.0.1"),
        ("anonymous", "127.0.0.3"),
    }
    cited: dict[tuple[str, str], set[str]] = {}
    for row in rows:
        if row["event"] == "ask":
            titles = {doc["title"] for doc in row["documents"] or []}
            cited.setdefault((row["user"], row["channel"]), set()).update(titles)
    assert KESTREL_TITLE in cited[("nina", "chat")] and KESTREL_TITLE not in cited[("fred", "chat")]
    assert (
        KESTREL_TITLE in cited[("ward-bot", "api")] and KESTREL_TITLE not in cited[("intranet-page", "api")]
    )
    assert {r["user"] for r in rows if r["event"] == "signin"} == {"nina", "fred"}
