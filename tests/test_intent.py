"""Reading a question: its parts, the names each part is about, and what it asks for."""

from __future__ import annotations

import pytest

from assistant.evidence import _NUMBER
from assistant.glossary import Glossary
from assistant.intent import in_both, read_question


def test_names_joined_by_and_or_commas_are_one_group_other_names_are_groups_of_their_own() -> None:
    each = read_question("What did Lancashire Care and Northumberland, Tyne and Wear each do about beds?")
    assert each.central.groups == (("Lancashire Care", "Northumberland Tyne", "Wear"),)
    rating = read_question("What rating did CQC give Somerset Partnership's community services?")
    assert rating.central.groups == (("CQC",), ("Somerset Partnership",))
    report = read_question("What did CQC's Driving improvement report find?")  # a possessive parts them
    assert report.central.groups == (("CQC",), ("Driving",))


@pytest.mark.parametrize(
    ("question", "subject"),
    [
        ("Did Oxleas go on to be rated outstanding?", True),
        ("Will the CQC publish its findings?", True),
        ("Has Mersey Care's division kept its rating?", True),
        ("Can a trust that is not in the Carter cohort still contribute?", False),
        ("Did the two trusts plan to lobby together?", False),
    ],
)
def test_a_yes_no_question_names_its_subject_only_right_after_its_verb(question: str, subject: bool) -> None:
    assert read_question(question).central.names_subject is subject


@pytest.mark.parametrize(
    ("text", "figure"),
    [
        ("It runs the house in partnership with the third sector.", False),
        ("It is the third year of the programme.", False),
        ("Falls fell by a third after hourly rounding.", True),
        ("Two thirds of staff answered the survey.", True),
        ("Waits halved, to half the time.", True),
    ],
)
def test_third_and_quarter_are_quantities_only_as_fractions(text: str, figure: bool) -> None:
    assert bool(_NUMBER.search(text)) is figure


def test_an_acronym_from_the_users_file_is_the_alias_of_its_meaning_and_back() -> None:
    library = ["Somerset Partnership NHS Foundation Trust went to good."]
    glossary = Glossary({"NHSI": "NHS Improvement"}, library)
    assert glossary.alias("NHSI") == "NHS Improvement"
    assert glossary.alias("NHS Improvement") == "NHSI"
    # Initials guessed from the library's names are not taken as acronyms anyone uses.
    assert glossary.alias("Somerset Partnership") is None


def test_an_acronym_may_have_several_meanings_each_searched_and_each_a_mention(tmp_path) -> None:
    from assistant.glossary import load_acronyms
    from vectorstore import DataError

    acronyms = tmp_path / "acronyms.yaml"
    acronyms.write_text("A&E: [accident and emergency, emergency department]\nCQC: Care Quality Commission\n")
    glossary = Glossary(load_acronyms(acronyms))
    assert glossary.names_for("A&E") == ("accident and emergency", "emergency department")
    assert glossary.names_for("CQC") == ("Care Quality Commission",)
    assert glossary.expand("Who runs A&E?") == "Who runs A&E? (accident and emergency; emergency department)"
    acronyms.write_text("A&E: [accident and emergency, 3]\n")
    with pytest.raises(DataError, match=r"acronyms.yaml: cannot read the meaning of A&E: expected"):
        load_acronyms(acronyms)


def test_a_hyphenated_synonym_is_held_whole_never_by_its_parts() -> None:
    from assistant.glossary import synonym_phrases, synonym_stems
    from vectorstore.bm25 import BM25Index

    tokenize = BM25Index.build([], [], []).tokenize
    pairs = [(["through the night"], ["24-hour", "overnight"]), (["nightly"], ["24-hour"])]
    (phrase,) = [p for p in synonym_phrases(pairs, tokenize) if p.token == "through the night"]
    assert phrase.held == {"24-hour", "overnight"}  # not "hour": "an hour each morning" is no night
    assert synonym_stems(pairs, tokenize) == {"night": {"24-hour"}}  # by the phrase, not by "hour"
    assert any(
        p.token == "24-hour" and p.found("a 24-hour service") for p in synonym_phrases(pairs, tokenize)
    )
    assert not any(p.found("open for an hour") for p in synonym_phrases(pairs, tokenize))


@pytest.mark.parametrize(
    ("question", "head"),
    [
        ("Which trusts went from requires improvement to good?", "trusts"),
        ("Which Hertfordshire trusts are in the Carter review cohort?", "trusts"),
        ("Which staff survey should trusts track?", ""),  # a survey is asked for, not trusts
        ("Which trusts did Lord Carter visit?", "trusts"),  # the noun before "did"
        ("Which charities does Lancashire Care work with?", "charities"),  # not "does"
        ("Which of them was rated good?", ""),  # "was" ends in "s" but lists nothing
    ],
)
def test_a_which_question_lists_the_noun_before_its_verb(question: str, head: str) -> None:
    assert read_question(question).central.head == head


@pytest.mark.parametrize(
    ("question", "kinds"),
    [
        ("What did the crisis line save?", ["quantity"]),  # a verb of money asks an amount
        ("What did NTW save by improving its crisis line?", ["quantity"]),  # ... before how
        ("What did NTW save time on?", ["what"]),  # not an amount of money
        ("What did they do to save money?", ["how"]),
        ("How did NTW improve its crisis line, and by how much did calls rise?", ["how", "quantity"]),
        ("In which year did it open?", ["when"]),
        ("Which year did it open?", ["when"]),
        # a rate, budget or number of a named body is an amount too
        (
            "What was Kestrel Moor's nurse vacancy rate, and what was its vacancy rate for doctors?",
            ["quantity", "quantity"],
        ),
        ("What was its role in the review?", ["what"]),
    ],
)
def test_the_kind_of_answer_each_part_asks_for(question: str, kinds: list[str]) -> None:
    assert [part.kind for part in read_question(question).parts] == kinds


def test_an_appositive_restating_the_amount_asks_no_words_of_the_answer_but_its_names() -> None:
    part = read_question(
        "How much did Lord Carter estimate could be saved, the figure linked to the Model Hospital?"
    ).central
    assert part.kind == "quantity"
    assert "figure" not in part.terms and "linked" not in part.terms
    assert "Model Hospital" in part.names and "hospital" in part.terms


def test_a_person_in_a_role_is_not_the_name_of_a_body() -> None:
    from assistant.evidence import Unit, kind_fits

    part = read_question("Who led East London when it was rated outstanding?").central
    rated = "East London NHS Foundation Trust was rated outstanding by the Care Quality Commission."
    body = Unit(rated, 0, 0)
    person = Unit("The leaders, John Lawlor at NTW and Dr Navina Evans at East London, spoke.", 0, 1)
    assert not kind_fits(part, body, {})
    assert kind_fits(part, person, {})
    # "as chief executive" asks for the person in the role too, and a rating names nobody.
    running = read_question("Who was running Calderstones as chief executive when it was rated good?").central
    assert not kind_fits(running, Unit("2015: the trust's first formal rating was good.", 0, 3), {})
    # "What is the division called?" asks a name, and a body's name answers it.
    named = read_question("What is its learning disability division called?").central
    division = Unit("It became Mersey Care's Specialist Learning Disability Division.", 0, 2)
    assert kind_fits(named, division, {})


@pytest.mark.parametrize(
    ("question", "action", "forms"),
    [
        ("Who answers calls to the crisis line?", "answers", {"answer", "answerer"}),
        ("Who led East London?", "led", {"lead", "leader", "led"}),
        ("Who leads the directorate?", "leads", {"led", "leader"}),
        ("Who took over Calderstones?", "took", {"take", "taken"}),
        ("Who is the chief executive?", "", set()),  # a role is asked, not a deed
        ("Who did the inspectors interview?", "", set()),
    ],
)
def test_a_who_question_asks_the_doer_of_its_verb_in_any_of_its_forms(
    question: str, action: str, forms: set[str]
) -> None:
    from assistant.intent import verb_forms

    part = read_question(question).central
    assert part.action == action
    assert forms <= set(verb_forms(action)) if action else not forms


def test_a_which_bodies_sentence_must_name_members_not_a_titled_person_or_a_month() -> None:
    from assistant.evidence import Unit, kind_fits

    part = read_question("Which trusts did Jeremy Marlow visit?").central
    carter = Unit("Lord Carter hoped to start visiting trusts in September.", 0, 0)
    trusts = Unit("The team visited Oxleas and Somerset Partnership in May.", 0, 1)
    assert not kind_fits(part, carter, {})
    assert kind_fits(part, trusts, {})


@pytest.mark.parametrize(
    ("question", "reported"),
    [
        ("What did guests say about the crisis house?", True),
        ("What pressures did Dr Lelliott say the sector faced?", True),
        ("How did staff feel about the change?", True),
        ("What did the regulator find?", False),
        ("Who said the trusts improved?", False),  # a person is asked, not what was said
    ],
)
def test_a_part_asking_what_someone_said_is_answered_only_by_a_sentence_reporting_it(
    question: str, reported: bool
) -> None:
    from assistant.evidence import Unit, kind_fits

    part = read_question(question).central
    assert part.reported is reported
    if reported:
        measured = Unit(
            "The number of placements and what guests say about their stay show whether it works.", 0, 0
        )
        said = Unit(
            "Dr Lelliott said the results were encouraging, in his view because leaders were visible.", 0, 1
        )
        assert not kind_fits(part, measured, {})
        assert kind_fits(part, said, {})


@pytest.mark.parametrize(
    ("question", "doer"),
    [
        ("What did East London do to become outstanding?", True),
        ("How did Lancashire Care cut its out-of-area placements?", True),
        ("What did inspectors do to prepare the Driving improvement report?", False),  # the report is no doer
        ("How did trusts reduce out-of-area placements?", False),
    ],
)
def test_a_name_is_the_doer_only_right_after_the_auxiliary(question: str, doer: bool) -> None:
    assert read_question(question).central.names_doer is doer


def test_a_later_part_asking_what_was_said_is_a_part_though_its_words_are_all_function_words() -> None:
    parts = read_question("Who introduced the model, and what did he say about it?").parts
    assert [p.text for p in parts] == ["Who introduced the model", "what did he say about it"]
    assert parts[1].reported


def test_what_a_word_means_is_about_the_word_alone() -> None:
    part = read_question("What does co-production mean?").central
    assert part.terms == ("co-production",) and part.defines
    assert not read_question("What does the national model cover?").central.defines


@pytest.mark.parametrize(
    ("question", "focus"),
    [
        ("How much did NTW spend improving its crisis line?", "spend"),  # a name, then its verb
        ("How much did it spend on the line?", "spend"),
        ("How much did it have to spend to improve the line?", "spend"),  # the verb after "have to"
        ("How much did Lord Carter estimate could be saved?", ""),  # not an amount of estimating
        ("How much did NTW's crisis line cut bed costs by?", ""),  # a noun phrase does it
    ],
)
def test_an_amount_is_of_the_verb_its_doer_does(question: str, focus: str) -> None:
    assert read_question(question).central.focus == focus


@pytest.mark.parametrize(
    ("question", "kind", "head", "modifiers"),
    [
        ("Which charity runs the crisis house?", "which", "charity", ()),
        ("Which ambulance trusts are in the cohort?", "which", "trusts", ("ambulance",)),
        ("Which improvement themes apply to wards?", "which", "themes", ()),  # themes are no bodies
        ("On what exact date was the model published?", "when", "", ()),
    ],
)
def test_what_a_which_question_lists_and_what_its_members_are(
    question: str, kind: str, head: str, modifiers: tuple[str, ...]
) -> None:
    part = read_question(question).central
    assert (part.kind, part.head, part.modifiers) == (kind, head, modifiers)


def test_a_dash_before_a_second_question_parts_them_but_not_after_a_preamble() -> None:
    parts = read_question("How did the inspectors prepare the report - who did they talk to?").parts
    assert [p.text for p in parts] == ["How did the inspectors prepare the report", "who did they talk to"]
    one = read_question("We are setting one up - how do we know it would help?").parts
    assert len(one) == 1


def test_everyday_abbreviations_are_read_as_the_words_documents_print() -> None:
    assert "executive" in read_question("Who was chief exec of East London?").central.terms


def test_a_later_part_repeating_a_word_of_the_first_is_about_the_first_parts_subject() -> None:
    parts = read_question(
        "When does phase 3 of the National Acute Care Safety Programme run, and how much funding does "
        "each trust get for phase 3?"
    ).parts
    assert parts[1].groups == (("National Acute Care Safety Programme",),)
    assert "safety" in parts[1].context
    # A later part sharing no word stands alone.
    alone = read_question("How did Lancashire Care cut placements, and what did NTW save?").parts
    assert alone[1].groups == (("NTW",),) and alone[1].context == ()


def test_a_question_after_a_comma_is_a_part_of_its_own_when_a_question_comes_before_it() -> None:
    parts = read_question(
        "When did the Hollin Vale site start, what is its budget, and how many staff?"
    ).parts
    assert [p.text for p in parts] == [
        "When did the Hollin Vale site start",
        "what is its budget",
        "how many staff",
    ]
    # A clause saying when is not a question: what comes after it is the question, read first.
    when = read_question("When the trusts got a poor rating, what did their boards do?").parts
    assert [(p.kind, p.text) for p in when] == [
        ("how", "what did their boards do, when the trusts got a poor rating")
    ]
    share = read_question(
        "After the change, what share were seen within an hour, and what was it at night?"
    ).parts
    assert [(p.kind, p.text) for p in share] == [
        ("quantity", "what share were seen within an hour, after the change"),
        ("what", "what was it at night"),
    ]


def test_what_usually_happens_is_answered_by_a_recurring_time_a_past_event_by_a_date() -> None:
    from assistant.evidence import Unit, kind_fits

    held = Unit("A safety huddle is a ten-minute meeting held at the start of each shift.", 0, 0)
    assert kind_fits(read_question("When is the safety huddle held?").central, held, {})
    assert kind_fits(
        read_question("When do the ward teams meet?").central, Unit("They meet every Monday.", 0, 1), {}
    )
    # "When was it introduced?" asks for a date, which a recurring time is not.
    assert not kind_fits(read_question("When was the safety huddle introduced?").central, held, {})


@pytest.mark.parametrize(
    ("question", "subject"),
    [
        ("What rating did Calderstones get in the Driving improvement report?", "Calderstones"),
        ("How much did NTW's crisis line save?", "NTW"),
        ("Is the CQC independent?", "CQC"),
        ("What CQC rating did Oxleas hold?", "Oxleas"),  # "CQC" qualifies the rating
        ("Which trusts were in CQC's Driving improvement report?", ""),  # asked of no name
        ("Who leads NTW?", "NTW"),  # its only name
    ],
)
def test_the_name_a_question_is_asked_of(question: str, subject: str) -> None:
    assert read_question(question).parts[0].subject_name == subject


@pytest.mark.parametrize(
    ("question", "terms"),
    [
        # What a body must (or should) do is answered by what it must do: the modal is asked.
        (
            "What must Corrowby Healthcare NHS Trust do following the inspection of Sorrel Lodge?",
            ("corrowby", "healthcare", "nhs", "trust", "inspection", "sorrel", "lodge", "must"),
        ),
        ("What should boards do to involve carers?", ("boards", "involve", "carers", "should")),
        ("What can a board do?", ("board",)),
        # "following" the inspection is when, not what: a sentence need not hold it.
        ("What did Hessleford do following the review?", ("hessleford", "review")),
        # "now, compared with a few years back" asks the figures over time: no words to hold
        (
            "How many peer workers has Pellowdale got now compared with a few years back?",
            ("peer", "workers", "pellowdale"),
        ),
        (
            "How many staff does it have compared with the national average?",
            ("staff", "compared", "national", "average"),
        ),
    ],
)
def test_the_words_a_sentence_must_hold(question: str, terms: tuple[str, ...]) -> None:
    assert read_question(question).parts[0].terms == terms


@pytest.mark.parametrize(
    ("question", "attribute", "scope"),
    [
        ("What's the vacancy rate for healthcare assistants?", "rate", ("healthcare", "assistants")),
        ("What is turnover among support workers at Pellowdale?", "turnover", ("support", "workers")),
        ("What is the waiting time for children and young people's services?", "time",
         ("children", "young", "people", "services")),
        ("What was the vacancy rate in 2024/25?", "rate", ()),  # a period is no group
        ("What is the staffing model for Eskby?", "model", ()),  # nor is a name alone
        ("What is the review's remit?", "remit", ()),
    ],
)  # fmt: skip
def test_what_an_attribute_is_asked_of(question: str, attribute: str, scope: tuple[str, ...]) -> None:
    part = read_question(question).central
    assert (part.attribute, part.scope) == (attribute, scope)


def test_what_share_asks_a_quantity_of_the_group_after_of() -> None:
    part = read_question("What share of young people referred from A&E were seen within an hour?").central
    assert (part.kind, part.focus, part.scope) == ("quantity", "", ("young", "people", "referred"))
    assert "share" not in part.terms  # "52% of young people", seldom "a share"
    assert part.shared == ("seen", "hour")  # what the share is of doing


@pytest.mark.parametrize(
    ("question", "doer"),
    [
        ("How much did NTW's crisis line save?", "NTW"),
        ("How much money did Lancashire Care save?", "Lancashire Care"),
        ("How many trusts took part in phase 2 of the National Acute Care Safety Programme?", ""),
        ("Who leads NTW?", ""),
    ],
)
def test_the_name_a_part_asks_what_it_did(question: str, doer: str) -> None:
    assert read_question(question).central.doer_name == doer


def test_contractions_and_indefinite_pronouns_name_no_subject() -> None:
    # A sentence seldom holds "they're" or "anything": weighed as subject words, they had made a
    # sentence about schooling on the ward fall short of the question's words.
    ward = read_question(
        "Do teenagers still get any schooling while they’re on the ward, or isn't there anything?"
    )
    assert ward.central.terms == ("teenagers", "still", "schooling", "while", "ward"), ward.central.terms


def test_words_of_speech_like_all_the_way_and_right_now_name_no_subject() -> None:
    # "way" is a rare word in a library: weighed as a subject word, it had outweighed "outstanding".
    top = read_question("Which of the seven trusts went all the way up to outstanding?")
    assert "way" not in top.central.terms, top.central.terms
    pressures = read_question("What did the lead say trusts are up against right now?")
    assert not {"right", "now"} & set(pressures.central.terms), pressures.central.terms


@pytest.mark.parametrize(
    ("question", "parts"),
    [
        (
            "Was Lincolnshire Partnership part of the Carter review cohort and also one of the seven trusts?",
            [
                "Was Lincolnshire Partnership part of the Carter review cohort?",
                "Was Lincolnshire Partnership one of the seven trusts?",
            ],
        ),
        (
            "Is Oxleas in both the cohort and the report?",
            ["Is Oxleas in the cohort?", "Is Oxleas in the report?"],
        ),
        # Not two lists: one place of two names, and a second question of its own.
        ("Was the crisis line in Leeds and Bradford?", ["Was the crisis line in Leeds and Bradford"]),
        ("Is Oxleas in the cohort and what did it save?", ["Is Oxleas in the cohort", "what did it save"]),
    ],
)
def test_a_named_subject_asked_of_in_two_lists_is_asked_of_in_each(question: str, parts: list[str]) -> None:
    assert [p.text for p in read_question(question).parts] == parts


@pytest.mark.parametrize(
    ("question", "asked"),
    [
        (
            "Which trust was both one of the seven trusts and in the Carter review group?",
            ("Was", "one of the seven trusts", "in the Carter review group"),
        ),
        (
            "Is any trust in both the Carter review cohort and the seven case studies?",
            ("Is", "in the Carter review cohort", "in the seven case studies"),
        ),
        ("Is Oxleas in both the cohort and the report?", None),  # named: read_question splits it
        ("Did both trusts cut beds and save money?", None),
    ],
)
def test_what_is_in_both_of_two_lists_is_asked_of_each_by_name(question: str, asked: tuple | None) -> None:
    assert in_both(question) == asked


def test_a_post_asked_of_by_its_words_searches_for_the_one_person_the_library_gives_it() -> None:
    library = [
        "Dr Asha Rahman, Deputy Chief Inspector (lead for community services), said: “Demand is rising.”",
        "Tom Birch, chief executive of Harrowby Health, said the trust had turned a corner.",
        "Jo Fenwick, chief executive of Saltmarsh Care, told the conference about its crisis cafe.",
    ]
    glossary = Glossary({}, library)
    assert glossary.people["Asha Rahman"] >= {"lead", "community", "services", "inspector"}
    # The regulator's "community services lead" is the one person whose post holds those words.
    asked = "What did the regulator's community services lead say about demand?"
    assert glossary.expand(asked) == f"{asked} (Asha Rahman)"
    # Two chief executives: the post alone names neither; nor does "the lead" alone name anyone.
    assert glossary.expand("What did the chief executive say about the cafe?").endswith("cafe?")
    assert glossary.expand("What did the lead say about demand?").endswith("demand?")
