"""Conversations: follow-ups searched with the earlier subject, history kept only for finished turns."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest

import prompts
from assistant import NOT_IN_LIBRARY, Answer, Casebook, Settings
from assistant.conversation import ASK_WHOLE, Conversation, asked_again, follow_up_query, is_follow_up
from assistant.generative import build_llm
from tests.openai_stub import LLMStub, messages_of, running

FIRST = "How did NTW improve its crisis line?"
FOLLOW_UP = "and what did East London do?"
CONDENSED = "How did East London NHS Foundation Trust improve access to its crisis line?"


@pytest.fixture
def openai_server() -> Iterator[LLMStub]:
    yield from running()


def chat_with_stub(library: Casebook, stub: LLMStub) -> Conversation:
    llm = build_llm(Settings(llm="openai", llm_base_url=stub.url, llm_model="stub-model", llm_timeout=5))
    return Conversation(library, llm)


def test_follow_up_without_llm_searches_with_the_previous_subject(library):
    chat = Conversation(library)
    chat.ask(FIRST)
    answer = chat.ask(FOLLOW_UP)

    # The follow-up asks the last question of its own name, in place of the earlier one (NTW).
    assert answer.search_query == "How did East London improve its crisis line?"
    # The library tells of NTW's crisis line, not East London's: it says so, naming what it holds.
    assert answer.abstained and answer.text.startswith(
        "Not in the library: no passage answers “How did East London improve its crisis line?”. "
        "The library mentions East London in"
    ), answer.text
    bare = library.ask(FOLLOW_UP)
    assert bare.search_query != answer.search_query
    assert [t.question for t in chat.turns] == [FIRST, FOLLOW_UP]


def test_standalone_question_is_searched_as_asked(library):
    chat = Conversation(library)
    chat.ask(FIRST)
    question = "How did Lancashire Care cut out-of-area placements with a crisis house?"
    assert chat.ask(question).search_query == question


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("and what did East London do?", True),
        ("What about the costs?", True),
        ("How much did they save?", True),
        ("Why?", True),
        ("What did they do next?", True),
        ("How did it work?", True),
        ("how about the waiting times?", True),
        ("Also the staff survey results", True),
        ("Did this reduce admissions?", True),
        ("How did Lancashire Care cut out-of-area placements?", False),
        # Pronouns after the message's own subject refer to that subject, not to an earlier turn.
        ("How much did the crisis line cost and what did it save?", False),
        ("What did Lancashire Care do with their crisis house?", False),
        ("How did NTW improve its crisis line?", False),
        ("Which trusts rated inadequate improved their ratings within two years?", False),
    ],
)
def test_follow_up_is_recognised(message, expected):
    assert is_follow_up(message) is expected


def test_follow_up_query_keeps_own_words_and_carries_the_rest():
    assert follow_up_query("What about the costs?", "crisis house out-of-area placements") == (
        "costs crisis house out-of-area placements"
    )
    assert follow_up_query("What about the costs?", "") == "What about the costs?"


def test_with_llm_the_condensed_question_is_searched(library, openai_server):
    chat = chat_with_stub(library, openai_server)
    openai_server.reply("NTW opened its crisis line around the clock [1].")
    chat.ask(FIRST)
    openai_server.reply(CONDENSED)
    openai_server.reply("East London made its crisis line easier to reach [1].")
    answer = chat.ask(FOLLOW_UP)

    assert answer.search_query == CONDENSED
    assert answer.question == FOLLOW_UP
    assert answer.text == "East London made its crisis line easier to reach [1]."
    # The model is shown the earlier turn, its citation markers dropped, and the new message.
    history = f"User: {FIRST}\nCasebook: NTW opened its crisis line around the clock."
    (_, system), (_, user) = prompts.messages("condense", history=history, message=FOLLOW_UP)
    assert messages_of(openai_server.requests[1]) == {"system": system, "user": user}
    assert f"Question: {CONDENSED}" in messages_of(openai_server.requests[2])["user"]


def test_first_message_is_not_condensed(library, openai_server):
    chat = chat_with_stub(library, openai_server)
    openai_server.reply("NTW opened its crisis line around the clock [1].")
    assert chat.ask(FIRST).search_query == FIRST
    assert len(openai_server.requests) == 1


def test_condense_timeout_falls_back_to_quoting_without_a_second_wait(library, openai_server):
    llm = build_llm(Settings(llm="openai", llm_base_url=openai_server.url, llm_model="m", llm_timeout=1))
    chat = Conversation(library, llm)
    openai_server.reply("NTW opened its crisis line around the clock [1].")
    chat.ask(FIRST)
    openai_server.reply(CONDENSED, delay=5)
    answer = chat.ask(FOLLOW_UP)

    notice = (
        f"The language model at {openai_server.url} did not answer (no reply within 1s); "
        "this answer quotes the library directly."
    )
    asked = "How did East London improve its crisis line?"
    expected = library.ask(asked, search_query=asked)
    assert answer == replace(expected, question=FOLLOW_UP, notice=notice)
    assert len(openai_server.requests) == 2  # the answer was not asked of a model that just failed


def test_closed_stream_leaves_no_half_turn(library, openai_server):
    chat = chat_with_stub(library, openai_server)
    openai_server.reply("NTW opened its crisis line around the clock [1].")
    chat.ask(FIRST)
    openai_server.reply(CONDENSED)
    pieces = ("East London ", "made its crisis line ", "easier to reach [1].")
    openai_server.reply("".join(pieces), pieces=pieces, piece_delay=0.2)

    stream = chat.stream(FOLLOW_UP)
    assert next(stream) == "East London "
    stream.close()  # the browser went away

    assert [t.question for t in chat.turns] == [FIRST]


def test_finished_stream_is_recorded_and_yields_the_answer_last(library, openai_server):
    chat = chat_with_stub(library, openai_server)
    pieces = ("NTW opened ", "its crisis line ", "around the clock [1].")
    openai_server.reply("".join(pieces), pieces=pieces)
    items = list(chat.stream(FIRST))

    assert items[:-1] == list(pieces)
    assert isinstance(items[-1], Answer) and items[-1].text == "".join(pieces)
    assert chat.turns[-1].answer == items[-1]


def test_stream_without_llm_yields_only_the_answer(library):
    chat = Conversation(library)
    items = list(chat.stream(FIRST))
    assert items == [chat.turns[0].answer]


def test_off_topic_message_abstains_before_calling_the_llm(library, openai_server):
    chat = chat_with_stub(library, openai_server)
    answer = chat.ask("What is the boiling point of tungsten in kelvin?")

    assert answer.abstained and answer.text == NOT_IN_LIBRARY
    assert openai_server.requests == []


def test_standalone_question_with_a_pronoun_is_searched_as_asked(library):
    chat = Conversation(library)
    chat.ask(FIRST)
    question = "How much did the crisis line cost and what did it save?"
    assert chat.ask(question).search_query == question


def test_asked_standalone_a_follow_up_carries_nothing(library):
    chat = Conversation(library)
    chat.ask(FIRST)
    assert chat.ask(FOLLOW_UP, standalone=True).search_query == FOLLOW_UP
    items = list(chat.stream("What did they do next?", standalone=True))
    assert items[-1].search_query == "What did they do next?"
    assert [t.question for t in chat.turns] == [FIRST, FOLLOW_UP, "What did they do next?"]


def test_reset_forgets_the_conversation(library):
    chat = Conversation(library)
    chat.ask(FIRST)
    chat.reset()

    assert chat.turns == ()
    assert chat.ask(FOLLOW_UP).search_query == FOLLOW_UP


def test_an_answer_from_filtered_documents_says_so(library):
    from vectorstore import Filter

    conversation = Conversation(library)
    filters = [Filter("document_type", "=", ("case study", "review")), Filter("year", ">=", (2018,))]
    answer = list(conversation.stream("How did trusts reduce out-of-area placements?", filters))[-1]
    assert answer.notice == "Searched only documents with document type case study or review; year from 2018."
    assert conversation.turns[-1].answer.notice == answer.notice  # the export shows it too
    unfiltered = list(conversation.stream("How did trusts reduce out-of-area placements?"))[-1]
    assert unfiltered.notice is None


def test_tell_me_more_quotes_what_the_answer_left_out(library):
    chat = Conversation(library)
    first = chat.ask("How did Lancashire Care reduce out-of-area placements?")
    assert "by opening a crisis house" in first.text
    shown = {s for c in first.citations for s in c.quoted}

    more = chat.ask("Tell me more")
    quoted = [s for c in more.citations for s in c.quoted]
    assert not more.abstained and more.question == "Tell me more"
    assert quoted and not shown & set(quoted)  # nothing the first answer quoted, quoted again
    assert all(c.title == "Cutting out-of-area placements with a crisis house" for c in more.citations[:1])

    # Asked until the library has nothing new on the subject, it says so instead of repeating.
    for _ in range(6):
        more = chat.ask("What else?")
        if more.abstained:
            break
    assert more.abstained and more.text.startswith("Nothing more in the library on “")
    assert not more.citations
    assert chat.ask("What else?").text == more.text  # asked again: the same, never "does not answer"


def test_asking_words_alone_ask_them_of_the_last_question(library):
    chat = Conversation(library)
    chat.ask("How much did NTW's crisis line save?")
    why = chat.ask("Why?")
    assert why.search_query.startswith("Why did NTW's crisis line save?")
    assert why.question == "Why?"
    # Why it saved: the sentences on improving access to the line, not the amount alone.
    assert "improving access" in why.text


@pytest.mark.parametrize(
    ("message", "previous", "expected"),
    [
        ("Why?", "How much did NTW's crisis line save?", "Why did NTW's crisis line save?"),
        ("when?", "Did Oxleas go on to be rated good?", "When did Oxleas go on to be rated good?"),
        ("How much?", "What did NTW spend on its crisis line", "How much did NTW spend on its crisis line?"),
        ("Which trusts?", "How did trusts cut placements?", None),  # names its own subject
        ("Why not Oxleas?", "Did NTW improve?", None),
        ("Why?", "", None),
    ],
)
def test_asked_again(message, previous, expected):
    assert asked_again(message, previous) == expected


def test_a_filter_that_leaves_out_the_answer_says_which_document_holds_it(library):
    from vectorstore import Filter

    chat = Conversation(library)
    question = "How much did NTW's crisis line save?"
    whole = library.ask(question)
    assert not whole.abstained
    holder = whole.citations[0].title
    # A filter on another publisher than the holder's leaves the answer out.
    other = Filter("publisher", "!=", (whole.citations[0].publisher,))
    answer = list(chat.stream(question, [other]))[-1]
    assert answer.abstained and not answer.citations
    said = "Not in the documents your filters allow. Without the filters, the library answers this from"
    assert answer.text == f"{said} “{holder}”."
    # So does an answer outside the chat (the API, the CLI): it is the engine's.
    direct = library.ask(question, filters=[other])
    assert direct.abstained and direct.text == f"{said} “{holder}”.", direct.text


def test_a_filtered_abstention_names_only_documents_the_filters_allow(library):
    question = "How many calls a day does the NTW crisis line take?"  # in no document
    whole = library.ask(question)
    assert whole.abstained and len(whole.citations) > 1, whole.text
    left_out = next(c.publisher for c in whole.citations if c.publisher)
    answer = library.ask(question, filters=library.parse_filters([f"publisher!={left_out}"]))
    assert answer.abstained and answer.citations, answer.text
    assert all(c.publisher != left_out for c in answer.citations), answer.text
    assert "The documents your filters allow mention NTW in" in answer.text, answer.text


def test_nothing_to_search_for_asks_for_a_whole_question(library):
    for message in ("hello", "How much?", "Thanks!"):
        answer = Conversation(library).ask(message)
        assert answer.abstained and answer.text == ASK_WHOLE and not answer.citations


def test_more_after_an_abstention_says_nothing_was_quoted(library):
    chat = Conversation(library)
    assert chat.ask("How many beds does Oxleas have?").abstained
    more = chat.ask("Tell me more")
    assert more.text.startswith("Nothing more: no passage was quoted for “How many beds does Oxleas have?”.")


def test_what_about_a_name_is_answered_by_sentences_naming_it(library):
    chat = Conversation(library)
    chat.ask("Which trusts were in CQC's Driving improvement report?")
    # Oxleas's passage holds other sentences, none naming it: they answer something else.
    oxleas = chat.ask("What about Oxleas?")
    assert oxleas.abstained and "mentions Oxleas in" in oxleas.text, oxleas.text
    chat = Conversation(library)
    chat.ask("How did NTW improve its crisis line?")
    lancashire = chat.ask("What about Lancashire Care?")
    assert not lancashire.abstained and "Lancashire Care cut its out-of-area placements" in lancashire.text


def test_what_about_a_name_asks_the_last_question_of_it(library):
    chat = Conversation(library)
    chat.ask("Is East London in the Carter cohort?")
    sussex = chat.ask("What about Sussex Partnership?")
    assert sussex.search_query == "Is Sussex Partnership in the Carter cohort?"
    assert "- Sussex Partnership NHS Foundation Trust [1]" in sussex.text, sussex.text
    oxleas = chat.ask("And Oxleas?")  # of the question Sussex Partnership was asked in
    assert oxleas.abstained and oxleas.text.startswith(
        "Not in the library: no passage answers “Is Oxleas in the Carter cohort?”."
    ), oxleas.text
    chat.ask("How much did NTW's crisis line save?")
    lancashire = chat.ask("What about Lancashire Care?")
    assert lancashire.abstained and lancashire.text.startswith(
        "Not in the library: no passage answers “How much did Lancashire Care's crisis line save?”."
    ), lancashire.text
