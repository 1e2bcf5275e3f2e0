"""Casebook's settings: one typed object, read from ``CASEBOOK_*`` variables, built by the CLI.

Precedence is flag > environment variable > default. Nothing here is read at import time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

_CHECKOUT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Everything a Casebook run can be configured with."""

    model_config = SettingsConfigDict(env_prefix="CASEBOOK_", extra="ignore", frozen=True)

    data_dir: Path = Field(
        default=_CHECKOUT / "data",
        description="Folder holding the index (Chroma files, BM25 index, index.json, feedback).",
    )
    chroma_url: str | None = Field(
        default=None,
        description="URL of a Chroma server (e.g. http://127.0.0.1:8000); unset: embedded Chroma.",
    )
    embed_model_path: Path | None = Field(
        default=None,
        description="Folder of a sentence-transformers model; unset: the bundled all-MiniLM-L6-v2.",
    )
    embed_backend: Literal["torch", "torch-int8"] = Field(
        default="torch",
        description=(
            "How the embedding model runs: torch (fp32) or torch-int8 (Linear layers quantised to "
            "int8 at load; faster on CPU). Recorded in the index; an index is read with the backend "
            "that built it."
        ),
    )
    embed_precision: Literal["auto", "fp32", "bf16"] = Field(
        default="auto",
        description=(
            "How ingestion reads passages with the torch backend: bf16 matrix products (about 1.8x "
            "faster where the CPU has bf16 instructions, vectors about 1e-5 from fp32's in cosine), "
            "fp32, or auto (bf16 only on such a CPU). Questions and answers are encoded in fp32."
        ),
    )
    sentence_vectors: Literal["pooled", "alone"] = Field(
        default="pooled",
        description=(
            "How ingestion makes sentence vectors: pooled from the passage's forward pass (no "
            "second encode) or alone (each 'title sentence' encoded by itself: the answerer's own "
            "vectors, 0.01 higher SciFact nDCG@10, about twice the encoding). Recorded in the index."
        ),
    )
    chunk_tokens: int = Field(
        default=200, ge=32, le=512, description="Chunk size in the embedding model's wordpieces."
    )
    chunk_overlap: int = Field(
        default=30, ge=0, le=128, description="Wordpieces shared by neighbouring chunks."
    )
    top_k: int = Field(default=5, ge=1, le=50, description="Passages retrieved per question.")
    wider_k: int = Field(
        default=3,
        ge=0,
        le=50,
        description="Passages more read, before abstaining, when none of the first top_k answers "
        "(staff wording may rank the answering passage just below them).",
    )
    neighbours: int = Field(
        default=2,
        ge=0,
        le=10,
        description="The best passages whose neighbours in their document (before and after) are "
        "also given to the answerer.",
    )
    answer_stored_vectors: bool = Field(
        default=False,
        description=(
            "Score the answer's candidate sentences with the sentence vectors stored at ingest "
            "(encoding only those missing) instead of encoding them per question. Off: the stored "
            "vectors are pooled from their passage and quote less well (docs/benchmarks.md)."
        ),
    )
    prepare_answers: bool = Field(
        default=True,
        description=(
            "While idle, `casebook serve` encodes ahead every sentence an answer may quote (what "
            "`casebook prepare` does at once), so answers need not encode them: the same answers, "
            "about ten times faster once done."
        ),
    )
    min_similarity: float = Field(
        default=0.24,
        ge=0.0,
        le=1.0,
        description=(
            "Abstain when no passage is at least this similar to the question (cosine). "
            "Calibrated on eval/questions/library.yaml; see docs/retrieval.md."
        ),
    )
    llm: Literal["none", "openai", "ollama"] = Field(
        default="none",
        description="Answer with a language model: none (extractive, default), openai, ollama.",
    )
    llm_base_url: str | None = Field(
        default=None, description="Base URL of the LLM server, e.g. http://127.0.0.1:11434."
    )
    llm_model: str | None = Field(default=None, description="Model name the LLM server knows.")
    llm_api_key: str | None = Field(
        default=None, description="API key for an OpenAI-compatible server (if it needs one)."
    )
    llm_timeout: float = Field(
        default=60.0, gt=0, description="Seconds to wait for the LLM before falling back."
    )
    llm_context_window: int = Field(
        default=8192,
        ge=512,
        description=(
            "Context window asked of an Ollama model; unset, Ollama reserves the model's full "
            "length (often 128k tokens). Five passages and the answer fit in far less."
        ),
    )
    acronyms_file: Path | None = Field(
        default=None,
        description=(
            "YAML file of 'ACRONYM: meaning' lines expanded in searches; unset: the shipped "
            "assistant/acronyms.yaml. Names of trusts are also learned from the library."
        ),
    )
    synonyms_file: Path | None = Field(
        default=None,
        description=(
            "YAML file of '- [word, word, ...]' lines of words read as one when Casebook checks "
            "that a sentence holds what a question asks; unset: the shipped assistant/synonyms.yaml."
        ),
    )
    example_questions: Path | None = Field(
        default=_CHECKOUT / "examples" / "example-questions.yaml",
        description="YAML list of example questions shown in the chat (unset or missing: none).",
    )
    sample_library: Path = Field(
        default=_CHECKOUT / "examples" / "library",
        description="Library ingested by `casebook serve` when the index is empty.",
    )

    # Sign-in and audit (see README "Sign-in"). Tokens live in users.db under data_dir.
    trusted_user_header: str | None = Field(
        default=None,
        description=(
            "Header naming the signed-in user, set by the reverse proxy (e.g. X-Forwarded-User); "
            "believed only from trusted_proxies."
        ),
    )
    trusted_groups_header: str | None = Field(
        default=None,
        description="Header carrying the user's groups, comma-separated (e.g. X-Forwarded-Groups).",
    )
    trusted_proxies: str = Field(
        default="",
        description="Comma-separated addresses/CIDRs of the reverse proxies whose user headers are believed.",
    )
    oidc_issuer: str | None = Field(
        default=None,
        description="OpenID Connect issuer URL (its /.well-known/openid-configuration is read); unset: none.",
    )
    oidc_client_id: str | None = Field(default=None, description="Client id registered with the issuer.")
    oidc_client_secret: str | None = Field(default=None, description="Client secret from the issuer.")
    oidc_scopes: str = Field(default="openid email profile", description="Scopes asked of the issuer.")
    oidc_redirect_uri: str | None = Field(
        default=None,
        description="Callback URL registered with the issuer (https://HOST/ROOT-PATH/auth/callback); "
        "unset: built from the request, which behind a TLS proxy says http.",
    )
    oidc_user_claim: str = Field(
        default="preferred_username",
        description="Claim naming the user (falls back to email, then sub).",
    )
    oidc_groups_claim: str = Field(
        default="groups", description="Claim listing the user's groups (Entra ID and Keycloak: groups)."
    )
    editor_groups: str = Field(
        default="",
        description="Comma-separated groups (from the proxy header or OIDC) whose members are editors.",
    )
    admin_groups: str = Field(
        default="",
        description="Comma-separated groups (from the proxy header or OIDC) whose members are admins.",
    )
    session_secret: str | None = Field(
        default=None,
        description="Key signing sign-in cookies; unset: generated once into session.key in data_dir.",
    )
    session_hours: float = Field(
        default=8.0, gt=0, le=24 * 30, description="Hours a browser sign-in lasts before signing in again."
    )
    session_https_only: bool = Field(
        default=False, description="Send the sign-in cookie only over HTTPS (set true behind a TLS proxy)."
    )
    audit: bool = Field(default=True, description="Keep the audit log (audit.db in data_dir).")
    audit_questions: bool = Field(
        default=True, description="Keep question text in the audit log; false keeps metadata only."
    )
    audit_retention_days: int = Field(
        default=365,
        ge=1,
        description="Days audit rows and feedback are kept; older ones are removed on start and daily.",
    )
    root_path: str = Field(
        default="",
        description=(
            "Public sub-path when a reverse proxy serves Casebook under it (e.g. /casebook); the "
            "proxy strips it before passing requests on. Empty: served at the root."
        ),
    )
    allowed_origins: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(),
        description=(
            "Comma-separated origins (e.g. https://intranet.trust.nhs.uk) that may embed the chat "
            "in a frame and call the API from the browser. Empty: no other origin may."
        ),
    )
    max_request_bytes: int = Field(
        default=1_048_576, ge=1024, description="Largest request body accepted (413 above it)."
    )
    max_upload_bytes: int = Field(
        default=50 * 1024 * 1024,
        ge=1024,
        description="Largest document an editor may upload (POST /api/documents; 413 above it).",
    )
    access_policy: Path | None = Field(
        default=None,
        description=(
            "A YAML file of folder rules (glob -> groups) saying who may read documents that name "
            "no 'access' of their own; globs are relative to the file's folder. An access.yaml at "
            "the root of an ingested folder is read too."
        ),
    )
    max_question_chars: int = Field(
        default=2000, ge=10, le=100_000, description="Longest question accepted, in characters."
    )
    rate_limit: str = Field(
        default="60/minute",
        description=(
            "Requests that ask or change something (POST) allowed per user or client address, in "
            "the `limits` notation, e.g. '60/minute;600/hour'. Empty: no limit (load tests)."
        ),
    )
    rate_limit_storage: str = Field(
        default="memory://",
        description=(
            "Where rate-limit counters live, as a `limits` storage URI: memory:// (one process) "
            "or redis://host:6379 to share them between workers and machines."
        ),
    )

    workers: int = Field(
        default=1,
        ge=1,
        le=64,
        description=(
            "Processes `casebook serve` runs on one port, each with its own model (about 0.5 GB "
            "each). Conversations, sign-in and logs are shared through the data directory."
        ),
    )
    model_threads: int = Field(
        default=1,
        ge=1,
        le=64,
        description=(
            "CPU threads each serving process gives the embedding model. One is fastest under load "
            "(measured 26 ms a question against 334 ms with two on a busy 2-core machine): serving "
            "scales with workers and with batching of concurrent questions instead."
        ),
    )
    stream_chat: bool | None = Field(
        default=None,
        description=(
            "Stream answers into the chat through Gradio's queue, which needs every request of a "
            "browser to reach the same process. Unset: on with one worker, off with several; set "
            "false behind a load balancer without sticky sessions."
        ),
    )

    @field_validator("root_path")
    @classmethod
    def _root_path(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if value and (not value.startswith("/") or "//" in value or "?" in value or "#" in value):
            raise ValueError("give a path such as /casebook")
        return value

    @field_validator("allowed_origins", mode="before")
    @classmethod
    def _origins(cls, value: object) -> tuple[str, ...]:
        items = value.split(",") if isinstance(value, str) else list(value or ())  # type: ignore[call-overload]
        origins = []
        for item in (str(i).strip().rstrip("/") for i in items):
            if not item:
                continue
            parts = urlsplit(item)
            if parts.scheme not in ("http", "https") or not parts.netloc or parts.path:
                raise ValueError(f"{item!r} is not an origin; give scheme://host[:port], no path or '*'")
            origins.append(item)
        return tuple(origins)

    @field_validator("rate_limit")
    @classmethod
    def _rate_limit(cls, value: str) -> str:
        from limits import parse_many

        if value.strip():
            try:
                parse_many(value)
            except ValueError:
                raise ValueError("use the `limits` notation, e.g. 60/minute or 60/minute;600/hour") from None
        return value.strip()
