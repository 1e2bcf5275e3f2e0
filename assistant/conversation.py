"""A conversation: questions answered one after another, each follow-up read in the light of the last.

A follow-up ("and what did East London do?") is turned into a standalone search query before
retrieval: by the language model with ``prompts/condense.txt`` when there is one, otherwise by
carrying the previous query's subject words into the new message. The query searched is kept in
``Answer.search_query`` so the user can see it. Casebook keeps its own history, and a turn joins
it only once its answer is complete: an abandoned stream leaves no half turn behind.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Collection, Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from assistant.answers import Answer, Citation, abstain
from assistant.engine import Casebook
from assistant.generative import FALLBACK_SUFFIX, GenerativeAnswerer, neutralise
from assistant.glossary import unexpanded
from assistant.intent import read_question
from vectorstore import Filter, LLMError, Passage
from vectorstore.sentences import split_sentences

if TYPE_CHECKING:
    from llama_index.core.llms import LLM

log = logging.getLogger(__name__)

HISTORY_TURNS = 3
_ANSWER_CHARS = 400
_WORD = re.compile(r"[\w'’-]+")
_MARKERS = re.compile(r"\s*\[\d+(?:\s*,\s*\d+)*\]")
# "Tell me more", "what else?": the last question again, without the sentences already quoted.
_MORE = re.compile(
    r"^\W*(?:(?:please\s+)?(?:tell|show|give)\s+me\s+(?:some\s+|a\s+bit\s+|a\s+little\s+)?more"
    r"|(?:any|some)?\s*more|what\s+else|anything\s+else|go\s+on|continue|keep\s+going|elaborate"
    r"|expand|say\s+more)\b(?:\s+(?:please|details?|on\s+(?:that|this|it)|about\s+(?:that|this|it)))*\W*$",
    re.IGNORECASE,
)
_GREETING = re.compile(
    r"^\W*(?:hello|hi|hey|thanks|thank you|ok|okay|cheers|good (?:morning|afternoon|evening))\W*$",
    re.IGNORECASE,
)
_TRY = "Try other words, remove a filter, or ask about something else."
_NOTHING_MORE = "Nothing more"
ASK_WHOLE = (
    "Ask a whole question, naming what you want to know about (a trust, a service, a topic): "
    "this message names nothing to search the library for."
)
# "Why?", "How much?": asking words alone ask them of the last question's subject.
_ASKING = re.compile(r"^\W*(how\s+(?:much|many|long|often|far)|why|how|when|where|who)\b", re.IGNORECASE)
_OPENER = re.compile(
    r"^\s*(?:how\s+(?:much|many|long|often|far)|in\s+what\s+way|why|how|when|where|who|whom|whose|what"
    r"|which(?:\s+[a-z-]+s\b(?=\s+(?:did|do|does|were|are|was|is|have|has|had)\b))?)\b\s*",
    re.IGNORECASE,
)
_CONNECTIVE = re.compile(r"^\W*(and|but|also|so|then|or|what about|how about|what else)\b", re.IGNORECASE)
_REFERS_BACK = frozenset(
    {
        "they",
        "them",
        "their",
        "it",
        "its",
        "that",
        "those",
        "these",
        "this",
        "there",
        "he",
        "she",
        "his",
        "her",
    }
)
# Words that shape a message but name no subject: never carried from one turn to the next.
_FUNCTION_WORDS = _REFERS_BACK | frozenset(
    {
        "a", "an", "the", "of", "to", "in", "on", "for", "with", "by", "at", "from", "as", "into",
        "and", "or", "but", "so", "also", "then", "about", "else", "more", "any", "some", "other",
        "what", "how", "why", "when", "where", "who", "whom", "whose", "which",
        "do", "did", "does", "done", "doing", "is", "are", "was", "were", "be", "been", "being",
        "has", "have", "had", "can", "could", "should", "would", "will", "may", "might", "must",
        "i", "me", "my", "we", "our", "us", "you", "your", "tell", "say", "said", "please", "get", "got",
        "much", "many", "next", "again", "now", "here", "well", "ever", "still", "just", "very", "not",
    }
)  # fmt: skip


@dataclass(frozen=True)
class Turn:
    """One exchange: what the user asked and the answer they were given."""

    question: str
    answer: Answer


def content_words(text: str) -> list[str]:
    """Return the words of ``text`` that name its subject, in order, as written."""
    return [w for w in _WORD.findall(text) if w.lower().strip("'’") not in _FUNCTION_WORDS]


def is_follow_up(message: str) -> bool:
    """Return whether ``message`` cannot stand alone and leans on the earlier turn.

    It does when it opens with a connective ("and ...", "what about ..."), names fewer than two
    subject words, or refers back (it, they, this ...) before naming any subject of its own:
    "What did they do next?" leans on the last turn; "How much did the crisis line cost and what
    did it save?" does not, since its "it" comes after its own subject.
    """
    if _CONNECTIVE.match(message) or len(content_words(message)) < 2:
        return True
    for word in _WORD.findall(message):
        bare = word.lower().strip("'’")
        if bare in _REFERS_BACK:
            return True
        if bare not in _FUNCTION_WORDS:
            return False
    return False


def follow_up_query(message: str, previous: str) -> str:
    """Return the search query for ``message`` asked after ``previous``.

    A follow-up keeps its own subject words and takes the previous query's others; names it
    gives (capitalised words) replace the previous query's names, so "and what did East London
    do?" after "How did NTW improve its crisis line?" searches "East London improve crisis line".
    """
    if not previous.strip() or not is_follow_up(message):
        return message
    own = content_words(message)
    seen = {w.lower() for w in own}
    names = any(_is_name(w) for w in own)
    carried = [w for w in content_words(previous) if w.lower() not in seen and not (names and _is_name(w))]
    return " ".join(own + list(dict.fromkeys(carried))) or message


def _around(answer: Answer, quoted: Collection[str], most: int = 4) -> Answer | None:
    """Return the sentences next to those ``answer`` quoted, in its cited passages, that nothing
    has quoted yet: "tell me more" when the library holds no other answer. None if there are none."""
    said: list[str] = []
    cited: list[Citation] = []
    for citation in answer.citations:
        sentences = split_sentences(citation.text)
        near = sorted(
            {j for i, s in enumerate(sentences) if s in citation.quoted for j in (i - 2, i - 1, i + 1, i + 2)}
        )
        new = [sentences[j] for j in near if 0 <= j < len(sentences) and sentences[j] not in quoted]
        new = new[: most - sum(len(c.quoted) for c in cited)]
        if new:
            n = len(cited) + 1
            cited.append(replace(citation, n=n, quoted=tuple(new)))
            said += [f"{s} [{n}]" for s in new]
    if not cited:
        return None
    return Answer(answer.question, " ".join(said), False, tuple(cited), answer.search_query)


def leans_on(message: str) -> bool:
    """Return whether ``message`` means nothing without the last turn ("Tell me more", "Why?")."""
    return bool(_MORE.match(message) or (_ASKING.match(message) and not content_words(message)))


def asked_again(message: str, previous: str) -> str | None:
    """Return ``message`` as a whole question when it is only asking words ("Why?", "How
    much?"), asked of ``previous``: "Why?" after "How much did the crisis line save?" asks "Why
    did the crisis line save?". None when ``message`` says more than that."""
    found = _ASKING.match(message)
    if not found or content_words(message) or not previous.strip():
        return None
    rest = _OPENER.sub("", previous.strip(), count=1) or previous.strip()
    if rest[:2] != rest[:2].upper():  # "Did" reads "did"; "NTW" stays
        rest = rest[:1].lower() + rest[1:]
    return f"{found.group(1).capitalize()} {rest.rstrip(' ?.!')}?"


def _is_name(word: str) -> bool:
    return word[:1].isupper()


class Conversation:
    """A chat over one library: ``ask`` or ``stream`` a message, ``reset`` to start again."""

    def __init__(self, casebook: Casebook, llm: LLM | None = None, turns: Sequence[Turn] = ()) -> None:
        """``turns`` are the conversation so far (kept between requests by the chat's session)."""
        self.casebook = casebook
        self.generative = GenerativeAnswerer(llm, casebook.answerer) if llm is not None else None
        self._turns: list[Turn] = list(turns)

    @property
    def turns(self) -> tuple[Turn, ...]:
        """Return the completed turns, oldest first."""
        return tuple(self._turns)

    def reset(self) -> None:
        """Forget every turn: the next message starts a new conversation."""
        self._turns.clear()

    def ask(
        self,
        message: str,
        filters: Sequence[Filter] = (),
        *,
        standalone: bool = False,
        groups: Iterable[str] | None = None,
    ) -> Answer:
        """Return the answer to ``message`` read as the next turn, and record the turn.

        ``standalone`` searches the message as written, carrying nothing from earlier turns;
        ``groups`` are the signed-in user's (only documents they allow are used; None: all).
        """
        query, failure = (message, None) if standalone else self._query(message)
        if self.generative is None or failure:
            answer = self._quoted(message, query, filters, failure, groups, standalone)
        else:
            passages = self._passages(query, filters, groups)
            answer = (
                self._generative(groups).answer(message, passages, search_query=query)
                if passages
                else abstain(message, query)
            )
        self._turns.append(Turn(message, answer))
        return answer

    def stream(
        self,
        message: str,
        filters: Sequence[Filter] = (),
        *,
        standalone: bool = False,
        groups: Iterable[str] | None = None,
    ) -> Iterator[str | Answer]:
        """Yield the answer's text as the model writes it (none without a model), then the Answer.

        The turn is recorded just before the Answer is yielded; closing the generator earlier
        records nothing. ``standalone`` and ``groups`` are as for ``ask``.
        """
        query, failure = (message, None) if standalone else self._query(message)
        if self.generative is None or failure:
            answer = self._quoted(message, query, filters, failure, groups, standalone)
        elif not (passages := self._passages(query, filters, groups)):
            answer = abstain(message, query)
        else:
            generative = self._generative(groups)
            answer = yield from _relay(generative.stream(message, passages, search_query=query))
        if filters:  # an answer from part of the library says so, in the chat and the export
            searched = f"Searched only documents with {'; '.join(f.describe() for f in filters)}."
            answer = replace(answer, notice=f"{answer.notice} {searched}" if answer.notice else searched)
        self._turns.append(Turn(message, answer))
        yield answer

    def _query(self, message: str) -> tuple[str, str | None]:
        """Return the standalone query for ``message`` and, if the model failed on it, why."""
        last = self._turns[-1] if self._turns else None
        previous = (last.answer.search_query or last.question) if last else ""
        if self.generative is None or not self._turns:
            return follow_up_query(message, previous), None
        try:
            return self._condense(self.generative, message), None
        except LLMError as exc:
            return follow_up_query(message, previous), str(exc)

    def _condense(self, generative: GenerativeAnswerer, message: str) -> str:
        """Return the model's standalone rewrite of ``message`` (the message itself if it gives none)."""
        lines = []
        for turn in self._turns[-HISTORY_TURNS:]:
            said = _MARKERS.sub("", turn.answer.text)
            said = said if len(said) <= _ANSWER_CHARS else said[:_ANSWER_CHARS].rsplit(" ", 1)[0] + " ..."
            lines += [f"User: {turn.question}", f"Casebook: {said}"]
        history = neutralise("\n".join(lines))
        reply = generative.reply("condense", history=history, message=neutralise(message))
        first = next((line for line in reply.splitlines() if line.strip()), "")
        query = first.removeprefix("Standalone question:").strip().strip("\"'“”")
        log.info("condensed message=%r query=%r", message, query)
        return query or message

    def _generative(self, groups: Iterable[str] | None) -> GenerativeAnswerer:
        """Return the model's answerer, falling back to quoting only what ``groups`` may read."""
        assert self.generative is not None
        return GenerativeAnswerer(self.generative.llm, self.casebook.answerer_for(groups))

    def _passages(self, query: str, filters: Sequence[Filter], groups: Iterable[str] | None) -> list[Passage]:
        """Return the passages for ``query``, or none when the library lacks an answer."""
        return self.casebook.retrieve(query, filters=filters, groups=groups).passages

    def _quotes(self, answer: Answer, name: str, groups: Iterable[str] | None) -> bool:
        """Return whether ``answer`` quotes a sentence naming ``name`` (or what its acronym means)."""
        forms = [name, self.casebook.glossary_for(groups).meaning(name) or name]
        said = " ".join(s for c in answer.citations for s in c.quoted).lower()
        return any(form.lower() in said for form in forms)

    def _quoted(
        self,
        message: str,
        query: str,
        filters: Sequence[Filter],
        failure: str | None,
        groups: Iterable[str] | None,
        standalone: bool = False,
    ) -> Answer:
        """Return the extractive answer, noting the model's failure when there was one.

        With no model to read a follow-up, "tell me more" answers the last question again from
        sentences not yet quoted, and "why?" asks why of the last question's subject."""
        last = self._turns[-1] if self._turns and not standalone else None
        previous = unexpanded(last.answer.search_query or last.question) if last else ""
        asked, searched, exclude = message, query, frozenset[str]()
        if last is None and (_GREETING.match(message) or not content_words(message)):
            return Answer(message, ASK_WHOLE, True, (), message)
        if last is not None and _MORE.match(message):
            if last.answer.text.startswith(_NOTHING_MORE):  # asked again: the same
                return Answer(message, last.answer.text, True, (), last.answer.search_query)
            if last.answer.abstained:  # (perhaps for a filter: the library may hold more)
                said = f"{_NOTHING_MORE}: no passage was quoted for “{previous}”. {_TRY}"
                return Answer(message, said, True, (), previous)
            exclude = frozenset(s for turn in self._turns for c in turn.answer.citations for s in c.quoted)
            # The question again; else what else the library says of its subject ("NTW crisis
            # line"); else the sentences around those the last answer quoted.
            for asked in (previous, " ".join(content_words(previous))):
                searched = asked
                answer = self.casebook.ask(
                    asked, filters=filters, search_query=asked, groups=groups, exclude=exclude
                )
                if not answer.abstained:
                    break
            else:
                answer = _around(last.answer, exclude) or Answer(
                    message,
                    f"{_NOTHING_MORE} in the library on “{previous}”: what it holds is quoted above.",
                    True,
                    (),
                    previous,
                )
        else:
            if last is not None and (again := asked_again(message, previous)):
                asked = searched = again
            subject = _new_subject(message) if last is not None else ""
            # "What about Oxleas?" after "What rating did Calderstones get?" asks "What rating did
            # Oxleas get?": the last question, of the new name, when its answer names it.
            instead = _asked_of(subject, previous)
            found = (
                self.casebook.ask(instead, filters=filters, search_query=instead, groups=groups)
                if instead
                else None
            )
            if found is not None and not found.abstained and self._quotes(found, subject, groups):
                answer = found
            else:
                answer = self.casebook.ask(asked, filters=filters, search_query=searched, groups=groups)
                if answer.abstained and found is not None and found.abstained:
                    answer = found  # "no passage answers “How much did Lancashire Care's line save?”"
            if subject and not answer.abstained and not self._quotes(answer, subject, groups):
                # "What about Oxleas?" asks the last question of Oxleas: an answer that never names
                # Oxleas answers something else. Say what the library holds about it instead.
                answer = self.casebook.missing(instead or message, searched, filters=filters, groups=groups)
        answer = replace(answer, question=message)
        if failure:
            answer = replace(answer, notice=f"{failure}{FALLBACK_SUFFIX}")
        return answer


def _new_subject(message: str) -> str:
    """Return the name a message gives as its whole subject ("What about Oxleas?", "and
    Lancashire Care?"), or "" when it says more than a name."""
    if not _CONNECTIVE.match(message):
        return ""
    words = content_words(message)
    return " ".join(words) if words and all(_is_name(w) for w in words) else ""


def _asked_of(subject: str, previous: str) -> str:
    """Return ``previous`` asked of ``subject`` in place of the name it asked about ("What
    rating did Calderstones get?" of Oxleas: "What rating did Oxleas get?"), or "" when it
    asks of no name ("Which trusts were in the report?")."""
    if not subject or not previous:
        return ""
    name = read_question(previous).parts[0].subject_name
    asked = re.sub(rf"\b{re.escape(name)}\b", subject, previous, count=1) if name else previous
    return "" if asked == previous or name.lower() == subject.lower() else asked


def _relay(items: Iterator[str | Answer]) -> Generator[str, None, Answer]:
    """Yield the streamed text and return the Answer that ends the stream."""
    for item in items:
        if isinstance(item, Answer):
            return item
        yield item
    raise LLMError("The answer stream ended without an answer")
