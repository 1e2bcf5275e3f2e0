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
from tests.conftest import LIBRARY, TEST_DATA, make_casebook
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

    assert html.metadata["publisher"] == "Health Service Journal"
    assert html.metadata["original_url"].startswith("https://www.hsj.co.uk/mental-health/")
    assert load(LIBRARY / "carter-productivity-review.pdf").metadata["date"] == "2017-02-09"

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


def test_a_new_reader_re_reads_every_file(tmp_path: Path, embedder: Embedder, monkeypatch) -> None:
    import ingest.loaders

    folder = tmp_path / "lib"
    folder.mkdir()
    (folder / "waits.md").write_text("# Waits\n\n| Quarter | Wait |\n|---|---|\n| Q1 | 17 weeks |\n")
    data = tmp_path / "data"
    assert _ingest([folder], data, embedder).added
    monkeypatch.setattr(ingest.loaders, "READER_VERSION", ingest.loaders.READER_VERSION + 1)
    again = _ingest([folder], data, embedder)
    assert (again.updated, again.skipped) == ([str((folder / "waits.md").resolve())], [])
    assert [c.text for c in Store(data).document_chunks(_doc_id(folder / "waits.md"))] == [
        "Quarter: Q1 | Wait: 17 weeks"
    ]


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
    (folder / "binary.txt").write_bytes(b"\x00" * 400)
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
        "binary.txt": "not text: the file holds binary data (NUL or control bytes); export it as one of ",
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


def test_plain_text_headings_in_capitals_become_sections(tmp_path: Path) -> None:
    letter = tmp_path / "letter.txt"
    letter.write_text(
        "AUDIT AUTHORITY\nNorth Office\n\nDear Ms Teale\n\nWe visited two wards.\n\n"
        "FINDINGS\n\n1. ASH WARD (adult acute, 18 beds)\n\n- 11 ligature points were found.\n\n"
        "2. LINDEN WARD (older adults)\n\nStaff knew where the cutters were kept.\n\n"
        "WHAT HAPPENS NEXT\n\nSend us an action plan. A SENTENCE IN CAPITALS ENDS WITH A STOP.\n",
        encoding="utf-8",
    )
    sections = [(s.heading, s.text) for s in load(letter).sections]
    assert sections == [
        (None, "AUDIT AUTHORITY\nNorth Office\n\nDear Ms Teale\n\nWe visited two wards."),
        ("FINDINGS > 1. ASH WARD (adult acute, 18 beds)", "- 11 ligature points were found."),
        ("FINDINGS > 2. LINDEN WARD (older adults)", "Staff knew where the cutters were kept."),
        ("WHAT HAPPENS NEXT", "Send us an action plan. A SENTENCE IN CAPITALS ENDS WITH A STOP."),
    ]


def test_table_rows_name_their_columns(tmp_path: Path) -> None:
    page = tmp_path / "waits.md"
    page.write_text(
        "# Waits\n\n| Quarter | Median wait | Within 18 weeks |\n|---|---|---|\n"
        "| Q1 2022/23 | 17 weeks | 51% |\n| Q2 2022/23 | | 62% |\n",
        encoding="utf-8",
    )
    html = tmp_path / "staff.html"
    html.write_text(
        "<html><body><h1>Staff</h1><p>Our staffing grew over two years as the service expanded.</p><table>"
        "<tr><th>Staff group</th><th>2021</th><th>2023</th></tr>"
        "<tr><td>Nurses</td><td>4.0</td><td>6.8</td></tr><tr><td>Total</td><td>14.2</td></tr></table></body></html>",
        encoding="utf-8",
    )
    assert load(page).sections[0].text.split("\n\n") == [
        "Quarter: Q1 2022/23 | Median wait: 17 weeks | Within 18 weeks: 51%",
        "Quarter: Q2 2022/23 | Within 18 weeks: 62%",
    ]
    # A row that does not fill the header's columns keeps its cells unnamed.
    assert load(html).sections[-1].text.split("\n\n")[-2:] == [
        "Staff group: Nurses | 2021: 4.0 | 2023: 6.8",
        "Total | 14.2",
    ]


def test_markdown_html_is_kept_as_text(tmp_path: Path) -> None:
    page = tmp_path / "x.md"
    page.write_text("# Title here\n\nThe ward said <script>window.__xss=1</script> loudly today.\n")
    doc = load(page)
    assert "<script>window.__xss=1</script>" in doc.sections[0].text


def test_document_error_names_the_file() -> None:
    error = DocumentError("reports/a.pdf", "the PDF is encrypted")
    assert str(error) == "reports/a.pdf: the PDF is encrypted"


# -- clean passages ----------------------------------------------------------------------------

SEED_FURNITURE = (
    "You are here",
    "Published: 15 March 2018",
    "Page last updated",
    "Categories",
    "Have you got a story to tell?",
    "Would you like to become an NHE columnist?",
    "Last updated:",
    "said:At",
    "**",
    "•",
)


def _chunk_texts(data: Path, source: Path) -> list[str]:
    return [c.text for c in Store(data).document_chunks(_doc_id(source))]


def test_seed_furniture_is_in_no_chunk(seeds: Path, tmp_path: Path, embedder: Embedder) -> None:
    data = tmp_path / "data"
    report = _ingest([seeds], data, embedder)
    assert report.ok and len(report.added) == 5
    texts = {p.name: _chunk_texts(data, p) for p in sorted(seeds.glob("*.txt"))}
    every = "\n".join(t for chunks in texts.values() for t in chunks)
    for furniture in SEED_FURNITURE:
        assert furniture not in every, furniture
    assert "29 June 2018" not in "\n".join(texts["003_85fcdd632fab18ea.txt"])
    # 000 ends by repeating its headline; the headline is its title, not a passage.
    assert "First mental health trusts rated outstanding by CQC" not in "\n".join(
        texts["000_d43dd18384b8f15c.txt"]
    )
    assert (
        load(seeds / "000_d43dd18384b8f15c.txt").title
        == "First mental health trusts rated outstanding by CQC"
    )
    assert "(lead for mental health), said: At a time when" in every
    assert "\nCalderstones Partnership NHS Foundation Trust" in "\n".join(texts["001_95464e17304a87ba.txt"])
    assert "- Trust chief executives tell HSJ" in every
    assert "A poor rating for many trusts was a stimulus for improvement." in every


def test_seed_date_lines_become_the_date(seeds: Path) -> None:
    expected = {"001": "2018-03-15", "003": "2018-06-29", "004": "2017-02-09"}
    for prefix, date in expected.items():
        doc = load(next(seeds.glob(f"{prefix}_*.txt")))
        assert (doc.metadata["date"], doc.metadata["year"]) == (date, int(date[:4])), prefix
        assert "09.02.17" not in doc.sections[0].text
    assert "date" not in load(next(seeds.glob("002_*.txt"))).metadata


def test_pdf_headings_are_headings_never_sentences() -> None:
    carter = load(LIBRARY / "carter-productivity-review.pdf")
    root = "Carter review of productivity in community and mental health trusts"
    assert [s.heading for s in carter.sections][:2] == [
        f"{root} > Scope of the review",
        f"{root} > Who is involved",
    ]
    assert carter.sections[0].page == 1
    assert carter.sections[0].text.startswith("After his review of operational productivity")
    report = load(LIBRARY / "driving-improvement-report.pdf")
    for doc in (carter, report):
        headings = {part for s in doc.sections for part in (s.heading or "").split(" > ")}
        assert len(headings) >= 3
        for section in doc.sections:
            for heading in headings:
                assert heading not in section.text, (heading, section.text[:80])
    rating = next(
        s for s in report.sections if s.heading and s.heading.endswith("Rating changes at the seven trusts")
    )
    assert rating.page == 3
    assert (
        "\n- Calderstones Partnership NHS Foundation Trust: good to outstanding.\n- Sheffield" in rating.text
    )
    assert "to good.\n\nA note on Calderstones:" in rating.text  # the list ends before the note


def test_html_page_keeps_the_article_and_drops_its_furniture() -> None:
    doc = load(TEST_DATA / "furnished-page.html")
    title = "Opening a crisis cafe in the evenings"
    assert doc.title == f"{title} | Example Health News"
    assert [s.heading for s in doc.sections] == [
        title,
        f"{title} > How the cafe works",
        f"{title} > What the trust learned",
    ]
    text = "\n".join(s.text for s in doc.sections)
    assert "more than four hundred visitors" in text
    assert "- Open every evening from six until midnight, including weekends.\n- No referral needed" in text
    # A label in bold is part of its item, with no space before the colon after it.
    assert "- Peer support: two peer support workers on every evening shift.\n- Costs: £48,000 a year" in text
    for furniture in (
        "cookies", "You are here", "Share this page", "Share on Twitter", "Related articles",
        "Five things we learned", "Have you got a story to tell?", "Sign up to our newsletter",
        "Subscribe", "Jobs board", "Search this site", "Copyright", "Published:",
    ):  # fmt: skip
        assert furniture not in text, furniture
    assert doc.metadata["original_url"] == "https://news.example.org/articles/crisis-cafe-evenings"
    assert (doc.metadata["date"], doc.metadata["publisher"]) == ("2019-10-04", "Example Health News")


def test_windows_1252_and_latin_1_text_is_read(tmp_path: Path) -> None:
    latin = tmp_path / "latin1.txt"
    latin.write_bytes("Caf\xe9 culture in the trust".encode("latin-1"))
    assert load(latin).sections[0].text == "Caf\xe9 culture in the trust"
    page = tmp_path / "cp1252.html"
    page.write_bytes(
        "<html><body><p>The trust\u2019s caf\xe9 \u2013 open late</p></body></html>".encode("cp1252")
    )
    assert load(page).sections[0].text == "The trust\u2019s caf\xe9 \u2013 open late"


def test_markdown_front_matter_never_reaches_text_and_url_aliases(tmp_path: Path) -> None:
    note = tmp_path / "note.md"
    note.write_text(
        "---\npublisher: Example Trust\nsource_url: https://example.org/a\n---\n\n"
        "# Crisis cafe\n\nThe cafe opened in the evenings for people in distress.\n"
    )
    doc = load(note)
    assert doc.sections[0].text == "The cafe opened in the evenings for people in distress."
    assert doc.metadata["original_url"] == "https://example.org/a"
    sidecar = tmp_path / "note.md.meta.yaml"
    sidecar.write_text("url: https://example.org/b\n")
    assert load(note).metadata["original_url"] == "https://example.org/b"


def test_boilerplate_patterns_come_from_an_editable_file(tmp_path: Path) -> None:
    from ingest.cleaning import Boilerplate

    page = tmp_path / "page.txt"
    page.write_text("Ward round notes for the week\nPrinted from the intranet on Monday\nShare this page\n")
    assert "Share this page" not in load(page).sections[0].text
    mine = tmp_path / "mine.txt"
    mine.write_text("# our intranet\nPrinted from the intranet.*\n")
    assert (
        load(page, Boilerplate.load(mine)).sections[0].text
        == "Ward round notes for the week\nShare this page"
    )
    mine.write_text("ok\n(unclosed\n")
    with pytest.raises(
        DocumentError, match=r"line 2 is not a regular expression .*; fix it or start it with #"
    ):
        Boilerplate.load(mine)


def test_lines_repeated_across_a_run_are_dropped(tmp_path: Path, embedder: Embedder) -> None:
    folder = tmp_path / "site"
    folder.mkdir()
    footer = "Example Health News is published by Example Media Limited, registered in England."
    bodies = (
        "A crisis cafe opened in the evenings.",
        "A crisis line cut bed costs.",
        "A crisis house cut placements.",
    )
    for n, body in enumerate(bodies):
        (folder / f"page{n}.txt").write_text(f"{body} It was run with the voluntary sector.\n\n{footer}\n")
    data = tmp_path / "data"
    _ingest([folder], data, embedder)
    for n, body in enumerate(bodies):
        assert _chunk_texts(data, folder / f"page{n}.txt") == [
            f"{body} It was run with the voluntary sector."
        ]


def test_unsupported_files_in_a_folder_are_named(tmp_path: Path) -> None:
    folder = tmp_path / "lib"
    folder.mkdir()
    (folder / "note.md").write_text("# Crisis cafe\n\nA crisis cafe opened in the evenings for people.\n")
    (folder / "note.md.meta.yaml").write_text("trust: Example\n")
    for name in ("slides.pptx", "data.xlsx", ".hidden.pptx"):
        (folder / name).write_bytes(b"PK\x03\x04")
    result = CliRunner().invoke(main, ["ingest", str(folder)])
    assert result.exit_code == 0, result.output
    assert "1 added" in result.stdout and "2 unsupported (data.xlsx, slides.pptx)" in result.stdout
    again = CliRunner().invoke(main, ["ingest", str(folder), "--json"])
    names = [Path(p).name for p in json.loads(again.stdout)["unsupported"]]
    assert names == ["data.xlsx", "slides.pptx"]


def test_a_table_scraped_one_cell_a_line_is_read_as_rows(tmp_path: Path) -> None:
    cells = ["Trust", "From", "To"]
    for trust in ("Oxleas NHS Foundation Trust", "Somerset Partnership NHS Trust", "Harbour Trust"):
        cells += [trust, "Requires Improvement", "Good"]
    names = ["Ash ward", "Beech ward", "Cedar ward", "Damson ward", "Elm ward", "Fir ward"]
    page = tmp_path / "ratings.txt"
    page.write_text(
        "Trusts whose ratings rose on re-inspection.\n\nRating changes\n\n"
        + "\n\n".join(cells)
        + "\n\nThe wards visited were:\n"
        + "\n".join(names)
        + "\n",
        encoding="utf-8",
    )
    text = load(page).sections[0].text
    assert "Trust | From | To\nOxleas NHS Foundation Trust | Requires Improvement | Good\n" in text
    assert "Harbour Trust | Requires Improvement | Good" in text
    assert "Rating changes\n" in text  # the caption before the rows stays a line of its own
    assert "\n".join(names) in text  # names one a line, no column repeating: not a table


def test_a_byline_under_the_title_is_furniture_and_gives_the_date(tmp_path: Path) -> None:
    note = tmp_path / "case.md"
    note.write_text(
        "# Cutting waits\n\nCase study | Example Health NHS Trust | Published 14 June 2023\n\n"
        "The service cut its median wait from 19 weeks to 4 weeks.\n\n"
        "Measure | Inspection: 14 to 16 May 2024 | Published 2 June 2024\n"
    )
    doc = load(note)
    assert doc.metadata["date"] == "2023-06-14"
    text = "\n".join(s.text for s in doc.sections)
    assert "Case study" not in text and "Published 14 June 2023" not in text
    # Lower down, or with another figure in a field, a line of fields is the document's own text.
    assert "Measure | Inspection: 14 to 16 May 2024 | Published 2 June 2024" in text
    month = tmp_path / "guide.txt"
    month.write_text(
        "Safer Wards Network | Improvement resource | September 2020\n\nWards cut restraint by half.\n"
    )
    doc = load(month)
    assert (doc.metadata["date"], doc.sections[0].text) == ("2020-09-01", "Wards cut restraint by half.")


def test_a_byline_outside_an_html_article_gives_its_date(tmp_path: Path) -> None:
    page = tmp_path / "update.html"
    article = "The three sites opened in 2022 with new teams. " * 8
    page.write_text(
        "<html><head><title>An update</title></head><body>"
        '<p class="meta">Published: 21 November 2022 | Category: Mental health</p>'
        f"<article><h1>An update</h1><p>{article}</p></article></body></html>"
    )
    assert load(page).metadata["date"] == "2022-11-21"


def test_an_html_comment_in_markdown_is_never_text(tmp_path: Path) -> None:
    note = tmp_path / "note.md"
    note.write_text(
        "<!-- Draft: check figures\n     with finance -->\n\n# Crisis cafe\n\nThe cafe opened late.\n"
    )
    assert [s.text for s in load(note).sections] == ["The cafe opened late."]
    # Text between two comments is text.
    note.write_text("# Crisis cafe\n\n<!-- a --> Opened late\nfor guests <!-- b -->\n")
    assert "Opened late" in load(note).sections[0].text
