"""Ingestion: formats, metadata, incremental runs, pruning and every kind of bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from pypdf import PdfWriter

from assistant.cli import main
from ingest import ChunkingParams, ingest, load
from tests.conftest import LIBRARY, make_casebook
from vectorstore import DocumentError, Embedder, IndexMismatchError, Store


def _ingest(paths: list[Path], data_dir: Path, embedder: Embedder, **kwargs):
    return ingest(paths, Store(data_dir), embedder, **kwargs)


def test_every_format_keeps_title_page_section_and_metadata() -> None:
    pdf = load(LIBRARY / "driving-improvement-report.pdf")
    assert pdf.title == "Driving improvement: case studies from seven mental health trusts"
    assert [s.page for s in pdf.sections] == [1, 2, 3, 4]
    assert pdf.metadata["publisher"] == "Care Quality Commission"
    assert pdf.metadata["year"] == 2018

    docx = load(LIBRARY / "improvement-themes.docx")
    assert docx.sections[0].heading and docx.sections[0].heading.startswith(docx.title)

    html = load(LIBRARY / "crisis-line-bed-costs.html")
    assert html.metadata["trust"].startswith("Northumberland, Tyne and Wear")
    assert any("24/7 crisis line" in s.text for s in html.sections)

    md = load(LIBRARY / "crisis-house-out-of-area.md")
    assert md.title == "Cutting out-of-area placements with a crisis house"
    assert all(s.heading and " > " in s.heading for s in md.sections)
    assert md.metadata["document_type"] == "case study"


def test_seed_text_gets_title_from_first_real_line(seeds: Path) -> None:
    assert load(seeds / "004_5a997be09148f7ac.txt").title.startswith("Carter review of community")
    assert load(seeds / "003_85fcdd632fab18ea.txt").title.startswith("Driving improvement")


def test_reingest_is_idempotent_and_changed_file_is_replaced(tmp_path: Path, embedder: Embedder) -> None:
    folder = tmp_path / "lib"
    shutil.copytree(LIBRARY, folder)
    data = tmp_path / "data"
    first = _ingest([folder], data, embedder)
    assert len(first.added) == 10 and first.ok
    again = _ingest([folder], data, embedder)
    assert (len(again.added), len(again.skipped), again.chunks_total) == (0, 10, first.chunks_total)

    note = folder / "crisis-house-out-of-area.md"
    note.write_text(note.read_text(encoding="utf-8").split("## ")[0] + "A short new version.\n")
    changed = _ingest([folder], data, embedder)
    assert changed.updated == [str(note.resolve())]
    chunks = Store(data).document_chunks(_doc_id(note))
    assert [c.text for c in chunks] == ["A short new version."]


def _doc_id(path: Path) -> str:
    from ingest import doc_id_for

    return doc_id_for(str(path.resolve()))


def test_prune_removes_documents_whose_files_are_gone(tmp_path: Path, embedder: Embedder) -> None:
    folder = tmp_path / "lib"
    shutil.copytree(LIBRARY, folder)
    data = tmp_path / "data"
    before = _ingest([folder], data, embedder).chunks_total
    gone = folder / "staff-speak-up-culture.md"
    gone.unlink()
    kept = _ingest([folder], data, embedder)
    assert kept.removed == [] and kept.chunks_total == before
    pruned = _ingest([folder], data, embedder, prune=True)
    assert pruned.removed == [str(gone.resolve())]
    assert str(gone.resolve()) not in Store(data).documents()
    assert all(str(gone.resolve()) != m for m in Store(data).bm25.ids)


def _bad_inputs(folder: Path) -> dict[str, str]:
    """Write one file of each kind of bad input; return file name -> expected reason."""
    folder.mkdir()
    (folder / "empty.md").write_text("")
    (folder / "latin1.txt").write_bytes("Caf\xe9 culture in the trust".encode("latin-1"))
    (folder / "renamed.pdf").write_bytes(b"PK\x03\x04 this is a zip, not a pdf" * 10)
    (folder / "corrupt.pdf").write_bytes(b"%PDF-1.7\n1 0 obj << /Type /Catalog >>\n garbage" * 5)
    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    writer.encrypt(user_password="secret", owner_password="owner")
    with (folder / "locked.pdf").open("wb") as handle:
        writer.write(handle)
    (folder / "broken.docx").write_bytes(b"not a zip at all")
    return {
        "empty.md": "the file is empty; add text or remove it from the folder",
        "latin1.txt": "not UTF-8 text (byte 0xe9 at offset 3); save it as UTF-8 and ingest again",
        "renamed.pdf": "not a PDF (no %PDF header); is it another format renamed .pdf?",
        "corrupt.pdf": "the PDF is corrupt or unreadable",
        "locked.pdf": "the PDF is encrypted; save an unprotected copy and ingest that",
        "broken.docx": "not a readable Word document",
    }


def test_bad_inputs_each_get_one_line_and_the_index_survives(tmp_path: Path, embedder: Embedder) -> None:
    data = tmp_path / "data"
    good = _ingest([LIBRARY], data, embedder)
    expected = _bad_inputs(tmp_path / "bad")
    (tmp_path / "slides.pptx").write_bytes(b"x")

    report = _ingest(
        [tmp_path / "bad", tmp_path / "slides.pptx", tmp_path / "missing", LIBRARY], data, embedder
    )
    reasons = {Path(e.path).name: e.reason for e in report.failed}
    for name, reason in expected.items():
        assert reasons[name].startswith(reason), (name, reasons[name])
    assert reasons["slides.pptx"].startswith("unsupported file type .pptx; Casebook reads")
    assert reasons["missing"] == "no such file or folder"
    assert len(report.skipped) == 10 and report.chunks_total == good.chunks_total


def test_cli_ingest_prints_one_line_per_failure_and_exits_1(tmp_path: Path) -> None:
    expected = _bad_inputs(tmp_path / "bad")
    (tmp_path / "ok.md").write_text("# Crisis cafe\n\nA crisis cafe opened in the evenings for people.\n")
    result = CliRunner().invoke(main, ["ingest", str(tmp_path / "bad"), str(tmp_path / "ok.md")])
    assert result.exit_code == 1
    failed = [line for line in result.stderr.splitlines() if line.startswith("Failed: ")]
    assert len(failed) == len(expected)
    assert "Traceback" not in result.output + result.stderr
    assert "1 added" in result.stdout
    again = CliRunner().invoke(main, ["ingest", str(tmp_path / "ok.md"), "--json"])
    assert again.exit_code == 0
    assert json.loads(again.stdout)["skipped"] == [str((tmp_path / "ok.md").resolve())]


def test_index_refuses_another_model_or_chunking(tmp_path: Path, embedder: Embedder) -> None:
    data = tmp_path / "data"
    _ingest([LIBRARY / "crisis-house-out-of-area.md"], data, embedder)
    info = json.loads((data / "index.json").read_text())
    assert (info["embedding_model"], info["dimension"]) == ("all-MiniLM-L6-v2", 384)

    with pytest.raises(IndexMismatchError, match="chunked at 200 tokens with 30 overlap"):
        _ingest([LIBRARY], data, embedder, chunking=ChunkingParams(120, 20))
    info["embedding_model"], info["dimension"] = "other-model", 768
    (data / "index.json").write_text(json.dumps(info))
    with pytest.raises(IndexMismatchError, match=r"built with other-model \(768 dimensions\)"):
        make_casebook(data, embedder).require_index()


def test_markdown_html_is_kept_as_text(tmp_path: Path) -> None:
    page = tmp_path / "x.md"
    page.write_text("# Title here\n\nThe ward said <script>window.__xss=1</script> loudly today.\n")
    doc = load(page)
    assert "<script>window.__xss=1</script>" in doc.sections[0].text


def test_document_error_names_the_file() -> None:
    error = DocumentError("reports/a.pdf", "the PDF is encrypted")
    assert str(error) == "reports/a.pdf: the PDF is encrypted"
