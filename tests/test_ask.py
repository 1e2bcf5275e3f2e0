"""Answering: the right source first, cited sentences quoted from it, abstention, JSON, errors."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from assistant import NOT_IN_LIBRARY, Casebook
from assistant.cli import main
from tests.conftest import make_casebook
from vectorstore import DataError, Embedder
from vectorstore.sentences import split_sentences

OAP = "How did trusts reduce out-of-area placements?"


def _sentences_with_markers(text: str) -> list[tuple[str, int]]:
    # A list line ("- Oxleas ...: requires improvement to good. [1]") quotes what follows "- ".
    return [(s.strip(), int(n)) for s, n in re.findall(r"(?:^- )?(.+?) \[(\d+)\]", text, re.MULTILINE)]


def test_out_of_area_answer_cites_the_crisis_house_first(library: Casebook) -> None:
    answer = library.ask(OAP)
    assert not answer.abstained
    top = answer.citations[0]
    assert "crisis house" in answer.text.lower()
    assert "crisis house" in top.title.lower() + top.text.lower()
    assert Path(top.source).name in {"crisis-house-out-of-area.md", "002_ecc6c39a298a2ff4.txt"}


def test_every_answer_sentence_is_quoted_from_its_cited_passage(library: Casebook) -> None:
    for question in (OAP, "Which trusts went from requires improvement to good?"):
        answer = library.ask(question)
        pairs = _sentences_with_markers(answer.text)
        assert pairs, answer.text
        by_n = {c.n: c for c in answer.citations}
        assert sorted(by_n) == list(range(1, len(by_n) + 1))
        for sentence, n in pairs:
            assert sentence in split_sentences(by_n[n].text), (sentence, n)


def test_answer_names_the_part_the_library_does_not_answer(library: Casebook) -> None:
    answer = library.ask("How much did the crisis line cost and what did it save?")
    assert not answer.abstained
    lead = "The result reported by the trust was a reduction in bed costs of £3.5m. [1]"
    assert answer.text.startswith(lead)  # the saving leads; the cost is named as missing
    assert answer.unanswered == ("How much did the crisis line cost",)
    assert answer.text.endswith("The library does not answer “How much did the crisis line cost?”.")


def test_a_figure_is_found_by_the_sentence_after_it_that_names_what_it_is(library: Casebook) -> None:
    # "... a reduction in bed costs of £3.5m." "... a saving of this size ...": the figure is the saving.
    answer = library.ask("How much did NTW's crisis line save?")
    assert answer.text.startswith(
        "The result reported by the trust was a reduction in bed costs of £3.5m. [1]"
    )
    assert answer.unanswered == ()


@pytest.mark.parametrize(
    ("question", "lead", "missing"),
    [
        (  # a place, and a cost the library does not give (only a saving)
            "Where is Northumberland, Tyne and Wear based and how much does its crisis line cost to run?",
            "Northumberland, Tyne and Wear NHS Foundation Trust is a large provider",
            "how much does its crisis line cost to run",
        ),
        (  # the second question in a sentence of its own
            "What questions should a board ask itself about involving service users. "
            "How many trusts use them?",
            "Questions for a board to ask itself:",
            "How many trusts use them",
        ),
        (  # a name the library does not give: "the third sector" is not a charity's name
            "Who does Lancashire Care run its crisis house with, and what is the partner charity called?",
            "",
            "what is the partner charity called",
        ),
        (  # a score, where the library names what to track but no target
            "What should a trust track to see whether staff feel able to speak up, "
            "and what target score should it aim for?",
            "Measures worth tracking include the results of the annual NHS Staff Survey",
            "what target score should it aim for",
        ),
        (  # "how many acute trusts": trusts are counted ("four high-performing acute trusts")
            "How many acute trusts were given powers to run chains of hospitals, and when did the "
            "programme start?",
            "At around the same time NHS Improvement had given four high-performing acute trusts",
            "when did the programme start",
        ),
        (  # a sentence close to the whole question, but not to its second part
            "Which staff survey should a trust follow, and what result would count as good?",
            "Measures worth tracking include the results of the annual NHS Staff Survey",
            "what result would count as good",
        ),
    ],
)
def test_answer_names_the_missing_part_of_other_question_shapes(
    library: Casebook, question: str, lead: str, missing: str
) -> None:
    answer = library.ask(question)
    assert not answer.abstained and answer.text.startswith(lead), answer.text
    assert answer.unanswered == (missing,)
    assert answer.text.endswith(f"The library does not answer “{missing[:1].upper()}{missing[1:]}?”."), (
        answer.text
    )


def test_near_miss_abstains_and_names_the_documents_that_mention_its_subject(library: Casebook) -> None:
    answer = library.ask("How many beds does Oxleas have?")
    assert answer.abstained
    assert answer.text.startswith("Not in the library: no passage answers “How many beds does Oxleas have?”.")
    assert "The library mentions Oxleas in" in answer.text
    assert answer.citations and all("oxleas" in c.text.lower() for c in answer.citations)
    # A name written with commas ("Northumberland, Tyne and Wear") is named as the user wrote it.
    named = library.ask("How many beds does Northumberland, Tyne and Wear have?")
    assert named.abstained and "The library mentions Northumberland, Tyne and Wear in " in named.text


def test_which_trusts_lists_the_items_that_answer_and_only_those(library: Casebook) -> None:
    answer = library.ask("Which trusts went from requires improvement to good?")
    lines = answer.text.splitlines()
    assert lines[0] == "- Oxleas NHS Foundation Trust: requires improvement to good. [1]"
    assert sum(line.endswith("requires improvement to good. [1]") for line in lines) == 6
    assert "good to outstanding" not in answer.text  # Calderstones moved from good, not from RI
    assert [c.n for c in answer.citations] == [1]  # one citation for the one document


def test_unanswerable_question_abstains(library: Casebook) -> None:
    for question in (
        "What are the CAMHS waiting times in Wales?",
        "How many nurses did the trust recruit from the Philippines in 2023?",
    ):
        answer = library.ask(question)
        assert answer.abstained, (question, answer.text)
        assert answer.text == NOT_IN_LIBRARY
        assert answer.citations == ()


def test_seeds_alone_answer_out_of_area_from_the_seed(
    seeds: Path, tmp_path: Path, embedder: Embedder
) -> None:
    from ingest import ingest

    casebook = make_casebook(tmp_path / "seeds-index", embedder)
    ingest([seeds], casebook.store, embedder)
    answer = casebook.ask(OAP)
    assert Path(answer.citations[0].source).name == "002_ecc6c39a298a2ff4.txt"
    assert "Lancashire Care FT" in answer.text and "crisis house" in answer.text


def test_how_someone_described_a_thing_is_answered_by_their_words_in_any_word_order(
    seeds: Path, tmp_path: Path, embedder: Embedder
) -> None:
    from ingest import ingest

    casebook = make_casebook(tmp_path / "seeds-index", embedder)
    ingest([seeds], casebook.store, embedder)
    question = "How did John Lawlor describe the information sharing between NTW and East London?"
    answerer = casebook.answerer
    by_idf = answerer.idf
    for order in (lambda weights: weights, lambda weights: dict(reversed(weights.items()))):
        # The order a question's words are weighed in follows string hashing, which differs from
        # one process to the next: the answer must not.
        answerer.idf = lambda tokens, order=order: order(by_idf(tokens))
        answer = casebook.ask(question)
        # "How did he describe it" asks his words, not a means ("by ...").
        assert answer.text.startswith("Mr Lawlor described the information sharing as a “twinning”"), (
            answer.text
        )


def test_ask_json_has_exactly_the_documented_shape(library_dir: Path) -> None:
    result = CliRunner().invoke(main, ["ask", OAP, "--json", "--data-dir", str(library_dir)])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert set(payload) == {"question", "answer", "abstained", "unanswered", "citations"}
    assert payload["question"] == OAP and payload["abstained"] is False
    citation = payload["citations"][0]
    assert set(citation) == {
        *("n", "title", "source", "page", "section", "text", "score"),
        *("url", "publisher", "date", "original_url", "quoted"),
    }
    assert citation["n"] == 1 and Path(citation["source"]).is_file()
    assert isinstance(citation["score"], float)
    assert citation["page"] is None or isinstance(citation["page"], int)


def test_pdf_citation_carries_its_page(library: Casebook) -> None:
    answer = library.ask("Which trusts went from requires improvement to good?")
    pdf = [c for c in answer.citations if c.source.endswith(".pdf")]
    assert pdf and all(isinstance(c.page, int) and c.page >= 1 for c in pdf)


def test_filters_restrict_both_retrievers(library: Casebook) -> None:
    filters = library.parse_filters(['document_type="inspection report"'])
    answer = library.ask(OAP, filters=filters)
    assert all(c.metadata.get("document_type") == "inspection report" for c in answer.citations)
    older = library.parse_filters(["year<=2017"])
    ranked = library.retriever.search("review of community and mental health trusts", k=10, filters=older)
    assert ranked and all(p.chunk.metadata["year"] <= 2017 for p in ranked)
    assert Path(ranked[0].chunk.source).name in {"carter-productivity-review.pdf", "004_5a997be09148f7ac.txt"}


def test_bad_filter_is_one_clear_line(library_dir: Path) -> None:
    runner = CliRunner()
    unknown = runner.invoke(main, ["ask", "x", "--filter", "colour=red", "--data-dir", str(library_dir)])
    assert unknown.exit_code == 1
    assert unknown.stderr.strip() == (
        "Error: Unknown filter field 'colour'. Use one of: trust, document_type, publisher, year"
    )
    nothing = runner.invoke(main, ["ask", "x", "--filter", "trust=Wales", "--data-dir", str(library_dir)])
    assert nothing.stderr.startswith("Error: No document has trust matching 'Wales'. Known values: ")


def test_ask_without_index_says_how_to_make_one(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["ask", OAP, "--data-dir", str(tmp_path / "none")])
    assert result.exit_code == 1
    assert result.stderr.strip() == f"Error: No index at {tmp_path / 'none'}. Run: casebook ingest <folder>"


def test_every_example_question_the_chat_offers_is_answered_from_the_sample_library(
    tmp_path: Path, embedder: Embedder
) -> None:
    # The sample library alone (no seeds): a showcase question must never say "not in the library".
    # NTW's crisis-line document names the trust in one passage and says what it did in the next.
    import yaml

    from ingest import ingest
    from tests.conftest import LIBRARY, ROOT

    casebook = make_casebook(tmp_path / "data", embedder)
    assert ingest([LIBRARY], casebook.store, embedder).ok
    questions = yaml.safe_load((ROOT / "examples" / "example-questions.yaml").read_text(encoding="utf-8"))
    for question in questions:
        answer = casebook.ask(question)
        assert not answer.abstained, (question, answer.text)
    crisis = casebook.ask("What did Northumberland, Tyne and Wear do about its crisis line?")
    assert "improving access to its busy 24/7 crisis line" in crisis.text
    assert Path(crisis.citations[0].source).name == "crisis-line-bed-costs.html"


def test_best_sentence_score_is_that_of_the_chunks_best_stored_sentence(library: Casebook) -> None:
    # Scored from the derived (float16, memory-mapped) copy of the vectors stored in Chroma,
    # over the candidates given and no others.
    store, vector = library.store, library.embedder.embed_query(OAP)
    everything = sorted(store.derived().chunk_ids)
    stored = store.sentence_vectors(everything)
    exact = sorted(((cid, float((m @ vector).max())) for cid, (_, m) in stored.items()), key=lambda x: -x[1])
    best = store.dense_parts(vector, everything, 10)
    assert len(best) == 10 and [s for _, s in best] == sorted((s for _, s in best), reverse=True)
    assert best[0][0] == exact[0][0]
    for cid, score in best:
        assert abs(float((stored[cid][1] @ vector).max()) - score) < 2e-3, cid
    few = [cid for cid, _ in exact[-3:]]
    assert {cid for cid, _ in store.dense_parts(vector, few, 10)} == set(few)


def test_answer_encodes_only_the_sentences_that_pass_every_other_test(
    library_dir: Path, embedder: Embedder, monkeypatch
) -> None:
    from assistant.evidence import units_of

    casebook = make_casebook(library_dir, embedder)
    question = "How did Lancashire Care cut out-of-area placements?"
    passages = casebook.retriever.search(question, casebook.settings.top_k)
    units = [u for i, p in enumerate(passages) for u in units_of(i, p.chunk.text, p.chunk.doc_id)]
    encoded: list[str] = []
    real = embedder.embed_cached
    monkeypatch.setattr(embedder, "embed_cached", lambda texts: encoded.extend(texts) or real(texts))
    answer = casebook.answerer.answer(question, passages)
    assert "crisis house" in answer.text.split("[1]")[0], answer.text
    # A sentence from a passage that does not name the trust never reaches the model.
    assert 0 < len(encoded) < len(units) / 3, (len(encoded), len(units))
    assert len(encoded) == len(set(encoded))
    lead = answer.text.split(" [1]")[0]
    assert any(text.endswith(lead) for text in encoded), lead


def test_answer_from_stored_sentence_vectors_quotes_its_passages_encoding_none(
    library_dir: Path, embedder: Embedder, monkeypatch
) -> None:
    casebook = make_casebook(library_dir, embedder, answer_stored_vectors=True)
    casebook.ask(OAP)  # warm: the query itself is encoded, not the passages' sentences
    encoded: list[str] = []
    real = embedder.embed_cached
    monkeypatch.setattr(embedder, "embed_cached", lambda texts: encoded.extend(texts) or real(texts))
    answer = casebook.ask(OAP)
    assert not answer.abstained and "crisis house" in answer.text.lower()
    by_n = {c.n: c for c in answer.citations}
    for sentence, n in _sentences_with_markers(answer.text):
        assert sentence in split_sentences(by_n[n].text), (sentence, n)
    units = sum(len(split_sentences(c.text)) for c in answer.citations)
    assert len(encoded) < units / 2, encoded  # list items the store splits otherwise may be encoded


def test_a_trust_named_by_its_acronym_with_a_possessive_is_known(library: Casebook) -> None:
    # "ELFT's" is ELFT, which "East London NHS Foundation Trust" defines; "Narnia's" is unknown.
    assert library.unknown_names("What was ELFT’s chief executive keen to share?") == []
    assert library.unknown_names("What did Narnia's board decide?") == ["Narnia's"]
    answer = library.ask("What did ELFT's chief executive say the trust was keen to do?")
    assert not answer.abstained and "keen to share information with NTW" in answer.text


def test_a_sentence_holding_every_word_of_the_question_is_quoted_though_it_leans_back(
    library: Casebook,
) -> None:
    # "Its staff contributed ..." scores a low cosine on its own (its subject is in the sentence
    # before), but it holds every word the question asks with.
    answer = library.ask("What did NTW's staff contribute to?")
    assert not answer.abstained
    # The question names what "its" is: the answer leads with it, not with "NTW had already ...".
    assert answer.text.startswith(
        "Its staff contributed to the development of NHS Improvement's improvement model"
    )


def test_what_can_a_board_do_is_answered_by_what_is_done_not_by_a_sentence_naming_a_board(
    library: Casebook,
) -> None:
    answer = library.ask("What can a board do so that staff find it easier to raise concerns?")
    assert not answer.abstained and "Freedom to Speak Up guardian" in answer.text, answer.text


def test_a_question_asking_for_things_of_a_sort_leads_with_their_list(library: Casebook) -> None:
    answer = library.ask(
        "What lessons should specialist learning disability services draw from the improving trusts?"
    )
    lead_in = "The themes the regulator found across the improving trusts apply with particular force here:"
    assert answer.text.startswith(f"{lead_in}\n- leaders who are visible on the wards"), answer.text


@pytest.mark.parametrize(
    ("question", "named"),
    [
        # CQC is printed across the library; the trust asked about is printed beside other
        # trusts in one list, and the library gives no rating of its community services.
        ("What rating did CQC give Somerset Partnership's community services?", "Somerset Partnership"),
        # Calderstones, listed beside Oxleas, went on to outstanding; Oxleas is not said to have.
        ("Did Oxleas go on to be rated outstanding after the Driving improvement report?", "Oxleas"),
    ],
)
def test_a_near_miss_about_one_named_trust_is_not_answered_from_another(
    library: Casebook, question: str, named: str
) -> None:
    answer = library.ask(question)
    assert answer.abstained, answer.text
    mentions = answer.text.splitlines()[0].partition("The library mentions ")[2]
    assert named in mentions and "but not this:" in mentions, answer.text


def test_a_sum_is_not_answered_by_the_third_sector(library: Casebook) -> None:
    answer = library.ask("How much did Lancashire Care spend opening its crisis house?")
    assert answer.abstained, answer.text


def test_a_yes_no_question_leads_with_the_sentence_naming_its_subject(library: Casebook) -> None:
    answer = library.ask(
        "Will NHS Improvement share early findings from the community and mental health productivity review?"
    )
    assert answer.text.startswith("NHSI plans to publish early findings"), answer.text  # NHSI: its acronym
    # A name inside a clause about something else is not the subject: "a provider" is.
    other = library.ask("Can a provider that got a poor CQC rating still reach good within a year?")
    assert "from serious concerns to good within a year" in other.text, other.text


def test_a_later_part_of_one_word_needs_a_sentence_holding_it(library: Casebook) -> None:
    answer = library.ask("Who does Lancashire Care run its crisis house with, and which charities are they?")
    assert "Voluntary organisations" in answer.text
    # The library names no charity: no sentence about charities in general, nor about the trust.
    assert answer.unanswered == ("which charities are they",), answer.text


def test_a_list_split_over_two_passages_is_answered_whole_in_reading_order(library: Casebook) -> None:
    answer = library.ask("Which Partnership trusts are in the Carter review cohort?")
    trusts = [line.split(" NHS")[0].removeprefix("- ") for line in answer.text.splitlines()]
    assert trusts[:5] == [  # chunking put Sussex in the next passage, which ranked first
        "5 Boroughs Partnership",
        "Hertfordshire Partnership University",
        "Leicestershire Partnership",
        "Lincolnshire Partnership",
        "Sussex Partnership",
    ], answer.text


def test_who_asks_the_doer_of_the_verb_not_someone_else_in_the_sentence(library: Casebook) -> None:
    # The library says who can call NTW's crisis line, never who answers it.
    calls = library.ask("Who answers the calls to Northumberland, Tyne and Wear's crisis line?")
    assert calls.abstained, calls.text
    # "led by Jeremy Marlow" answers "who leads": the verb in another form.
    led = library.ask("Who leads the Operational Productivity directorate of NHSI?")
    assert led.text.startswith("Key members of the review team sit in the Operational Productivity"), led.text
    assert "Jeremy Marlow" in led.text.split("[1]")[0]


def test_a_question_of_names_only_is_answered_from_the_passage_naming_them(library: Casebook) -> None:
    # "Who is Adam Sewell-Jones?": the model has not met the name, so the question's cosine to
    # any passage is below the similarity floor; the answer comes from the passage naming him.
    answer = library.ask("Who is Adam Sewell-Jones?")
    assert not answer.abstained, answer.text
    introduced = "Adam Sewell-Jones introduced the model on behalf of NHS Improvement."
    assert answer.text.startswith(introduced), answer.text
    # A name the library never prints still abstains.
    assert library.ask("Who is Jane Okonkwo-Smith?").abstained


def test_what_someone_said_is_answered_by_a_sentence_reporting_it_or_not_at_all(library: Casebook) -> None:
    # The library names "what guests say" only as a thing to measure; no guest is quoted.
    guests = library.ask("What did the people who stayed at the Lancashire Care crisis house say about it?")
    assert guests.abstained, guests.text
    said = library.ask(
        "Who introduced the national model for NHS Improvement, and what did he say about the nine trusts?"
    )
    assert said.text.startswith("Adam Sewell-Jones introduced the model"), said.text
    # "staff from nine trusts collaborated to produce the resource" says what they did, not what he said.
    assert said.unanswered == ("what did he say about the nine trusts",), said.text


def test_plain_questions_the_library_answers_in_its_own_words(library: Casebook) -> None:
    # A word the model barely knows: the question's cosine is under the similarity floor, but
    # the library prints the word and defines it.
    meant = library.ask("What is meant by co-production?")
    assert meant.text.startswith("Co-production, where service users and carers help to design a change"), (
        meant.text
    )
    # "£5bn could be saved": a modal between the figure and the verb counted.
    saved = library.ask("How much did Lord Carter think could be saved through efficiency?")
    assert "£5bn" in saved.text.split("[1]")[0], saved.text
    # The report is named, but the inspectors are the doers: what they did, in any verb.
    inspectors = library.ask("What did the inspectors do when they prepared the Driving improvement report?")
    assert "they also spoke to local patient and voluntary groups" in inspectors.text, inspectors.text


def _one_document_library(tmp_path: Path, embedder: Embedder, name: str, text: str) -> Casebook:
    """Return a Casebook over a library of one document, ``name`` holding ``text``."""
    return _library_of(tmp_path, embedder, {name: text})


def _library_of(tmp_path: Path, embedder: Embedder, documents: dict[str, str]) -> Casebook:
    """Return a Casebook over a library of ``documents`` (file name: text)."""
    from ingest import ingest

    library = tmp_path / "library"
    library.mkdir(parents=True)
    for name, text in documents.items():
        (library / name).write_text(text, encoding="utf-8")
    casebook = make_casebook(tmp_path / "index", embedder)
    ingest([library], casebook.store, embedder)
    return casebook


def test_a_date_or_figure_of_another_event_of_the_same_subject_does_not_answer(
    tmp_path: Path, embedder: Embedder
) -> None:
    casebook = _one_document_library(
        tmp_path,
        embedder,
        "riverside.md",
        "# Riverside Care and its ratings\n\n"
        "Riverside Care NHS Trust has inpatient wards for older adults in a market town.\n\n"
        "- 2014: an inspection found serious concerns about staffing on the wards.\n"
        "- 2015: the trust's first formal rating was good.\n"
        "- Later: on re-inspection the trust was rated outstanding.\n\n"
        "The trust saved £2m on agency staff by recruiting its own nurses.\n"
        "Spending on agency staff is a large item in its budget, so a saving of this size matters.\n\n"
        "The regulator gave four acute trusts new powers to run chains of hospitals. Riverside Care said "
        "it was keen to learn from Hillside Health NHS Trust and Valley Care NHS Trust.\n",
    )
    good = casebook.ask("When was Riverside Care first rated good?")
    assert good.text.startswith("2015: the trust's first formal rating was good."), good.text
    # Its ratings are dated 2014 and 2015; "on re-inspection the trust was rated outstanding" gives no date.
    outstanding = casebook.ask("When was Riverside Care rated outstanding?")
    assert outstanding.abstained, outstanding.text
    # £2m was saved; the library gives no sum spent on recruiting.
    spent = casebook.ask("How much did Riverside Care spend recruiting its own nurses?")
    assert spent.abstained, spent.text
    saved = casebook.ask("How much did Riverside Care save on agency staff?")
    assert "£2m" in saved.text.split("[1]")[0], saved.text
    # The four acute trusts are not named: the trusts named beside them are others.
    chains = casebook.ask(
        "How many acute trusts were given powers to run chains of hospitals, and which trusts were they?"
    )
    assert chains.text.startswith("The regulator gave four acute trusts new powers"), chains.text
    assert chains.unanswered == ("which trusts were they",), chains.text


def test_which_body_questions_want_the_body_named(library: Casebook) -> None:
    # The library says the house is run with "the third sector" and names no charity.
    charity = library.ask("Which charity is Lancashire Care's partner in running the crisis house?")
    assert charity.abstained, charity.text
    # The cohort lists no ambulance service: a list of other trusts is no answer.
    ambulance = library.ask("Which ambulance services are part of the Carter review cohort?")
    assert ambulance.abstained, ambulance.text
    # "heads" is answered by "led by".
    heads = library.ask("Who heads the Operational Productivity directorate?")
    assert "led by Jeremy Marlow" in heads.text.split("[1]")[0], heads.text


def test_a_yes_no_subject_is_named_by_title_and_surname_too(library: Casebook) -> None:
    # "Dr Evans had taken up the post ..." names Navina Evans; "chief exec" is a chief executive.
    answer = library.ask(
        "Was Navina Evans new as chief exec of East London when the trust was rated outstanding?"
    )
    assert answer.text.startswith("Dr Evans had taken up the post of chief executive at East London"), (
        answer.text
    )


def test_a_figure_the_question_names_and_the_bodies_listed_beside_the_subject(
    tmp_path: Path, embedder: Embedder
) -> None:
    casebook = _one_document_library(
        tmp_path,
        embedder,
        "kingsmead.md",
        "# The Kingsmead ward safety programme\n\n"
        "The Kingsmead programme brought together Alder Vale NHS Trust, Birchwood Partnership NHS Trust "
        "and Cedar Fields NHS Trust.\n\n"
        "## Phases\n\n"
        "- Phase 1 (discovery): October 2018 to March 2019. 24 trusts took part in a diagnostic.\n"
        "- Phase 2 (testing): April 2019 to March 2020. Participating trusts tested changes on two wards.\n"
        "- Phase 3 (spread) runs from April 2020 to March 2022. Trusts spread changes to all wards.\n\n"
        "## Peer workers\n\n"
        "Alder Vale reports that 18 of its 22 peer workers were still in post after a year. "
        "Cedar Fields placed its peer workers in community teams.\n\n"
        "## Results\n\n"
        "Cedar Fields saved £2m on agency staff by recruiting its own nurses.\n",
    )
    # "24 trusts took part" is listed under phase 1, beside phase 2.
    phase_two = casebook.ask("How many trusts took part in phase 2 of the Kingsmead programme?")
    assert "24 trusts" not in phase_two.text, phase_two.text
    # "Phase 3 (spread) runs from April 2020 ..." gives no funding: the 3 is the question's own.
    funding = casebook.ask(
        "When does phase 3 of the Kingsmead programme run, and how much funding does each trust get "
        "for phase 3?"
    )
    assert funding.text.startswith("Phase 3 (spread) runs from April 2020 to March 2022."), funding.text
    assert funding.unanswered == ("how much funding does each trust get for phase 3",), funding.text
    # Alder Vale, listed beside Cedar Fields, is another trust: its 22 are not Cedar Fields' recruits.
    cedar = casebook.ask("How many peer workers did Cedar Fields recruit?")
    assert "22" not in cedar.text, cedar.text
    # What was saved is not what had to be spent.
    spent = casebook.ask(
        "How much did Cedar Fields save on agency staff, and how much did it have to spend to do it?"
    )
    assert "£2m" in spent.text.split("[1]")[0], spent.text
    assert spent.unanswered == ("how much did it have to spend to do it",), spent.text


def test_a_counted_list_a_set_up_cost_and_a_section_of_another_ward(
    tmp_path: Path, embedder: Embedder
) -> None:
    casebook = _one_document_library(
        tmp_path,
        embedder,
        "hollybank.txt",
        "Hollybank carers strategy and ward audit\n\n"
        "We have agreed three priorities with carers.\n\n"
        "- Identify carers early. Every team will ask about carers at the first contact.\n"
        "- Involve carers in care. We will involve carers in discharge planning.\n"
        "- Recognise young carers. We will work with schools to support them.\n\n"
        "The set-up cost of the carers' day unit was £465,000, paid from the capital programme.\n\n"
        "1. ASH WARD (adult acute, 18 beds)\n\n"
        "Findings:\n"
        "- We identified 11 ligature points in bathrooms that were not on the risk register.\n\n"
        "2. LINDEN WARD (older adults, 12 beds)\n\n"
        "Findings:\n"
        "- Window restrictors in four bedrooms could be used as ligature anchor points.\n",
    )
    # "three priorities" counts the list that follows: its items are the answer.
    priorities = casebook.ask("What are the three priorities in the Hollybank carers strategy?")
    assert "- Identify carers early. [1]" in priorities.text, priorities.text
    assert "- Recognise young carers. [1]" in priorities.text, priorities.text
    # "set-up cost" is the cost of setting up.
    cost = casebook.ask("How much did the carers' day unit cost to set up?")
    assert "£465,000" in cost.text.split("[1]")[0], cost.text
    # ... and so does "how much did it cost": its set-up cost is a cost of the unit.
    spent = casebook.ask("How much did the carers' day unit cost, and how many carers did it support?")
    assert "£465,000" in spent.text.split("[1]")[0], spent.text
    # "Findings:" and "Window restrictors ..." are no wards: Linden Ward's own finding answers,
    # quoted under its list's lead-in.
    window = casebook.ask("What did the audit find about window restrictors on Linden Ward?")
    assert window.text.startswith("Findings:\n- Window restrictors in four bedrooms"), window.text
    # The 11 ligature points are found under Ash Ward's heading; the letter has one for Linden Ward.
    linden = casebook.ask("How many ligature points were identified on Linden Ward?")
    assert linden.abstained, linden.text
    ash = casebook.ask("How many ligature points were identified on Ash Ward?")
    assert "11 ligature points" in ash.text.split("[1]")[0], ash.text
    assert ash.citations[0].section == "1. ASH WARD (adult acute, 18 beds)", ash.citations[0]


def test_a_count_is_of_the_thing_asked_not_a_word_beside_it(tmp_path: Path, embedder: Embedder) -> None:
    casebook = _one_document_library(
        tmp_path,
        embedder,
        "brookfield.txt",
        "Brookfield crisis house\n\n"
        "Four beds in a community crisis house run by the charity Brookfield provide a short stay for "
        "people who cannot be supported in their own home.\n",
    )
    # "a short stay for people" counts beds, not the people who stayed: the words that qualify
    # what a question counts come before it ("the crisis line's cost"), not after.
    stays = casebook.ask("How many people stayed at the Brookfield crisis house?")
    assert stays.abstained, stays.text
    beds = casebook.ask("How many beds does the Brookfield crisis house have?")
    assert beds.text.startswith("Four beds in a community crisis house"), beds.text


def test_a_table_row_named_by_the_question_answers_how_many(tmp_path: Path, embedder: Embedder) -> None:
    casebook = _one_document_library(
        tmp_path,
        embedder,
        "staffing.md",
        "# Staffing of the Hollybank eating disorder service\n\n"
        "The service grew over two years as its waiting list fell.\n\n"
        "| Staff group | March 2021 (WTE) | March 2023 (WTE) |\n|---|---|---|\n"
        "| Nurses | 4.0 | 6.8 |\n| Dietitians | 1.6 | 3.0 |\n\n"
        "| Quarter | Median wait: referral to assessment |\n|---|---|\n| Q1 2022/23 | 8 weeks |\n",
    )
    nurses = casebook.ask("How many nurses did the Hollybank eating disorder service have in March 2023?")
    assert nurses.text.startswith("Staff group: Nurses | March 2021 (WTE): 4.0 | March 2023 (WTE): 6.8 [1]")
    # "referral" names a column there, not what a row counts: no row gives a number of referrals.
    referrals = casebook.ask(
        "How many referrals did the Hollybank eating disorder service receive in Q1 2022/23?"
    )
    assert referrals.abstained, referrals.text


def test_a_period_the_question_sets_picks_its_own_table_rows(tmp_path: Path, embedder: Embedder) -> None:
    rows = "".join(
        f"| {quarter} | {wait} weeks | {share}% |\n"
        for quarter, wait, share in [("Q3 2021/22", 26, 30), ("Q1 2022/23", 17, 51), ("Q3 2022/23", 11, 74)]
    )
    casebook = _one_document_library(
        tmp_path,
        embedder,
        "waits.md",
        "# Waiting times at the Marshbrook eating disorder service\n\n"
        "The service cut its waits over two years.\n\n"
        "| Quarter | Median wait: referral to start of treatment | Started within 18 weeks |\n|---|---|---|\n"
        + rows,
    )
    asked = casebook.ask(
        "In Q3 2022/23, what was the median wait from referral to start of treatment at Marshbrook, "
        "and what percentage started treatment within 18 weeks?"
    )
    assert asked.text.startswith("Quarter: Q3 2022/23 | "), asked.text
    # The second part asks of Q3 2022/23 too: the same quarter a year before is not its answer.
    assert "Q3 2021/22" not in asked.text and "Q1 2022/23" not in asked.text, asked.text


def test_a_labelled_action_is_one_item_with_its_deadline(tmp_path: Path, embedder: Embedder) -> None:
    letter = (
        "FOLLOW-UP INSPECTION OF RAVENSHOLME HOSPITAL\n\nDear Ms Teale\n\n"
        "We visited four wards. These are our findings, ward by ward.\n\n"
        "2. BEECH WARD (adult acute, 16 beds)\n\n"
        "Findings:\n- The ward ligature risk assessment had not been reviewed since March 2022.\n\n"
        "Actions required:\n"
        "B1. Review and update the ward ligature risk assessment, including the garden. "
        "Deadline: 14 April 2023.\n"
        "B2. Audit observation records every week for 12 weeks. Deadline: first report by 28 April 2023.\n\n"
        "3. CEDAR WARD (psychiatric intensive care unit, 10 beds)\n\n"
        "Actions required:\n"
        "C1. Replace the window restrictors in the four affected bedrooms. Deadline: 31 May 2023.\n"
    )
    # "B1." labels its item (punkt alone ends a sentence there); "Deadline: ..." belongs to it.
    assert split_sentences("B1. Review the assessment. Deadline: 14 April 2023.\nC1. Replace it.") == [
        "B1. Review the assessment. Deadline: 14 April 2023.",
        "C1. Replace it.",
    ]
    casebook = _one_document_library(tmp_path, embedder, "letter.txt", letter)
    actions = casebook.ask("What actions are required on Beech Ward?")
    assert "- B1. Review and update the ward ligature risk assessment, including the garden. " in actions.text
    assert "- B2. Audit observation records every week for 12 weeks." in actions.text, actions.text
    deadline = casebook.ask("When is the deadline for replacing the window restrictors on Cedar Ward?")
    assert deadline.text.startswith(
        "Actions required:\n"
        "- C1. Replace the window restrictors in the four affected bedrooms. Deadline: 31 May 2023. [1]"
    ), deadline.text


def test_a_list_item_quoted_alone_comes_under_its_lead_in(library: Casebook) -> None:
    answer = library.ask("What routes do staff have for raising concerns?")
    # Not the bare fragment "several routes for raising concerns, ...;": the list's lead-in first.
    # (the items it leaves out are marked as left out, as in any quotation)
    assert answer.text.startswith(
        "Practical steps that many trusts use include:\n- …\n"
        "- several routes for raising concerns, including a Freedom to Speak Up guardian"
    ), answer.text
    assert "Practical steps that many trusts use include:" in answer.citations[0].quoted


def test_a_member_named_in_a_list_that_chunking_split_answers_is_it_in(library: Casebook) -> None:
    answer = library.ask("Is Sussex Partnership in the Carter cohort?")
    # The list's lead-in is in the passage before the item's: the item is read, and shown, under it.
    member = "The cohort named by NHSI is:\n- …\n- Sussex Partnership NHS Foundation Trust [1]\n- …\n\n"
    assert answer.text.startswith(member), answer.text
    assert "- 2Gether NHS Foundation Trust" not in answer.text  # not the whole list
    assert library.ask("Is Oxleas in the Carter cohort?").abstained
    # Another member says nothing of it: the list is quoted for the one asked about, not others.
    east = library.ask("Is East London in the Carter cohort?").text
    lead = east.split("\n\n")[0]
    assert re.fullmatch(r"[^\n]+:\n- …\n- East London NHS F[^\n]+ \[1\]\n- …", lead), east
    assert "5 Boroughs Partnership NHS Foundation Trust [1]" not in east, east


def test_an_acronym_is_mentioned_wherever_its_name_is_printed(library: Casebook) -> None:
    by_acronym = library.ask("What is the staff turnover at NTW?")
    by_name = library.ask("What is the staff turnover at Northumberland Tyne and Wear?")
    assert by_acronym.abstained and by_name.abstained
    # One count for one trust: the documents that print only its full name mention "NTW" too.
    titles = {c.title for c in by_acronym.citations}
    assert titles == {c.title for c in by_name.citations}
    assert "Better access to a 24/7 crisis line and lower spending on beds" in titles


def test_a_misspelt_question_is_read_with_the_library_s_spelling(library: Casebook) -> None:
    answer = library.ask("how did trusts reduce out of area placments")
    assert answer.question == "how did trusts reduce out of area placments"  # as the user typed it
    assert answer.search_query.startswith("how did trusts reduce out of area placements")  # shown in the chat
    assert "crisis house" in answer.text.split("[1]")[0], answer.text  # the lead (sample or seed article)


def test_a_date_of_another_event_does_not_answer_when_the_subject_was_rated(library: Casebook) -> None:
    asked = "When did East London get its outstanding rating, and who was its chief executive?"
    answer = library.ask(asked)
    # "... taken up the post ... only in the August before the ratings were published": August
    # dates the appointment, not the rating; the title's "outstanding" does not make it the rating's.
    assert "Dr Evans had taken up the post of chief executive" in answer.text
    assert answer.unanswered == ("When did East London get its outstanding rating",), answer.text


def test_what_was_done_comes_with_what_it_achieved(tmp_path: Path, embedder: Embedder) -> None:
    casebook = _one_document_library(
        tmp_path,
        embedder,
        "line.md",
        "# Better access to the Wyvern crisis line\n\n## What changed\n\n"
        "Wyvern Vale NHS Trust concentrated on answering its crisis line faster, so that callers reached "
        "skilled help at once. Calls are now answered by a nurse within two minutes. "
        "The result reported by the trust was a reduction in bed costs of £1.2m.\n",
    )
    answer = casebook.ask("What did Wyvern Vale do about its crisis line?")
    lead = "Wyvern Vale NHS Trust concentrated on answering its crisis line faster"
    assert answer.text.startswith(lead), answer.text
    assert "a reduction in bed costs of £1.2m. [1]" in answer.text, answer.text


def test_which_trust_took_over_is_answered_by_was_taken_over_by(library: Casebook) -> None:
    answer = library.ask("Which trust took over Calderstones?")
    assert "Calderstones was taken over by Mersey Care NHS Foundation Trust" in answer.text.split("[1]")[0], (
        answer.text
    )
    # An open "why" is not answered by its own words in another tense.
    assert library.ask("Why did Mersey Care take over Calderstones in the first place?").abstained


def test_how_much_money_is_answered_by_an_amount_in_pounds(library: Casebook) -> None:
    # "£5bn could be saved": the amount is the money asked for, and "could be" leads to the figure.
    for asked in (
        "How much money could be saved according to Lord Carter?",
        "How much could greater efficiency save?",
    ):
        answer = library.ask(asked)
        lead = answer.text.split("[1]")[0]  # from the sample library or the seed article
        assert "£5bn could be" in lead, (asked, answer.text)


@pytest.mark.parametrize(
    ("sentence", "leans"),
    [
        (
            "Like most specialist trusts, it runs a crisis telephone line.",
            True,
        ),  # "it": the one before's trust
        ("When inspectors prepared the report, they spoke to local groups.", False),  # its own subject
        ("Rather than taking over other organisations, the trust was concentrating.", False),
        # the end of a quotation begun before it: who said it is in the sentence before
        ('The trust must act quickly so that young people are safe."', True),
        ('The inspector said: "The trust must act quickly."', False),
    ],
)
def test_a_pronoun_after_an_opening_phrase_leans_on_the_sentence_before(sentence: str, leans: bool) -> None:
    from assistant.evidence import Unit

    assert Unit(sentence, 0, 0).leans_back is leans


def test_an_abstention_says_when_more_documents_mention_the_subject_than_it_names(library: Casebook) -> None:
    answer = library.ask("What is the CQC's annual budget?")
    assert answer.abstained, answer.text
    assert "The library mentions CQC in more than 5 documents, but not this:" in answer.text, answer.text
    assert len(answer.citations) == 5


def test_the_users_synonyms_answer_a_question_asked_in_other_words(
    tmp_path: Path, embedder: Embedder
) -> None:
    text = (
        "Larkhill peer programme\n\n"
        "The Larkhill peer programme was funded by a grant of £640,000 from the Arden Foundation.\n\n"
        "When no local bed is free, the Larkhill trust pays a premium for each crisis bed it buys.\n"
    )
    casebook = _one_document_library(tmp_path, embedder, "larkhill.txt", text)
    # The shipped synonyms.yaml reads a question's "paid" in a sentence's "funded" ...
    paid = casebook.ask("Who paid for the Larkhill peer programme?")
    assert paid.text.startswith("The Larkhill peer programme was funded by a grant"), paid.text
    # ... one way only: the trust that pays a premium does not fund the beds.
    funds = casebook.ask("Who funds the Larkhill crisis beds?")
    assert funds.abstained, funds.text
    # A file of the user's own replaces it: without "paid" for "funded", the grant is not quoted.
    mine = tmp_path / "synonyms.yaml"
    mine.write_text("- [choose, select]\n", encoding="utf-8")
    own = make_casebook(tmp_path / "index", embedder, synonyms_file=mine)
    assert "funded by a grant" not in own.ask("Who paid for the Larkhill peer programme?").text


def test_a_synonyms_file_that_cannot_be_read_is_named_with_its_fix(tmp_path: Path) -> None:
    from assistant.glossary import load_synonyms

    bad = tmp_path / "synonyms.yaml"
    bad.write_text("- pay: fund\n", encoding="utf-8")
    with pytest.raises(DataError) as error:
        load_synonyms(bad)
    assert str(error.value) == (
        f"{bad}: cannot read the line {{'pay': 'fund'}}. Write '- [word, word, ...]' or "
        "'- {asked: [word, ...]}' lines, e.g. '- [choose, select]'"
    )


def test_when_a_named_thing_happened_is_dated_by_the_sentence_naming_it(library: Casebook) -> None:
    # Beside it, "The publication followed an earlier CQC report ..., published in March 2017"
    # holds more of the question's words ("report"), and led before.
    answer = library.ask("When was the Driving improvement report published?")
    assert answer.text.startswith("On 15 March 2018 the Care Quality Commission (CQC) published Driving"), (
        answer.text
    )


def test_a_list_item_is_about_its_sections_heading(tmp_path: Path, embedder: Embedder) -> None:
    casebook = _one_document_library(
        tmp_path,
        embedder,
        "steady.md",
        "# Steady progress: case studies from five community trusts\n\n"
        "The council published Steady progress in March 2018 to show how five trusts improved.\n\n"
        "A note on Carrow Health: the trust has since merged, and its outstanding rating applies to "
        "the service in its new setting.\n\n"
        "## Rating changes at the five trusts\n\n"
        "Four of the five trusts moved from requires improvement to good.\n\n"
        "- Ashdown Community NHS Foundation Trust: requires improvement to good.\n"
        "- Beacon Partnership NHS Foundation Trust: requires improvement to good.\n"
        "- Carrow Health NHS Trust: good to outstanding.\n",
    )
    # The item names no rating; its heading, "Rating changes at the five trusts", does.
    answer = casebook.ask("What was Carrow Health's rating change?")
    assert answer.text.startswith("Carrow Health NHS Trust: good to outstanding. [1]"), answer.text
    # Naming the trust under a heading naming what is asked, the item is its entry: it leads,
    # before the note that names the trust and a rating in words of its own.
    rating = casebook.ask("What rating did Carrow Health NHS Trust get?")
    assert rating.text.startswith("Carrow Health NHS Trust: good to outstanding."), rating.text


def test_which_organisations_is_answered_by_a_kind_of_body_not_only_names(library: Casebook) -> None:
    # "Which trusts" wants trusts named; "which organisations" may be answered by a kind of them.
    answer = library.ask("Which organisations did the inspectors talk to?")
    assert not answer.abstained and "local patient and voluntary groups" in answer.text.split("[1]")[0], (
        answer.text
    )


def test_a_question_of_only_a_name_is_answered_by_the_name_spelt_out(library: Casebook) -> None:
    # "based" asks a place and says nothing of NTW: the name, printed in full, is all it asks.
    answer = library.ask("Where is NTW based?")
    assert "in the north east of England. [1]" in answer.text.split("\n\n")[0], answer.text


def test_how_long_is_answered_by_a_time_not_by_any_number(tmp_path: Path, embedder: Embedder) -> None:
    casebook = _one_document_library(
        tmp_path,
        embedder,
        "brookfield.txt",
        "Brookfield crisis house\n\n"
        "Each guest who stays at the Brookfield crisis house is one fewer person sent to a distant ward.\n\n"
        "The Brookfield crisis house has four beds, and a stay lasts up to seven nights.\n",
    )
    stay = casebook.ask("How long do guests stay at the Brookfield crisis house?")
    assert stay.text.startswith(
        "The Brookfield crisis house has four beds, and a stay lasts up to seven nights."
    ), stay.text
    assert "one fewer person" not in stay.text, stay.text


def test_how_long_is_not_answered_by_a_sentence_giving_no_time(library: Casebook) -> None:
    # "Each person supported this way is one fewer person ..." counts, but gives no length of stay.
    assert library.ask("How long do people stay in the crisis house?").abstained


def test_a_later_part_is_answered_only_by_a_sentence_holding_what_sets_it_apart(
    tmp_path: Path, embedder: Embedder
) -> None:
    casebook = _one_document_library(
        tmp_path,
        embedder,
        "ashcombe.txt",
        "Ashcombe inspection summary\n\n"
        "At Ashcombe the registered nurse vacancy rate fell from 17% in 2017 to 9% in 2019.\n\n"
        "Several consultant psychiatrist posts in community teams were filled by locum doctors.\n",
    )
    # The second part differs from the first only in whose vacancy rate it asks: the nurses'
    # sentence holds "vacancy rate" but answers the first part, and the psychiatrists' sentence
    # gives no rate.
    rates = casebook.ask(
        "What was Ashcombe's registered nurse vacancy rate in 2019, "
        "and what was its vacancy rate for consultant psychiatrists?"
    )
    assert rates.text.startswith("At Ashcombe the registered nurse vacancy rate fell"), rates.text
    assert rates.unanswered == ("what was its vacancy rate for consultant psychiatrists",), rates.text


def test_the_sample_synonyms_answer_a_project_s_cost_empty_posts_and_holds_face_down(
    tmp_path: Path, embedder: Embedder
) -> None:
    casebook = _one_document_library(
        tmp_path,
        embedder,
        "ashcombe.txt",
        "Ashcombe restraint reduction\n\n"
        "The Ashcombe restraint reduction programme cost £186,000 over two years, paid from the "
        "trust's charitable funds.\n\n"
        "At the time of our inspection 9 of the 22 registered nurse posts on the unit were vacant.\n\n"
        "Staff used prone restraint 37 times between November 2023 and April 2024.\n\n"
        "Ashcombe cut its out-of-area placements by opening a crisis house in 2019.\n",
    )
    # "the project's cost" is the programme's ("programme cost", not the cost of another thing)
    cost = casebook.ask("How much did Ashcombe's restraint project cost?")
    assert cost.text.startswith("The Ashcombe restraint reduction programme cost £186,000"), cost.text
    posts = casebook.ask("How many nurse posts are empty at Ashcombe?")  # posts that are vacant
    assert posts.text.startswith("At the time of our inspection 9 of the 22"), posts.text
    # A phrase of the file, read with its words in order: "held ... face down" is prone restraint.
    held = casebook.ask("How many times were patients at Ashcombe held face down?")
    assert held.text.startswith("Staff used prone restraint 37 times"), held.text
    assert held.search_query.endswith("(restraint; prone)"), held.search_query
    # One way: wards "miles away from home" are out-of-area placements.
    away = casebook.ask("How did Ashcombe stop sending patients to wards miles away from home?")
    assert away.text.startswith("Ashcombe cut its out-of-area placements by opening a crisis house"), (
        away.text
    )


def test_an_answer_whose_it_the_question_names_leads_without_the_sentence_before(
    tmp_path: Path, embedder: Embedder
) -> None:
    casebook = _one_document_library(
        tmp_path,
        embedder,
        "ashcombe.md",
        "# Ashcombe crisis line review\n\n"
        "Ashcombe Health NHS Trust opened a new crisis line for adults in the spring. "
        "Its call handlers answered 12,400 calls in the first year.\n\n"
        "Dr Ann Marsh chairs the trust's clinical board. "
        "She praised the call handlers at the launch. "
        "She singled out night shift cover as essential to the line's success.\n\n"
        "The Marsh Lane site started on 4 July 2022. "
        "It has a budget of £1.9 million for 2022/23 and 27 staff.\n",
    )
    # The question names what "its" is: the answer leads with the sentence that answers it.
    calls = casebook.ask("How many calls did Ashcombe Health's call handlers answer?")
    assert calls.text.startswith("Its call handlers answered 12,400 calls"), calls.text
    # "She praised ..." says no more than the answer who "she" is.
    essential = casebook.ask("What did Dr Marsh single out as essential?")
    assert essential.text.startswith("She singled out night shift cover as essential"), essential.text
    # Three questions, one after a comma; "It has a budget of £1.9 million" is the site's budget.
    site = casebook.ask(
        "When did the Marsh Lane site start, what is its budget, and how many staff does it have?"
    )
    assert "4 July 2022" in site.text and "£1.9 million" in site.text, site.text
    assert site.unanswered == (), site.text


def test_a_sentence_dated_by_another_year_than_the_questions_does_not_answer_it(
    tmp_path: Path, embedder: Embedder
) -> None:
    casebook = _one_document_library(
        tmp_path,
        embedder,
        "ashcombe.md",
        "# Ashcombe crisis house: the 2018/19 review and the 2019 inspection\n\n"
        "In 2016/17, 40 people stayed at the Marsh Lane crisis house, most of them for under a week.\n\n"
        "The inspectors told the trust that it must take six actions, compared with 31 after the "
        "2017 inspection.\n",
    )
    stays = casebook.ask("How many people stayed at the Marsh Lane crisis house in 2018/19?")
    assert stays.abstained, stays.text
    # A year the sentence compares with does not date it.
    actions = casebook.ask("How many actions must Ashcombe take after the 2019 inspection?")
    assert actions.text.startswith("The inspectors told the trust that it must take six actions"), (
        actions.text
    )


def test_what_must_a_trust_do_leads_with_its_actions_each_with_its_regulation(
    tmp_path: Path, embedder: Embedder
) -> None:
    casebook = _one_document_library(
        tmp_path,
        embedder,
        "ashcombe.txt",
        "Ashcombe Lodge inspection report\n\n"
        "Action the trust MUST take to comply with its legal obligations:\n\n"
        "1. The trust must ensure there are two registered nurses on every night shift. "
        "(Regulation 18: Staffing)\n"
        "2. The trust must ensure that every restraint is recorded in full. (Regulation 12: Safe care)\n\n"
        'Our deputy chief inspector said: "Young people told us that staff are caring. '
        "But too many shifts were run by agency staff. "
        'The trust must act quickly so that young people are safe."\n',
    )
    answer = casebook.ask("What must Ashcombe do following the inspection?")
    # Not the end of the inspector's quotation, whose speaker is two sentences before it; each
    # action comes with the regulation in brackets after it, not as an item of its own.
    assert answer.text.startswith(
        "Action the trust MUST take to comply with its legal obligations:\n"
        "- 1. The trust must ensure there are two registered nurses on every night shift. "
        "(Regulation 18: Staffing) [1]\n"
    ), answer.text


def test_a_heading_in_capitals_or_a_one_word_label_ends_a_list() -> None:
    from assistant.evidence import units_of

    text = (
        "LIVED EXPERIENCE NETWORK BULLETIN\nIssue 23 - March 2021\n\n"
        "Actions required:\n"
        "C1. Replace the window restrictors in the four bedrooms. Deadline: 31 May 2023.\n\n"
        "4. LINDEN WARD (older adults, 20 beds)\n\n"
        "Findings:\n"
        "- Several bedrooms had call bell pull cords that could be used as ligature points.\n\n"
        "Trust\nRating\nNTW\nGOOD\n"
    )
    units = [(u.text, u.item) for u in units_of(0, text)]
    # A masthead in capitals and the line under it are no table; the ward's heading is not an
    # item of Cedar Ward's actions; "Findings:" leads in its own list.
    assert units[:4] == [
        ("Actions required:", False),
        ("C1. Replace the window restrictors in the four bedrooms. Deadline: 31 May 2023.", True),
        ("Findings:", False),
        ("Several bedrooms had call bell pull cords that could be used as ligature points.", True),
    ], units
    # A table of one cell a line keeps its cells, acronyms and ratings in capitals too.
    assert [t for t, _ in units[4:]] == ["Trust", "Rating", "NTW", "GOOD"]


def test_a_list_that_chunking_split_is_read_whole_over_its_passages() -> None:
    from assistant.evidence import units_of
    from assistant.extractive import _items_after, _list_after
    from vectorstore import Chunk, Passage

    texts = [
        "The cohort named by the review is:\n- Ashby Health NHS Trust\n- Brook Care NHS Trust",
        "- Cole Valley NHS Trust\n- Dene Partnership NHS Trust\n\nThe review reports in the spring.",
    ]
    # Retrieved out of order, as a search returns them.
    passages = [Passage(Chunk(f"d:{n}", "d", texts[n], "Cohort", "cohort.md", n), 1.0, 0.5) for n in (1, 0)]
    units = [u for k, p in enumerate(passages) for u in units_of(k, p.chunk.text, "d")]
    lead_in = next(k for k, u in enumerate(units) if u.text.endswith("is:"))
    items = [units[k].text for k in _list_after(lead_in, units, passages)]
    assert items == [
        "Ashby Health NHS Trust",
        "Brook Care NHS Trust",
        "Cole Valley NHS Trust",
        "Dene Partnership NHS Trust",
    ]
    # A quotation of the first passage's items goes on: "- …" marks the rest as left out.
    assert len(_items_after(lead_in, units, passages)) == 2


def test_who_holds_a_role_is_answered_by_a_person_not_by_a_month_beside_a_capital(
    tmp_path: Path, embedder: Embedder
) -> None:
    casebook = _one_document_library(
        tmp_path,
        embedder,
        "ashcombe.md",
        "# Cutting waits for eating disorder care\n\n"
        "Between April 2021 and March 2023 the Ashcombe Adult Eating Disorder Service cut the median "
        "wait from referral to first assessment from 19 weeks to 4 weeks.\n\n"
        "Dr Priya Ranganathan, consultant clinical psychologist and clinical lead for the service, said: "
        '"We knew people were becoming more unwell on our waiting list."\n',
    )
    # "Between April" is no person's name: the sentence naming the clinical lead answers.
    lead = casebook.ask("Who is the clinical lead for Ashcombe's adult eating disorder service?")
    assert lead.text.startswith("Dr Priya Ranganathan, consultant clinical psychologist"), lead.text


def test_a_later_how_many_is_answered_by_a_quoted_sentence_counting_it(library: Casebook) -> None:
    answer = library.ask(
        "When did the CQC publish Driving improvement, how many trusts did it feature, "
        "and what did the report cost to produce?"
    )
    # "... describing how seven NHS mental health trusts raised ..." counts the trusts: only the
    # cost is missing.
    assert "seven NHS mental health trusts" in answer.text, answer.text
    assert answer.unanswered == ("what did the report cost to produce",), answer.text


def test_a_figure_after_its_verb_is_its_items_and_how_often_asks_a_frequency(
    tmp_path: Path, embedder: Embedder
) -> None:
    casebook = _one_document_library(
        tmp_path,
        embedder,
        "calmer.md",
        "# Calmer Wards at Ashcombe\n\n"
        "The Calmer Wards programme started in April 2023. The main changes were:\n\n"
        "- Debriefs: a debrief offered to the patient and staff within 72 hours of every restraint.\n"
        "- Sensory rooms: new sensory rooms on four wards, costing £9,600 each.\n"
        "- Training: a two-day de-escalation course for all 420 ward staff.\n\n"
        "Patients on two wards used the sensory rooms within 48 hours of admission.\n\n"
        "Patients with a care plan were 3.1 times more likely to use the sensory rooms.\n",
    )
    answer = casebook.ask(
        "How much did each sensory room at Ashcombe cost and how often did patients use them?"
    )
    # "costing £9,600" is the rooms' cost: the figure follows its verb, the rooms are named before it.
    assert "- Sensory rooms: new sensory rooms on four wards, costing £9,600 each. [1]" in answer.text
    # "within 48 hours" is no frequency, nor is "3.1 times more likely": the library does not say.
    assert answer.unanswered == ("how often did patients use them",), answer.text


def test_an_item_under_a_lead_in_of_changes_brings_its_list_and_an_outcome_is_no_other_item(
    tmp_path: Path, embedder: Embedder
) -> None:
    casebook = _one_document_library(
        tmp_path,
        embedder,
        "calmer.md",
        "# Calmer Wards at Ashcombe\n\n"
        "The Calmer Wards programme started in April 2023. The main changes were:\n\n"
        "- Debriefs: a post-incident debrief offered to the patient and staff within 72 hours of every "
        "restraint.\n"
        "- Sensory rooms: new sensory rooms on four wards, costing £9,600 each.\n"
        "- Training: a two-day de-escalation course for all 420 ward staff.\n\n"
        "## Ward notes\n\n"
        "The ward kept notes through the year. Notes:\n\n"
        "- Staff on Elm Ward were trained in de-escalation in 2023.\n"
        "- The Elm Ward garden cost £2,400.\n"
        "- The ward had 20 beds.\n",
    )
    # The item names nothing done ("offered" is no "introduced"), but its lead-in does ("changes"):
    # every change is what was done, so the whole list is quoted.
    answer = casebook.ask("What did Ashcombe do to get staff holding patients down less often?")
    assert answer.text.startswith(
        "The main changes were:\n- Debriefs: a post-incident debrief offered to the patient and staff "
        "within 72 hours of every restraint. [1]\n- Sensory rooms: new sensory rooms on four wards, "
        "costing £9,600 each. [1]\n- Training: a two-day"
    ), answer.text
    # Under a lead-in that names nothing done, the item is quoted alone: what it achieved would be a
    # sentence after it, not the next item's cost.
    trained = casebook.ask("What did Ashcombe do to train staff on Elm Ward?")
    assert "- Staff on Elm Ward were trained in de-escalation in 2023. [1]" in trained.text, trained.text
    assert "garden" not in trained.text, trained.text


def test_a_sum_is_money_and_what_is_knocked_off_is_a_reduction(tmp_path: Path, embedder: Embedder) -> None:
    review = _one_document_library(
        tmp_path / "review",
        embedder,
        "review.md",
        "# Ashcombe productivity review\n\n"
        "Early results are expected in back-office services and procurement, through the benchmarking "
        "tool linked to the audit's estimate that £40,000 a year could be saved through greater "
        "efficiency.\n",
    )
    # "How big a sum" asks for money, which a figure in pounds is.
    sum_ = review.ask("How big a sum could Ashcombe free up by being more efficient?")
    assert sum_.text.startswith("Early results are expected in back-office services"), sum_.text
    line = _one_document_library(
        tmp_path / "line",
        embedder,
        "line.md",
        "# Ashcombe crisis line\n\n"
        "Making its crisis line easier to reach brought Ashcombe a reduction in bed costs of £3.5m.\n",
    )
    # The shipped synonyms: what a trust "knocked off" its spending is a reduction.
    cut = line.ask(
        "How much did Ashcombe knock off its ward spending by making its crisis line easier to reach?"
    )
    assert cut.text.startswith("Making its crisis line easier to reach brought Ashcombe a reduction"), (
        cut.text
    )


def test_a_phrase_in_another_tense_answers_what_happened_but_gives_no_reason(
    tmp_path: Path, embedder: Embedder
) -> None:
    casebook = _one_document_library(
        tmp_path,
        embedder,
        "calderstones.md",
        "# Calderstones and Mersey Care\n\n"
        "July 2016: Calderstones was taken over by Mersey Care NHS Foundation Trust and became Mersey "
        "Care's Specialist Learning Disability Division.\n\n"
        "On 15 March 2018 the regulator published Driving improvement, a set of case studies.\n",
    )
    became = casebook.ask("What did Calderstones become after Mersey Care took it over?")
    assert became.text.startswith("July 2016: Calderstones was taken over by Mersey Care"), became.text
    # "Why did they take it over?" is not answered by the takeover itself.
    why = casebook.ask("Why did Mersey Care take over Calderstones in the first place?")
    assert why.abstained, why.text
    # "put out" asks when it was published.
    out = casebook.ask("When did the regulator put out Driving improvement?")
    assert out.text.startswith("On 15 March 2018 the regulator published Driving improvement"), out.text


def test_the_subjects_asked_are_the_topics_a_list_gives(tmp_path: Path, embedder: Embedder) -> None:
    casebook = _one_document_library(
        tmp_path,
        embedder,
        "guide.md",
        "# The Ashcombe improvement guide\n\n"
        "The guide offers advice on building improvement that lasts. Its topics include:\n\n"
        "- managing resources;\n- leadership and culture;\n- making the most of digital innovation.\n",
    )
    answer = casebook.ask("What subjects does the Ashcombe guide give advice on?")
    assert answer.text.startswith(
        "Its topics include:\n- managing resources; [1]\n- leadership and culture; [1]\n"
    ), answer.text


def test_how_long_is_answered_by_till_when_but_not_by_any_date(tmp_path: Path, embedder: Embedder) -> None:
    casebook = _one_document_library(
        tmp_path,
        embedder,
        "ashby.md",
        "# The Ashby review\n\n"
        "Lord Ashby was asked to lead a review of community trusts, with its findings due in late 2017.\n\n"
        "Patients of the Ashby memory clinic have been seen at its town centre site since March 2016.\n",
    )
    review = casebook.ask("How long was the Ashby review of community trusts expected to take?")
    assert review.text.startswith("Lord Ashby was asked to lead a review"), review.text
    # Since when patients are seen there says nothing of how long they wait.
    wait = casebook.ask("How long do patients wait to be seen at the Ashby memory clinic?")
    assert wait.abstained, wait.text


def test_a_rate_asked_for_one_group_is_not_answered_by_anothers(tmp_path: Path, embedder: Embedder) -> None:
    casebook = _one_document_library(
        tmp_path,
        embedder,
        "thornbury.md",
        "# Thornbury workforce report\n\n"
        "The registered nurse vacancy rate at Thornbury was 12.6% at 30 September 2025.\n\n"
        "The overall vacancy rate was 8.9%, down from 11.4% a year before.\n\n"
        "Nurse turnover in community teams fell to 9% after the trust began stay conversations.\n\n"
        "In 2026 the trust plans to offer stay conversations to healthcare support workers too.\n",
    )
    nurses = casebook.ask("What's the vacancy rate for registered nurses at Thornbury?")
    assert nurses.text.startswith("The registered nurse vacancy rate at Thornbury was 12.6%"), nurses.text
    community = casebook.ask("What is nurse turnover in community teams at Thornbury?")
    assert community.text.startswith("Nurse turnover in community teams fell to 9%"), community.text
    # The nurses' and the overall rate are no healthcare assistants' rate; a sentence naming
    # support workers without their turnover gives no turnover.
    for question in (
        "What's the vacancy rate for healthcare assistants at Thornbury?",
        "What is turnover among healthcare support workers at Thornbury?",
    ):
        answer = casebook.ask(question)
        assert answer.abstained, (question, answer.text)


def test_staffs_words_for_a_night_service_and_a_home_visit_and_each_name_of_a_and_e(
    tmp_path: Path, embedder: Embedder
) -> None:
    casebook = _one_document_library(
        tmp_path,
        embedder,
        "gullmouth.md",
        "# Around the clock: psychiatric liaison at Gullmouth General Hospital\n\n"
        "Until 2023 the liaison team in Gullmouth's emergency department worked from 9am to 9pm.\n\n"
        "## Timeline\n\n"
        "1. **6 March 2023**: funding agreed by the integrated care board.\n"
        "2. **1 November 2023**: 24-hour service begins.\n\n"
        "## Home treatment\n\n"
        "The crisis team has a night shift of two practitioners able to visit people at home.\n\n"
        "The team's office is open for an hour each morning for calls from GPs.\n\n"
        "## The regulator\n\n"
        "Being able to speak to regulator staff between inspections was seen as helpful by the team.\n",
    )
    # A&E is the emergency department too; a 24-hour service works through the night.
    night = casebook.ask(
        "When did the mental health team in Gullmouth's A&E start working through the night?"
    )
    assert night.text.startswith("1 November 2023: 24-hour service begins."), night.text
    visit = casebook.ask(
        "Can someone from Gullmouth's crisis team now come round to your home in the middle of the night?"
    )
    assert visit.text.startswith("The crisis team has a night shift of two practitioners"), visit.text
    touch = casebook.ask(
        "Is it worth keeping in touch with the regulator between inspections, according to Gullmouth?"
    )
    assert touch.text.startswith("Being able to speak to regulator staff between inspections"), touch.text


def test_a_share_is_answered_by_a_share_of_the_group_asked(tmp_path: Path, embedder: Embedder) -> None:
    casebook = _one_document_library(
        tmp_path,
        embedder,
        "wrenby.md",
        "# Wrenby House inspection\n\n"
        "Agency staff filled 58% of nursing shifts at night in the three months before our visit.\n\n"
        "Young people under 18 are seen by a separate children's liaison team, which aims to see anyone "
        "referred from the emergency department within one hour.\n\n"
        "| Measure | Before | After |\n|---|---|---|\n"
        "| Adults seen within 1 hour of referral from the emergency department | 46% | 83% |\n\n"
        "In its first 100 days, 38% of visitors to the Wrenby crisis café said they would otherwise have "
        "gone to A&E.\n\nSix of the eight Wrenby wards now hold a weekly safety huddle.\n",
    )
    nights = casebook.ask("What share of night nursing shifts at Wrenby House were covered by agency staff?")
    assert nights.text.startswith("Agency staff filled 58% of nursing shifts at night"), nights.text
    # A target is no share, and the adults' share is not the young people's.
    young = casebook.ask(
        "What share of young people referred from Wrenby's emergency department were seen within an hour?"
    )
    assert young.abstained, young.text
    huddles = casebook.ask("What share of the Wrenby wards hold a weekly safety huddle?")
    assert huddles.text.startswith("Six of the eight Wrenby wards"), huddles.text
    # What visitors said is no share of visitors who were men.
    men = casebook.ask("What percentage of visitors to the Wrenby crisis café were men?")
    assert men.abstained, men.text


def test_a_figure_is_its_doers_only_where_the_doer_is_named_near_it(
    tmp_path: Path, embedder: Embedder
) -> None:
    casebook = _one_document_library(
        tmp_path,
        embedder,
        "carter.md",
        "# Review of community trusts due next year\n\n## The cohort\n\n"
        "The review team is working with a first cohort of trusts, which includes Ashfield Care NHS "
        "Foundation Trust, Brookside Partnership NHS Trust and Corley Health NHS Trust. Ashfield Care "
        "opened a crisis house in 2016 with a local charity.\n\n## What the review will share\n\n"
        "The regulator aims to share early findings where possible, such as on procurement and making "
        "data available from the Model Hospital, where Lord Carter suggested £5bn could be made in "
        "efficiency savings.\n",
    )
    carter = casebook.ask("How much did Lord Carter suggest could be saved?")
    assert "Lord Carter suggested £5bn" in carter.text, carter.text
    # Ashfield Care is named in another section: the £5bn is not its saving.
    ashfield = casebook.ask("How much money did Ashfield Care save by opening its crisis house?")
    assert ashfield.abstained, ashfield.text


def test_a_question_after_a_clause_setting_it_is_asked_of_what_follows(library: Casebook) -> None:
    question = (
        "When the improving trusts got a poor first mark from inspectors, what did their boards do with it?"
    )
    answer = library.ask(question)
    assert answer.text.startswith(
        "For many of them a poor rating acted as a stimulus rather than a setback"
    ), answer.text
    # An abstention quotes the question as asked.
    missing = library.ask("After the twinning began, how many staff did East London lend to NTW?")
    assert missing.abstained and "“After the twinning began, how many staff" in missing.text, missing.text


def test_a_later_part_naming_its_own_subject_is_not_answered_by_the_firsts(
    tmp_path: Path, embedder: Embedder
) -> None:
    casebook = _one_document_library(
        tmp_path,
        embedder,
        "sites.md",
        "# Community transformation: an update on our three early sites\n\n## Eskby site\n\n"
        "The Eskby site started on 1 April 2022. Jane Morrow chairs the Eskby site board, which meets "
        "monthly.\n\n## Oxtonby site\n\nThe Oxtonby site was due to start on 3 October 2022, but asbestos "
        "was found in its hub building. Its board has not yet met.\n",
    )
    answer = casebook.ask("Who chairs the Eskby site board, and who chairs the Oxtonby site board?")
    assert answer.text.startswith("Jane Morrow chairs the Eskby site board"), answer.text
    assert answer.unanswered == ("who chairs the Oxtonby site board",), answer.text


def test_a_resource_s_own_sentences_a_count_an_initiative_and_a_post_are_read_in_staff_wording(
    tmp_path: Path, embedder: Embedder
) -> None:
    # Several documents, so that a word one of them prints is rarer than one all of them do.
    casebook = _library_of(
        tmp_path,
        embedder,
        {
            "orford-wards.md": "# Orford Care ward staffing\n\n"
            "Orford Care NHS Trust runs six adult wards. Its nurse vacancy rate was 9% in March.\n\n"
            "The trust filled most gaps with its own bank staff rather than agency nurses.\n\n"
            'Jo Bright, Chief People Officer at Orford Care, said: "Our own bank works for staff."\n',
            "crisis-cafe.md": "# The Saltmarsh crisis cafe\n\n"
            "The Saltmarsh crisis cafe opens every evening for people in distress.\n\n"
            "Visitors can drop in without a referral and talk to a peer worker.\n",
            "harrowby-resource.md": "# Learning from improving teams: a Harrowby Health resource\n\n"
            "Harrowby Health wrote this for community mental health teams across the county.\n\n"
            "The resource gives advice on how to learn from complaints and act on feedback.\n\n"
            "Case studies from nine community mental health teams show what changed on the ground.\n\n"
            "Peer to peer learning is often the most effective way for teams facing challenges to improve.\n",
            "hospital-groups.md": "# Groups of hospitals\n\n"
            "Four acute trusts were given new powers to run groups of hospitals as part of the vanguard "
            "projects.\n\nEach group shares one board and one chief executive.\n",
        },
    )
    # "The resource" is the Harrowby Health resource asked of: its document names it.
    complaints = casebook.ask("does the Harrowby Health resource say anything about handling complaints?")
    assert complaints.text.startswith("The resource gives advice on how to learn from complaints"), (
        complaints.text
    )
    # Nine teams are counted with the words naming their kind between ("nine community mental health teams").
    teams = casebook.ask("how many teams did the case studies cover?")
    assert teams.text.startswith("Case studies from nine community mental health teams"), teams.text
    # The Chief People Officer is no chief executive: the library names none.
    chief = casebook.ask("Who is the chief executive of Orford Care NHS Trust?")
    assert chief.abstained, chief.text
    # An initiative is a project.
    initiative = casebook.ask("What acute-sector initiative were the new groups of hospitals part of?")
    assert initiative.text.startswith("Four acute trusts were given new powers"), initiative.text


def test_seeds_alone_answer_questions_in_staff_wording(
    seeds: Path, tmp_path: Path, embedder: Embedder
) -> None:
    from ingest import ingest

    casebook = make_casebook(tmp_path / "seeds-index", embedder)
    ingest([seeds], casebook.store, embedder)
    # A boss is a chief executive.
    boss = casebook.ask(
        "what did the NTW boss say the outstanding rating could turn them into for trusts that are "
        "struggling?"
    )
    assert boss.text.startswith(
        "Northumberland, Tyne and Wear FT chief executive says the rating could make it"
    ), boss.text
    # "reckon" asks an opinion, not a word a sentence holds; "works best" is "the most effective".
    learning = casebook.ask("what sort of learning does NHSI reckon works best for trusts in difficulty?")
    assert learning.text.startswith("Peer to peer learning can often be the most effective"), learning.text
    # The passage saying how the seven were chosen ranks just below the first five read.
    chosen = casebook.ask(
        "how did CQC pick the seven trusts for the report, and how many trusts were in the running?"
    )
    assert chosen.text.startswith(
        "The following specialist mental health trusts feature in the publication, having been selected"
    ), chosen.text
    assert chosen.unanswered == ("how many trusts were in the running",), chosen.unanswered
    # To "build up" leaders is to strengthen leadership; "getting on better" is improved relations.
    built = casebook.ask("how did the improving trusts build up their leaders, according to Lelliott?")
    assert built.text.startswith("“In this report, we give examples of how these trusts have worked hard"), (
        built.text
    )
    relations = casebook.ask(
        "did the trusts in the CQC case studies end up getting on better with CQC over time?"
    )
    assert relations.text.startswith("Most of our trusts acknowledged an improvement in relations"), (
        relations.text
    )


def test_membership_of_a_table_or_of_two_lists_is_read_from_their_entries(
    tmp_path: Path, embedder: Embedder
) -> None:
    casebook = _library_of(
        tmp_path,
        embedder,
        {
            "improving-care.md": "# Improving care: the regulator's report\n\n"
            "Today we publish a report on how six community trusts raised the quality of their care.\n\n"
            "## Rating changes\n\n"
            "The following community trusts feature in the report, having been selected because their "
            "ratings improved on re-inspection.\n\n"
            "| Trust | From | To |\n|---|---|---|\n"
            "| Ashdown Community NHS Foundation Trust | Requires improvement | Good |\n"
            "| Brackley Health NHS Foundation Trust | Requires improvement | Good |\n"
            "| Pennington Partnership NHS Foundation Trust | Requires improvement | Good |\n"
            "| Quarry Bank Care NHS Trust | Good | Outstanding |\n"
            "| Saltley Vale NHS Foundation Trust | Requires improvement | Good |\n"
            "| Tern Valley Partnership NHS Trust | Requires improvement | Good |\n\n"
            "Leaders at every trust said that listening to staff mattered most.\n",
            "productivity-review.md": "# Productivity review of community trusts\n\n"
            "The review team will work with a cohort of trusts to set benchmarks for community services. "
            "Its findings are due next spring.\n\n"
            "The community cohort includes:\n\n"
            "- Birchwood Community NHS FT\n- Calder Health NHS FT\n- Dunmore Care NHS Trust\n"
            "- Elmfield Partnership NHS FT\n- Pennington Partnership NHS FT\n- Rowan Community NHS FT\n"
            "- Wexley Health NHS Trust\n",
        },
    )
    # A row whose first cell is the subject, under "The following ... feature in the report": the
    # report's six (the table's rows) include it.
    member = casebook.ask(
        "Was Pennington Partnership one of the six trusts featured in the regulator's report?"
    )
    assert member.text.startswith(
        "Trust: Pennington Partnership NHS Foundation Trust | From: Requires improvement | To: Good"
    ), member.text
    # ... but its row says "Good": it is no answer to whether it was rated outstanding.
    assert casebook.ask("Was Pennington Partnership rated outstanding after the report?").abstained
    # "which of the six ... all the way up to outstanding": "all the way" asks nothing of a sentence.
    top = casebook.ask(
        "which of the six trusts in the regulator's report went all the way up to outstanding?"
    )
    assert top.text.startswith("- Trust: Quarry Bank Care NHS Trust | From: Good | To: Outstanding"), top.text
    # Two lists asked of one named trust: each is a part, and the one it is not in is said.
    both = casebook.ask(
        "Was Pennington Partnership part of the productivity review cohort and also one of the six "
        "improving trusts?"
    )
    assert not both.abstained and both.unanswered == (), both.text
    assert {c.title for c in both.citations} == {
        "Improving care: the regulator's report",
        "Productivity review of community trusts",
    }
    one = casebook.ask(
        "Was Ashdown Community part of the productivity review cohort and also one of the six "
        "improving trusts?"
    )
    assert one.text.startswith(
        "Trust: Ashdown Community NHS Foundation Trust | From: Requires improvement | To: Good"
    ), one.text
    assert one.unanswered == ("Was Ashdown Community part of the productivity review cohort?",)
    # What is in both lists, with no trust named: the entry both give ("NHS FT" is "NHS Foundation
    # Trust"), and a cohort is the "group" asked of.
    common = casebook.ask(
        "Which trust was both one of the six improving trusts and in the productivity review group?"
    )
    assert (
        common.question
        == "Which trust was both one of the six improving trusts and in the productivity review group?"
    )
    assert "Pennington Partnership" in common.text.split("[1]")[0], common.text
    assert common.unanswered == ()
    assert casebook.ask(
        "Is any trust in both the productivity review cohort and the regulator's list of closures?"
    ).abstained


def test_a_post_of_a_site_says_who_leads_it(tmp_path: Path, embedder: Embedder) -> None:
    casebook = _one_document_library(
        tmp_path,
        embedder,
        "site-update.md",
        "# Community transformation: an update on two sites\n\n"
        "## Brackley site\n\nThe Brackley site opened in May with 12 staff.\n\n"
        "Sam Idowu, service manager for the Brackley site, said: "
        '"Peer workers have made the difference."\n\n'
        "## Corby site\n\nThe Corby site is delayed by building work on its hub.\n",
    )
    # "service manager for the Brackley site" is who leads it; the Corby site's lead is not given.
    leads = casebook.ask("Who leads the Brackley site, and who leads the Corby site?")
    assert leads.text.startswith("Sam Idowu, service manager for the Brackley site, said"), leads.text
    assert leads.unanswered == ("who leads the Corby site",)
