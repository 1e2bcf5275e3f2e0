"""Research: where the sentence vectors of the best-part signal come from, and what each costs.

Run: .venv/bin/python bench/sentence_vectors.py [--beir ../shared/bench/scifact] [--cache DIR]
    [--pooled-only] [--precision auto|fp32|bf16]

On a BEIR folder (each corpus row one passage, as ``casebook eval --beir`` indexes it), one
forward pass of every passage gives its vector and its tokens' embeddings; hybrid nDCG@10 is then
measured, in one run, with sentence vectors from:

- ``standalone-regex``: "title sentence" encoded alone, sentences cut by the old regex (the
  baseline of docs/benchmarks.md, 0.7405);
- ``standalone``: the same, cut by Casebook's one splitter (:mod:`vectorstore.sentences`);
- ``pooled``: the mean of the sentence's own token embeddings from the passage's forward pass
  (sentences past the model's 256-token window encoded alone);
- ``pooled+title``: the same mean taken over the title's tokens too;
- ``mix``: pooled and the passage vector, averaged.

``--pooled-only`` skips the two standalone variants (their 94,000 encodes): only the sentences
past the window are encoded alone, as ingestion does. ``--precision`` is the embedder's (the
forward pass and the encodes of sentences past the window are read at it, as at ingestion).

Hybrid here is the four signals of :mod:`assistant.retrieval` with exact (numpy) nearest
neighbours instead of Chroma's HNSW, the best sentence scored over the other signals' candidate
passages as the product does (``--best-sentence library`` searches every sentence, as the first
version did). Prints one JSON object (the rows of the table in docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
_OLD_PART_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(\[])")  # the splitter retrieval used before


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--beir", type=Path, default=ROOT.parent / "shared/bench/scifact")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/sentence-vectors"))
    parser.add_argument("--pooled-only", action="store_true", help="skip the standalone variants")
    parser.add_argument("--precision", default="auto", help="the embedder's precision")
    parser.add_argument("--best-sentence", choices=("candidates", "library"), default="candidates")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    from eval.beir import corpus_chunks, load_beir
    from vectorstore import Embedder
    from vectorstore.sentences import sentence_units

    dataset = load_beir(args.beir)
    chunks = corpus_chunks(dataset)
    embedder = Embedder(precision=args.precision)
    query_ids = [q for q in dataset.queries if q in dataset.qrels]
    queries = embedder.embed([dataset.queries[q] for q in query_ids])

    regex = [
        [p.strip() for p in _OLD_PART_END.split(c.text.strip()) if p.strip()] or [c.title] for c in chunks
    ]
    units = sentence_units(chunks)
    position = {c.id: n for n, c in enumerate(chunks)}
    owners = np.array([position[u.chunk.id] for u in units])
    punkt: list[list] = [[] for _ in chunks]
    for u, i in zip(units, owners, strict=True):
        punkt[i].append(u)

    # One forward pass: passage vectors and the pooled sentence variants.
    started = time.perf_counter()
    head = [len(c.embed_text) - len(c.text) for c in chunks]
    title_span = [(0, len(c.title)) for c in chunks]
    passage = np.zeros((len(chunks), embedder.dimension), dtype=np.float32)
    pooled = np.zeros((len(units), embedder.dimension), dtype=np.float32)
    with_title = np.zeros_like(pooled)
    inside = np.zeros(len(units), dtype=bool)
    row_of = {u.id: n for n, u in enumerate(units)}
    for i, tokens, offsets in embedder.token_embeddings([c.embed_text for c in chunks]):
        passage[i] = unit(tokens.mean(axis=0))
        reached = int(offsets[:, 1].max())
        real = offsets[:, 1] > offsets[:, 0]
        in_title = real & (offsets[:, 0] < title_span[i][1])
        for u in punkt[i]:
            a, b = u.span[0] + head[i], u.span[1] + head[i]
            mask = real & (offsets[:, 0] < b) & (offsets[:, 1] > a)
            if u.span == (0, 0) or b > reached or not mask.any():
                continue
            n = row_of[u.id]
            inside[n] = True
            pooled[n] = unit(tokens[mask].mean(axis=0))
            with_title[n] = unit(tokens[mask | in_title].mean(axis=0))
    forward_seconds = time.perf_counter() - started

    from vectorstore.sentences import windows

    bm25_chunks, bm25_windows_regex, bm25_windows_punkt = bm25_indexes(chunks, regex, punkt, windows)
    variants = {}
    if args.pooled_only:  # only the sentences past the window, encoded alone as ingestion does
        started = time.perf_counter()
        tail = embedder.embed([units[n].embed_text for n in np.flatnonzero(~inside)], indexing=True)
        alone_seconds, stand_alone_share = time.perf_counter() - started, 1.0
        pooled[~inside] = tail
        with_title[~inside] = tail
    else:
        # Standalone encodes ("title sentence"), cached by text: the slow part of the old ingest.
        texts = sorted({f"{c.title} {s}".strip() for c, ss in zip(chunks, regex, strict=True) for s in ss})
        texts = sorted(set(texts) | {u.embed_text for u in units})
        alone, alone_seconds = cached_encode(
            embedder, texts, args.cache / f"standalone-{dataset.fingerprint[:12]}"
        )
        stand_alone_share = len(units) / max(len(texts), 1)
        lookup = {t: n for n, t in enumerate(texts)}
        regex_rows = [
            (i, lookup[f"{c.title} {s}".strip()])
            for i, (c, ss) in enumerate(zip(chunks, regex, strict=True))
            for s in ss
        ]
        punkt_alone = alone[[lookup[u.embed_text] for u in units]]
        pooled[~inside] = punkt_alone[~inside]
        with_title[~inside] = punkt_alone[~inside]
        variants["standalone-regex"] = (
            alone[[r for _, r in regex_rows]],
            np.array([i for i, _ in regex_rows]),
            bm25_windows_regex,
        )
        variants["standalone"] = (punkt_alone, owners, bm25_windows_punkt)
    mix = normalise(pooled + passage[owners])
    variants["pooled"] = (pooled, owners, bm25_windows_punkt)
    variants["pooled+title"] = (with_title, owners, bm25_windows_punkt)
    variants["mix"] = (mix, owners, bm25_windows_punkt)
    ids = [c.id for c in chunks]
    results = {}
    for name, (vectors, owner, windows_index) in variants.items():
        results[name] = score(
            dataset,
            query_ids,
            queries,
            ids,
            passage,
            vectors,
            owner,
            bm25_chunks,
            windows_index,
            over_candidates=args.best_sentence == "candidates",
        )
    print(
        json.dumps(
            {
                "dataset": dataset.name,
                "machine": f"{platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}",
                "date": time.strftime("%Y-%m-%d"),
                "passages": len(chunks),
                "sentences_regex": sum(len(ss) for ss in regex),
                "sentences": len(units),
                "sentences_past_window": int((~inside).sum()),
                "forward_seconds": round(forward_seconds, 1),
                "standalone_seconds_estimate": round(alone_seconds * stand_alone_share, 1),
                "results": results,
            },
            indent=2,
        )
    )


def unit(v: np.ndarray) -> np.ndarray:
    return (v / max(float(np.linalg.norm(v)), 1e-12)).astype(np.float32)


def normalise(m: np.ndarray) -> np.ndarray:
    return (m / np.linalg.norm(m, axis=1, keepdims=True).clip(1e-12)).astype(np.float32)


def cached_encode(embedder, texts: list[str], stem: Path) -> tuple[np.ndarray, float]:
    vectors_path, meta_path = stem.with_suffix(".npy"), stem.with_suffix(".json")
    if vectors_path.is_file() and meta_path.is_file():
        meta = json.loads(meta_path.read_text())
        if meta["texts"] == len(texts):
            return np.load(vectors_path), meta["seconds"]
    started = time.perf_counter()
    vectors = embedder.embed(texts)
    seconds = time.perf_counter() - started
    stem.parent.mkdir(parents=True, exist_ok=True)
    np.save(vectors_path, vectors)
    meta_path.write_text(json.dumps({"texts": len(texts), "seconds": seconds}))
    return vectors, seconds


def bm25_indexes(chunks, regex, punkt, windows):
    from vectorstore.bm25 import BM25Index

    ids = [c.id for c in chunks]
    lexical = BM25Index.build(
        ids, [" ".join(p for p in (c.title, c.text) if p) for c in chunks], [{}] * len(ids)
    )
    built = []
    for sentences in (regex, [[u.text for u in us] for us in punkt]):
        owners, texts = [], []
        for c, ss in zip(chunks, sentences, strict=True):
            for w in windows(c.title, ss):
                owners.append(c.id)
                texts.append(w)
        built.append(BM25Index.build(owners, texts, [{}] * len(owners)))
    return lexical, built[0], built[1]


def score(
    dataset,
    query_ids,
    queries,
    ids,
    passage,
    sentences,
    owner,
    bm25,
    windows_index,
    k=100,
    over_candidates=True,
):
    from assistant.retrieval import _padded, _z_fusion
    from eval.beir import documents_by_max, evaluate

    runs: dict[str, dict[str, dict[str, float]]] = {"bm25": {}, "dense": {}, "hybrid": {}}
    position = {cid: n for n, cid in enumerate(ids)}
    window_rows = np.array([position[o] for o in windows_index.ids])
    size = min(k, len(ids))
    for qid, q in zip(query_ids, queries, strict=True):
        text = dataset.queries[qid]
        s = bm25.scores(text)
        top = np.argsort(-s, kind="stable")[:k]
        lexical = [(ids[i], float(s[i])) for i in top if s[i] > 0]
        ws = windows_index.scores(text)
        best = np.zeros(len(ids), dtype=np.float32)
        np.maximum.at(best, window_rows, ws)
        top = np.argsort(-best, kind="stable")[:k]
        parts = [(ids[i], float(best[i])) for i in top if best[i] > 0]
        cos = passage @ q
        top = np.argsort(-cos)[:k]
        dense = [(ids[i], float(cos[i])) for i in top]
        best_s: dict[str, float] = {}
        if over_candidates:  # the product: the best sentence of each candidate of the other lists
            chosen = {position[cid] for ranking in (dense, lexical, parts) for cid, _ in ranking}
            rows = np.flatnonzero(np.isin(owner, list(chosen)))
            for j, value in zip(rows, (sentences[rows] @ q).tolist(), strict=True):
                cid = ids[owner[j]]
                best_s[cid] = max(best_s.get(cid, -1.0), value)
        else:
            scos = sentences @ q
            near = np.argsort(-scos)[: min(k * 8, len(scos))]
            for j in near:
                cid = ids[owner[j]]
                best_s[cid] = max(best_s.get(cid, -1.0), float(scos[j]))
        dense_parts = sorted(best_s.items(), key=lambda item: (-item[1], item[0]))[:k]
        fused = _z_fusion(
            [(_padded(lexical, size), 0.25), (_padded(parts, size), 0.25), (dense, 0.25), (dense_parts, 0.25)]
        )
        for name, ranking in (("bm25", lexical), ("dense", dense), ("hybrid", list(fused.items()))):
            ranked = sorted(ranking, key=lambda item: (-item[1], item[0]))
            runs[name][qid] = documents_by_max([(cid, sc, 0.0) for cid, sc in ranked], 100)
    return {name: evaluate(dataset.qrels, run) for name, run in runs.items()}


if __name__ == "__main__":
    main()
