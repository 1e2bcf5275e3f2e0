"""Sign-in, roles and audit over real HTTP: `casebook serve` in a subprocess, a real OIDC provider.

The trusted-header rule depends on the connecting address, so it is tested against a real server
with CASEBOOK_TRUSTED_PROXIES set to another address (the header is ignored) and to 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import httpx
import pytest
import werkzeug.serving

from tests.conftest import LIBRARY, free_port, make_casebook, serving, start_serve, stop

OAP = "How did trusts reduce out-of-area placements?"
BROWSER = {"Accept": "text/html,application/xhtml+xml"}


def casebook_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "assistant.cli", *args],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )


def audit_rows(data_dir: Path) -> list[dict]:
    out = casebook_cli("audit", "export", "--since", "2000-01-01", "--data-dir", str(data_dir))
    assert out.returncode == 0, out.stderr
    return [json.loads(line) for line in out.stdout.splitlines()]


@pytest.fixture(scope="module")
def small_library(tmp_path_factory: pytest.TempPathFactory, embedder) -> Path:
    """An index of two sample documents, built once for this module (copied per server)."""
    from ingest import ingest

    data_dir = tmp_path_factory.mktemp("auth-library")
    files = [LIBRARY / "crisis-house-out-of-area.md", LIBRARY / "calderstones-learning-disability.md"]
    assert ingest(files, make_casebook(data_dir, embedder).store, embedder).ok
    return data_dir


def fresh(small_library: Path, tmp_path_factory: pytest.TempPathFactory, name: str) -> Path:
    import shutil

    target = tmp_path_factory.mktemp(name) / "data"
    shutil.copytree(small_library, target)
    return target


# --- tokens and an untrusted proxy header --------------------------------------------------------


@pytest.fixture(scope="module")
def token_server(small_library: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """A server with three tokens and a proxy header believed only from 10.9.9.9 (not us)."""
    data_dir = fresh(small_library, tmp_path_factory, "tokens")
    tokens = {}
    for name, role, groups in [("rita", "reader", "finance"), ("ed", "editor", ""), ("ada", "admin", "")]:
        made = casebook_cli(
            "users", "token", "create", name, "--role", role, "--groups", groups, "--data-dir", str(data_dir)
        )
        assert made.returncode == 0, made.stderr
        tokens[name] = made.stdout.strip()
    env = {
        "CASEBOOK_TRUSTED_USER_HEADER": "X-Forwarded-User",
        "CASEBOOK_TRUSTED_GROUPS_HEADER": "X-Forwarded-Groups",
        "CASEBOOK_TRUSTED_PROXIES": "10.9.9.9",
    }
    with serving(data_dir, env=env) as (_, url):
        yield {"url": url, "data_dir": data_dir, "tokens": tokens}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_token_create_prints_the_token_alone_and_stores_only_its_hash(token_server: dict) -> None:
    token = token_server["tokens"]["rita"]
    assert re.fullmatch(r"cb_[A-Za-z0-9_-]{43}", token)
    stored = (token_server["data_dir"] / "users.db").read_bytes()
    assert token.encode() not in stored
    listed = casebook_cli("users", "list", "--json", "--data-dir", str(token_server["data_dir"]))
    rows = {t["name"]: t for t in json.loads(listed.stdout)["tokens"]}
    assert rows["rita"]["role"] == "reader" and rows["rita"]["groups"] == ["finance"]
    assert rows["ada"]["role"] == "admin" and token not in listed.stdout


def test_a_duplicate_name_is_refused_with_the_fix(token_server: dict) -> None:
    again = casebook_cli(
        "users", "token", "create", "rita", "--role", "admin", "--data-dir", str(token_server["data_dir"])
    )
    assert again.returncode == 1 and again.stdout == ""
    assert again.stderr.strip() == (
        "Error: A token named 'rita' exists. Revoke it first: casebook users token revoke rita"
    )


def test_unauthenticated_calls_get_401_json_even_from_loopback(token_server: dict) -> None:
    url = token_server["url"]
    for method, path, body in [
        ("POST", "/api/ask", {"question": OAP}),
        ("POST", "/gradio_api/call/ask", {"data": [OAP]}),
        ("GET", "/gradio_api/info", None),
        ("GET", "/api/audit?since=2000-01-01", None),
    ]:
        response = httpx.request(method, url + path, json=body, timeout=30)
        assert response.status_code == 401, path
        assert response.headers["content-type"] == "application/json"
        assert response.json()["detail"].startswith("Sign-in required")
        assert response.headers["www-authenticate"] == 'Bearer realm="casebook"'
    wrong = httpx.post(url + "/api/ask", json={"question": OAP}, headers=bearer("cb_" + "x" * 43), timeout=30)
    assert wrong.status_code == 401


def test_the_chat_page_shows_a_clear_401_page_without_oidc(token_server: dict) -> None:
    page = httpx.get(token_server["url"] + "/", headers=BROWSER, timeout=30)
    assert page.status_code == 401 and "text/html" in page.headers["content-type"]
    assert "<h1>Sign-in required</h1>" in page.text and "gradio" not in page.text.lower()
    signed = httpx.get(
        token_server["url"] + "/", headers={**BROWSER, **bearer(token_server["tokens"]["rita"])}
    )
    assert signed.status_code == 200 and "gradio" in signed.text.lower()


def test_a_reader_asks_and_the_audit_log_records_who_what_and_which_documents(token_server: dict) -> None:
    url, tokens = token_server["url"], token_server["tokens"]
    response = httpx.post(
        url + "/api/ask", json={"question": OAP}, headers=bearer(tokens["rita"]), timeout=120
    )
    assert response.status_code == 200
    answer = response.json()
    assert answer["citations"] and re.fullmatch(r"[0-9a-f]{32}", answer["answer_id"])
    row = next(r for r in audit_rows(token_server["data_dir"]) if r["answer_id"] == answer["answer_id"])
    assert (row["event"], row["user"], row["role"], row["method"]) == ("ask", "rita", "reader", "token")
    assert row["groups"] == "finance" and row["question"] == OAP and row["channel"] == "api"
    cited = {c["url"].split("?")[0].rsplit("/", 1)[1]: c["title"] for c in answer["citations"]}
    assert {d["doc_id"]: d["title"] for d in row["documents"]} == cited


def test_roles_reader_editor_admin(token_server: dict) -> None:
    url, tokens = token_server["url"], token_server["tokens"]
    reader_upload = httpx.post(url + "/api/documents", headers=bearer(tokens["rita"]), timeout=30)
    assert reader_upload.status_code == 403
    assert reader_upload.json() == {"detail": "This needs the editor role; rita is a reader"}
    assert httpx.delete(url + "/api/documents/abc", headers=bearer(tokens["rita"])).status_code == 403
    # Editors pass the check: an upload without a file is a 400, an unknown document a 404.
    assert httpx.post(url + "/api/documents", headers=bearer(tokens["ed"])).status_code == 400
    assert httpx.delete(url + "/api/documents/abc", headers=bearer(tokens["ed"])).status_code == 404
    assert httpx.get(url + "/api/users", headers=bearer(tokens["ed"])).status_code == 403
    audit = httpx.get(url + "/api/audit?since=2000-01-01", headers=bearer(tokens["rita"]))
    assert audit.status_code == 403
    users = httpx.get(url + "/api/users", headers=bearer(tokens["ada"]))
    assert users.status_code == 200 and {u["name"] for u in users.json()} == {"rita", "ed", "ada"}
    assert all("token" not in u for u in users.json())
    streamed = httpx.get(url + "/api/audit?since=2000-01-01&format=csv", headers=bearer(tokens["ada"]))
    assert streamed.status_code == 200 and streamed.text.startswith("time,event,user,")


def test_a_spoofed_user_header_from_an_untrusted_address_is_ignored_and_audited_anonymous(
    token_server: dict,
) -> None:
    url = token_server["url"]
    spoof = {"X-Forwarded-User": "ada", "X-Forwarded-Groups": "board", "X-Forwarded-For": "10.9.9.9"}
    response = httpx.post(url + "/api/ask", json={"question": OAP}, headers=spoof, timeout=30)
    assert response.status_code == 401
    # With a real token, the header is stripped before the app sees it: rita stays rita.
    me = httpx.get(url + "/auth/me", headers={**spoof, **bearer(token_server["tokens"]["rita"])})
    assert me.json() == {"user": "rita", "role": "reader", "groups": ["finance"], "method": "token"}
    denied = [r for r in audit_rows(token_server["data_dir"]) if r["event"] == "denied"]
    assert any(r["detail"] == "POST /api/ask" and r["user"] == "anonymous" for r in denied)
    assert all(r["user"] != "ada" or r["method"] == "token" for r in audit_rows(token_server["data_dir"]))


def test_a_revoked_token_stops_working_at_once(token_server: dict) -> None:
    data_dir = str(token_server["data_dir"])
    made = casebook_cli("users", "token", "create", "temp", "--role", "reader", "--data-dir", data_dir)
    token = made.stdout.strip()
    url = token_server["url"] + "/auth/me"
    assert httpx.get(url, headers=bearer(token)).json()["user"] == "temp"
    revoked = casebook_cli("users", "token", "revoke", "temp", "--data-dir", data_dir)
    assert revoked.returncode == 0
    assert httpx.get(url, headers=bearer(token)).status_code == 401
    again = casebook_cli("users", "token", "revoke", "temp", "--data-dir", data_dir)
    assert again.returncode == 1 and "no token named 'temp'" in again.stderr


# --- a trusted proxy and OpenID Connect ----------------------------------------------------------


@pytest.fixture(scope="module")
def provider() -> Iterator[str]:
    """A real OpenID Connect provider (oidc-provider-mock: discovery, authorize, token, JWKS)."""
    from oidc_provider_mock import User, app

    users = [
        User(sub="alice", claims={"preferred_username": "alice", "groups": ["finance", "editors"]}),
        User(sub="bob", claims={"preferred_username": "bob", "groups": "ward-7"}),
    ]
    server = werkzeug.serving.make_server("127.0.0.1", 0, app(user_claims=users), threaded=True)
    import threading

    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture(scope="module")
def proxy_server(
    small_library: Path, tmp_path_factory: pytest.TempPathFactory, provider: str
) -> Iterator[dict]:
    """A server trusting the proxy header from 127.0.0.1, and signing browsers in with OIDC."""
    port = free_port()
    client = httpx.post(
        provider + "/oauth2/clients", json={"redirect_uris": [f"http://127.0.0.1:{port}/auth/callback"]}
    ).json()
    data_dir = fresh(small_library, tmp_path_factory, "proxy")
    env = {
        "CASEBOOK_TRUSTED_USER_HEADER": "X-Forwarded-User",
        "CASEBOOK_TRUSTED_GROUPS_HEADER": "X-Forwarded-Groups",
        "CASEBOOK_TRUSTED_PROXIES": "127.0.0.1, 10.0.0.0/8",
        "CASEBOOK_OIDC_ISSUER": provider,
        "CASEBOOK_OIDC_CLIENT_ID": client["client_id"],
        "CASEBOOK_OIDC_CLIENT_SECRET": client["client_secret"],
        "CASEBOOK_EDITOR_GROUPS": "editors",
        "CASEBOOK_ADMIN_GROUPS": "board",
        "CASEBOOK_AUDIT_QUESTIONS": "false",
    }
    with serving(data_dir, env=env, port=port) as (_, url):
        yield {"url": url, "data_dir": data_dir}


def test_the_header_from_a_trusted_proxy_signs_in_with_groups_and_role(proxy_server: dict) -> None:
    url = proxy_server["url"]
    me = httpx.get(
        url + "/auth/me", headers={"X-Forwarded-User": "carol", "X-Forwarded-Groups": "board, ward-7"}
    )
    assert me.json() == {"user": "carol", "role": "admin", "groups": ["board", "ward-7"], "method": "header"}
    asked = httpx.post(
        url + "/api/ask", json={"question": OAP}, headers={"X-Forwarded-User": "dan"}, timeout=120
    )
    assert asked.status_code == 200
    assert httpx.post(url + "/api/ask", json={"question": OAP}).status_code == 401


def test_metadata_only_audit_keeps_no_question_text(proxy_server: dict) -> None:
    url = proxy_server["url"]
    asked = httpx.post(
        url + "/api/ask", json={"question": OAP}, headers={"X-Forwarded-User": "erin"}, timeout=120
    )
    row = next(r for r in audit_rows(proxy_server["data_dir"]) if r["answer_id"] == asked.json()["answer_id"])
    assert row["user"] == "erin" and row["method"] == "header" and row["question"] is None
    assert row["documents"]
    assert OAP.encode() not in (proxy_server["data_dir"] / "audit.db").read_bytes()


def sign_in(url: str, subject: str) -> httpx.Client:
    """Return a client signed in through the provider's real authorization-code flow."""
    client = httpx.Client(follow_redirects=True, timeout=60)  # its own cookie jar: one browser
    form = client.get(url + "/", headers=BROWSER)  # -> /auth/login -> the provider's authorize page
    assert form.status_code == 200 and "Authorize" in form.text and form.url.path == "/oauth2/authorize"
    done = client.post(str(form.url), data={"sub": subject}, headers=BROWSER)
    assert done.status_code == 200 and str(done.url) == url + "/", done.text[:300]
    return client


def test_oidc_sign_in_with_groups_from_the_claim(proxy_server: dict) -> None:
    url = proxy_server["url"]
    alice = sign_in(url, "alice")
    with closing(alice):
        assert alice.get(url + "/").text.lower().count("gradio") > 0
        me = alice.get(url + "/auth/me").json()
        assert me == {"user": "alice", "role": "editor", "groups": ["finance", "editors"], "method": "oidc"}
        assert alice.post(url + "/api/ask", json={"question": OAP}).status_code == 200
        alice.get(url + "/auth/logout")
        assert alice.get(url + "/auth/me").status_code == 401
    bob = sign_in(url, "bob")
    with closing(bob):  # a groups claim given as one string
        assert bob.get(url + "/auth/me").json()["groups"] == ["ward-7"]
    rows = audit_rows(proxy_server["data_dir"])
    assert [r["user"] for r in rows if r["event"] == "signin"][-2:] == ["alice", "bob"]


def test_a_forged_callback_is_refused(proxy_server: dict) -> None:
    response = httpx.get(proxy_server["url"] + "/auth/callback?code=abc&state=forged", timeout=30)
    assert response.status_code == 401 and "Sign-in failed (mismatching_state)" in response.text


def test_a_page_redirects_to_sign_in_and_back_to_where_it_was(proxy_server: dict) -> None:
    url = proxy_server["url"]
    first = httpx.get(url + "/documents/abc?q=x", headers=BROWSER, timeout=30)
    assert first.status_code == 303
    assert first.headers["location"] == "/auth/login?next=%2Fdocuments%2Fabc%3Fq%3Dx"
    outside = httpx.get(url + "/auth/login?next=//evil.example/", timeout=30, follow_redirects=False)
    assert outside.status_code == 302  # to the provider; the unsafe next is dropped


# --- serving beyond loopback ----------------------------------------------------------------------


def test_serve_beyond_loopback_with_no_method_refuses_in_one_line(tmp_path: Path) -> None:
    refused = casebook_cli("serve", "--host", "0.0.0.0", "--data-dir", str(tmp_path / "data"))
    assert refused.returncode == 1 and refused.stdout == ""
    assert refused.stderr.strip() == (
        "Error: Refusing to serve on 0.0.0.0 with no sign-in: create a token (casebook users token "
        "create NAME --role reader), set CASEBOOK_TRUSTED_USER_HEADER or CASEBOOK_OIDC_ISSUER, "
        "or pass --insecure-no-auth"
    )
    headless = casebook_cli(
        "serve",
        "--data-dir",
        str(tmp_path / "data"),
        env={"CASEBOOK_TRUSTED_USER_HEADER": "X-Forwarded-User"},
    )
    assert headless.returncode == 1
    assert headless.stderr.strip() == (
        "Error: CASEBOOK_TRUSTED_USER_HEADER is set but CASEBOOK_TRUSTED_PROXIES is empty: "
        "set it to your reverse proxy's address (e.g. 10.0.0.5 or 10.0.0.0/24)"
    )


def test_insecure_no_auth_warns_on_every_page(small_library: Path, tmp_path_factory) -> None:
    data_dir = fresh(small_library, tmp_path_factory, "insecure")
    process, url = start_serve(data_dir, "--host", "0.0.0.0", "--insecure-no-auth")
    try:
        chat = httpx.get(url + "/", headers=BROWSER, timeout=30)
        assert chat.status_code == 200 and 'id="cb-insecure-banner"' in chat.text
        assert "running without sign-in (--insecure-no-auth)" in chat.text
        assert int(chat.headers["content-length"]) == len(chat.content)
        asked = httpx.post(url + "/api/ask", json={"question": OAP}, timeout=120).json()
        doc = asked["citations"][0]["url"]
        page = httpx.get(url + doc, headers=BROWSER, timeout=30)
        assert page.status_code == 200 and 'id="cb-insecure-banner"' in page.text
        # Nobody signed in, whatever a client claims: the audit says anonymous.
        spoofed = httpx.post(url + "/api/ask", json={"question": OAP}, headers={"X-Forwarded-User": "ada"})
        assert spoofed.status_code == 200
    finally:
        output = stop(process)
    assert "Warning: no sign-in on 0.0.0.0 (--insecure-no-auth)" in output
    assert {r["user"] for r in audit_rows(data_dir)} == {"anonymous"}


# --- retention -----------------------------------------------------------------------------------


def test_retention_prunes_old_audit_rows_and_ratings_and_export_streams_csv(tmp_path: Path) -> None:
    import datetime as dt
    import sqlite3

    from assistant.answers import Answer
    from assistant.feedback import FeedbackLog
    from assistant.web.audit import AuditLog
    from assistant.web.users import Identity

    data_dir = tmp_path / "data"
    log = AuditLog(data_dir, retention_days=30)
    rita = Identity("rita", "reader", ("finance",), "token")
    log.answered(rita, Answer("old question", "text", False), channel="api")
    log.answered(rita, Answer('new, "quoted" question', "text", False), channel="api")
    old = (dt.datetime.now(dt.UTC) - dt.timedelta(days=31)).isoformat(timespec="seconds")
    with sqlite3.connect(data_dir / "audit.db") as db:
        db.execute("UPDATE events SET time = ? WHERE question = 'old question'", (old,))
    feedback = FeedbackLog(data_dir)
    feedback.record(Answer("q1", "a", False), "up")
    feedback.record(Answer("q2", "a", False), "down")
    lines = feedback.path.read_text().splitlines()
    feedback.path.write_text(lines[0].replace(json.loads(lines[0])["time"], old) + "\n" + lines[1] + "\n")

    assert log.prune() == (1, 1)
    assert [e["question"] for e in feedback.entries()] == ["q2"]
    out = casebook_cli(
        "audit", "export", "--since", "2000-01-01", "--format", "csv", "--data-dir", str(data_dir),
        env={"CASEBOOK_AUDIT_RETENTION_DAYS": "30"},
    )  # fmt: skip
    rows = out.stdout.splitlines()
    assert (
        rows[0]
        == "time,event,user,method,role,groups,channel,address,status,question,answer_id,documents,detail"
    )
    assert len(rows) == 2 and ',rita,token,reader,finance,api,,200,"new, ""quoted"" question",' in rows[1]
    bad = casebook_cli("audit", "export", "--since", "last week", "--data-dir", str(data_dir))
    assert bad.returncode == 1
    assert bad.stderr.strip() == (
        "Error: --since 'last week' is not a date: use e.g. 2025-01-31 or 2025-01-31T09:00"
    )


def test_the_gradio_api_knows_the_token_holder(token_server: dict) -> None:
    from gradio_client import Client

    client = Client(token_server["url"] + "/", verbose=False, headers=bearer(token_server["tokens"]["ed"]))
    result = client.predict(OAP, api_name="/ask")
    row = next(r for r in audit_rows(token_server["data_dir"]) if r["answer_id"] == result["answer_id"])
    assert (row["user"], row["role"], row["channel"]) == ("ed", "editor", "gradio-api")
