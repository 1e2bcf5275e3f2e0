"""Casebook in an intranet: behind a real nginx at /casebook, embedded by pages on other origins,
called by OpenAI clients, and refusing every bad input with a clear 4xx.

One `casebook serve --root-path /casebook` and one nginx serve the whole module. nginx also
serves an intranet page on two more ports: one origin allowed by --allowed-origins, one not.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT, free_port, serving
from tests.test_browser import ask
from tests.test_web import OAP

NGINX = Path("/usr/sbin/nginx")
CHROMIUM = Path("/usr/bin/chromium")
RATE = 40  # per minute per client on this module's server
INTRANET_PAGE = """<!doctype html>
<html><head><title>Trust intranet</title></head>
<body><h1>Trust intranet</h1>
<iframe id="snippet" src="{casebook}/" title="Casebook" width="700" height="500"></iframe>
<script src="{casebook}/embed.js"></script>
</body></html>
"""
README = ROOT / "README.md"
NGINX_MAIN = """{user}
worker_processes 1;
error_log {dir}/error.log warn;
pid {dir}/nginx.pid;
events {{ worker_connections 256; }}
http {{
  access_log off;
  client_body_temp_path {dir}/body; proxy_temp_path {dir}/proxy; fastcgi_temp_path {dir}/fastcgi;
  uwsgi_temp_path {dir}/uwsgi; scgi_temp_path {dir}/scgi;
  types {{ text/html html; }}
{servers}
}}
"""


def readme_section(title: str) -> str:
    """Return the text of the README section headed ``### title``."""
    return README.read_text(encoding="utf-8").split(f"### {title}\n", 1)[1].split("\n### ", 1)[0]


def fenced(text: str, language: str) -> list[str]:
    """Return the code blocks of ``language`` in ``text``."""
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.DOTALL)


def readme_nginx(folder: Path, *, port: int, app_port: int, more: str = "") -> str:
    """Return an nginx.conf running the server block of README's "Behind nginx, under a sub-path"
    on 127.0.0.1:``port`` in plain HTTP (and the ``more`` server blocks), for ``casebook serve``
    on ``app_port``: the documented deployment is the tested one."""
    block = fenced(readme_section("Behind nginx, under a sub-path"), "nginx")[0]
    local = block.replace("listen 443 ssl;", f"listen 127.0.0.1:{port};")
    local = local.replace("http://127.0.0.1:7860/", f"http://127.0.0.1:{app_port}/")
    assert f"127.0.0.1:{port};" in local and f"127.0.0.1:{app_port}/" in local, "README's nginx changed"
    user = "user root;" if os.geteuid() == 0 else ""
    return NGINX_MAIN.format(user=user, dir=folder, servers=local + more)


@dataclass(frozen=True)
class Site:
    app: str  # casebook serve itself
    casebook: str  # through nginx, under /casebook
    allowed: str  # an intranet page's origin listed in --allowed-origins
    refused: str  # an intranet page's origin that is not


def start_nginx(folder: Path, **ports: int) -> subprocess.Popen:
    """Start nginx on ``folder``/nginx.conf in the foreground; return it once it listens."""
    pages = "".join(
        f"  server {{ listen 127.0.0.1:{ports[name]}; root {folder}/pages; }}\n"
        for name in ("allowed_port", "refused_port")
    )
    conf = readme_nginx(folder, port=ports["port"], app_port=ports["app_port"], more=pages)
    (folder / "nginx.conf").write_text(conf)
    return run_nginx(folder / "nginx.conf", f"http://127.0.0.1:{ports['allowed_port']}/")


def run_nginx(conf: Path, probe: str) -> subprocess.Popen:
    """Start nginx on ``conf`` in the foreground; return it once ``probe`` answers."""
    process = subprocess.Popen(
        [str(NGINX), "-c", str(conf), "-g", "daemon off;"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"nginx exited: {process.stdout.read()}")
        try:
            httpx.get(probe, timeout=2)
            return process
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise AssertionError("nginx did not start within 20 s")


@pytest.fixture(scope="module")
def site(library_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    if not NGINX.exists():
        pytest.skip("Debian's nginx is not installed: run `make test`, which installs it")
    port, allowed_port, refused_port = free_port(), free_port(), free_port()
    allowed = f"http://127.0.0.1:{allowed_port}"
    env = {
        "CASEBOOK_ROOT_PATH": "/casebook",
        "CASEBOOK_ALLOWED_ORIGINS": allowed,
        "CASEBOOK_RATE_LIMIT": f"{RATE}/minute",
    }
    with serving(library_dir, env=env) as (_, app):
        folder = tmp_path_factory.mktemp("nginx")
        (folder / "pages").mkdir()
        casebook = f"http://127.0.0.1:{port}/casebook"
        (folder / "pages" / "index.html").write_text(INTRANET_PAGE.format(casebook=casebook))
        app_port = int(app.rsplit(":", 1)[1])
        nginx = start_nginx(
            folder, port=port, app_port=app_port, allowed_port=allowed_port, refused_port=refused_port
        )
        try:
            yield Site(app, casebook, allowed, f"http://127.0.0.1:{refused_port}")
        finally:
            nginx.terminate()
            nginx.wait(timeout=10)


def post(site: Site, path: str, body: bytes | dict, **headers: str) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"content-type": "application/json", **headers}
    return httpx.post(site.casebook + path, content=content, headers=headers, timeout=60)


BAD_INPUTS = [
    # (body, status, exact message)
    (
        {"question": "x" * 1_000_000},
        413,
        "The question is 1,000,000 characters; the limit is 2,000. Shorten it.",
    ),
    (
        {"question": "y" * 1_500_000},  # over Casebook's 1 MiB, under the README's nginx 2 MiB
        413,
        "Request body too large: the limit is 1,048,576 bytes (CASEBOOK_MAX_REQUEST_BYTES).",
    ),
    (
        b'{"question": "How did \\ud800 trusts cut placements?"}',
        400,
        "question: not valid Unicode (a lone UTF-16 surrogate?); send valid Unicode text.",
    ),
    (
        {"question": OAP, "filters": ["year>=2017"] * 2000},
        413,
        "filters: List should have at most 20 items after validation, not 2000 (got 2,000).",
    ),
    (
        {"question": OAP, "filters": ["trust=" + "z" * 100_000]},
        413,
        "filters.0: String should have at most 200 characters (got 100,006).",
    ),
    ({"question": ""}, 400, "question: String should have at least 1 character."),
    ({"question": OAP, "k": 0}, 400, "k: Input should be greater than or equal to 1."),
    (b'{"question": ', 400, "The request body is not valid JSON."),
]


@pytest.mark.parametrize(("body", "status", "message"), BAD_INPUTS)
def test_every_bad_input_gets_a_clear_4xx_that_never_echoes_it(site: Site, body, status, message) -> None:
    response = post(site, "/api/ask", body)
    assert (response.status_code, response.json()) == (status, {"detail": message})
    assert "xxxxxxxxxx" not in response.text and "zzzzzzzzzz" not in response.text


def test_errors_are_json_with_the_right_status(site: Site) -> None:
    missing = httpx.get(site.casebook + "/api/no-such-thing", timeout=10)
    assert (missing.status_code, missing.json()) == (404, {"detail": "Not Found"})
    chat = post(site, "/v1/chat/completions", {"messages": [{"role": "user", "content": "q" * 5000}]})
    assert chat.status_code == 413
    assert chat.json() == {"detail": "The question is 5,000 characters; the limit is 2,000. Shorten it."}


def test_every_response_carries_the_security_headers(site: Site) -> None:
    pages = ["/", "/api/health", "/api/docs", "/embed.js", "/documents/0000000000000000"]
    for path in pages:
        headers = httpx.get(site.casebook + path, timeout=30).headers
        assert headers["x-content-type-options"] == "nosniff", path
        assert headers["referrer-policy"] == "no-referrer", path
        csp = headers["content-security-policy"]
        assert f"frame-ancestors 'self' {site.allowed}" in csp and site.refused not in csp, path
        assert "'unsafe-inline'" not in [*csp.split("script-src"), ""][1].split(";")[0], path
    assert post(site, "/api/ask", {"question": "z" * 1_500_000}).headers["x-content-type-options"]
    # CORS answers the allowed origin only.
    for origin, allowed in ((site.allowed, True), (site.refused, False)):
        preflight = httpx.options(
            site.casebook + "/api/ask",
            headers={"origin": origin, "access-control-request-method": "POST"},
            timeout=10,
        )
        assert (preflight.headers.get("access-control-allow-origin") == origin) is allowed


def test_rate_limit_is_per_client_with_retry_after(site: Site) -> None:
    # Two real clients: connections from two loopback addresses (Linux routes all of 127/8 to lo).
    # A client cannot pick its own key: X-Forwarded-For is never believed.
    def bad_request(client: str, forwarded: str = "10.9.0.1") -> httpx.Response:
        with httpx.Client(transport=httpx.HTTPTransport(local_address=client)) as http:
            return http.post(
                site.app + "/api/ask", json={"question": ""}, headers={"x-forwarded-for": forwarded}
            )

    codes = [bad_request("127.0.0.7").status_code for _ in range(RATE)]
    assert codes == [400] * RATE
    refused = bad_request("127.0.0.7", forwarded="10.9.0.2")
    assert refused.status_code == 429
    assert refused.json()["detail"].startswith(f"Too many requests: the limit is {RATE} per 1 minute.")
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert bad_request("127.0.0.8").status_code == 400  # another client is not held back


def test_gradio_routes_refuse_long_questions(site: Site) -> None:
    from gradio_client import Client
    from gradio_client.exceptions import AppError

    client = Client(site.casebook + "/", verbose=False)
    with pytest.raises(AppError, match="The question is 3,000 characters; the limit is 2,000"):
        client.predict("w" * 3000, api_name="/ask")
    big = post(site, "/gradio_api/call/ask", {"data": ["w" * 2_000_000]})
    assert big.status_code == 413 and "w" * 100 not in big.text
    # Still answers a question of a normal length, through the proxy.
    assert "[1]" in client.predict(OAP, api_name="/ask")["answer"]


def test_openai_clients_get_the_cited_answer(site: Site) -> None:
    from openai import OpenAI

    client = OpenAI(base_url=site.casebook + "/v1", api_key="unused", max_retries=0)
    question = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": OAP}]
    completion = client.chat.completions.create(model="casebook", messages=question)
    text = completion.choices[0].message.content
    citations = completion.model_extra["citations"]
    assert "[1]" in text and "crisis house" in text.lower()
    assert citations[0]["n"] == 1 and "crisis house" in citations[0]["text"].lower()
    assert citations[0]["url"].startswith(site.casebook + "/documents/")
    assert f"\nSources:\n[1] {citations[0]['title']}" in text and citations[0]["url"] in text
    streamed = client.chat.completions.create(model="casebook", messages=question, stream=True)
    assert "".join(chunk.choices[0].delta.content or "" for chunk in streamed) == text


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.skip("Debian's Chromium is not installed: run `make test`, which installs it")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield chromium
        chromium.close()


def favicon(message) -> bool:
    # Chromium asks every origin's root for /favicon.ico; neither nginx's root nor the intranet has one.
    return message.location.get("url", "").endswith("/favicon.ico")


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.problems = []  # console errors (a CSP refusal is one) and failed requests
    page.requested = []
    page.on("console", lambda m: m.type == "error" and not favicon(m) and page.problems.append(m.text))
    page.on("request", lambda r: page.requested.append(r.url))
    # Gradio closes its event stream itself when an answer is complete (net::ERR_ABORTED).
    page.on("requestfailed", lambda r: "ABORTED" not in r.failure and page.problems.append(r.url))
    yield page
    context.close()


@pytest.mark.browser
def test_chat_works_under_the_sub_path_behind_nginx(page, site: Site) -> None:
    page.goto(site.casebook + "/")
    page.wait_for_selector("#cb-question textarea")
    bubble = ask(page, OAP)
    assert "crisis house" in bubble.inner_text().lower()
    with page.expect_popup() as popup:
        bubble.locator("a.cb-ref").first.click()
    opened = popup.value
    opened.wait_for_load_state()
    assert opened.url.startswith(site.casebook + "/documents/") and "crisis house" in opened.content().lower()
    footer = page.locator("footer.cb-footer a", has_text="API")
    assert footer.evaluate("a => a.href") == site.casebook + "/api/docs"
    # Every asset and API call went through the proxy's sub-path; none failed, no CSP refusal.
    assert [u for u in page.requested if not u.startswith(site.casebook + "/")] == []
    assert page.problems == [], page.problems


@pytest.mark.browser
def test_api_docs_load_from_local_files(page, site: Site) -> None:
    page.goto(site.casebook + "/api/docs")
    page.locator(".opblock-summary-path", has_text="/api/ask").wait_for(timeout=30_000)
    assert [u for u in page.requested if not u.startswith(site.casebook + "/")] == []
    assert page.problems == [], page.problems


@pytest.mark.browser
def test_allowed_origin_embeds_the_chat_and_calls_the_api(page, site: Site) -> None:
    page.goto(site.allowed + "/")
    # The iframe snippet shows the chat.
    page.frame_locator("#snippet").locator("#cb-question textarea").wait_for(timeout=60_000)
    # The script's button opens the chat in a panel, and Escape closes it.
    page.locator("#casebook-embed-button").click()
    panel = page.frame_locator("#casebook-embed-panel iframe")
    panel.locator("#cb-question textarea").wait_for(timeout=60_000)
    assert page.locator("#casebook-embed-panel").is_visible()
    page.keyboard.press("Escape")
    assert page.locator("#casebook-embed-panel").is_hidden()
    # The page's own script may call the API (CORS).
    answer = page.evaluate(
        """async (url) => {
            const r = await fetch(url, {method: 'POST', headers: {'content-type': 'application/json'},
                                        body: JSON.stringify({question: QUESTION})});
            return [r.status, (await r.json()).citations.length];
        }""".replace("QUESTION", json.dumps(OAP)),
        site.casebook + "/api/ask",
    )
    assert answer[0] == 200 and answer[1] >= 1
    assert page.problems == [], page.problems


@pytest.mark.browser
def test_other_origin_cannot_frame_the_chat_or_call_the_api(page, site: Site) -> None:
    page.goto(site.refused + "/")
    page.locator("#casebook-embed-button").click()
    page.wait_for_timeout(1500)
    for frame in page.frames[1:]:  # both frames were refused: neither holds the chat
        assert frame.locator("#cb-question").count() == 0
    refusals = [p for p in page.problems if "frame-ancestors" in p]
    assert len(refusals) == 2, page.problems
    called = page.evaluate(
        """async (url) => {
            try { await fetch(url, {method: 'POST', headers: {'content-type': 'application/json'},
                                    body: '{"question": "q"}'}); return 'answered'; }
            catch (e) { return e.name; }
        }""",
        site.casebook + "/api/ask",
    )
    assert called == "TypeError"


def test_nginx_is_what_serves_the_sub_path(site: Site) -> None:
    response = httpx.get(site.casebook.removesuffix("/casebook") + "/casebook", timeout=10)
    assert response.status_code == 301 and response.headers["location"].endswith("/casebook/")
    assert response.headers["server"].startswith("nginx")
