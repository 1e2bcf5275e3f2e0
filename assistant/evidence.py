"""Evidence units: the sentences and list items of a passage that an answer may quote, and
whether a unit holds the kind of answer a question part asks for (a figure, a date, a name).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from assistant.intent import ASKS_NAME, Part
from vectorstore.sentences import split_sentences

_MIN_WORDS = 5
_BULLET = re.compile(r"^\s*(?:[-•*–]|[A-Z]?\d{1,3}[.)])\s+")
_ENDS = (".", "!", "?", ":", ";")
ROW = " | "  # how ingestion prints a table row's cells (ingest.markup, ingest.cleaning)
# Sentences that go on from the one before them rather than start a new point.
_CONTINUES = re.compile(r"^(This|These|That|Those|It|They|Its|Their|He|She|His|Her)\b")
# Sentences that only make sense after the one before them ("a saving of this size").
_LEANS_BACK = re.compile(
    r"^(?:This|These|That|Those|It|They|Its|Their|He|She|His|Her|Such)\b"
    # "Like most specialist trusts, it runs ...": a pronoun subject after an opening phrase (not
    # after a clause with a subject of its own: "When inspectors prepared it, they ...")
    r"|^(?:Like|Unlike|As|In|For|With|After|Before|Since|Despite|Beyond|Besides|Alongside|Over|Under)\b"
    r"[^,.;:]{0,60},\s+(?:it|they|he|she)\s+[a-z]+"
    r"|\b(?:this|these|that|those|such)\s+(?:size|kind|sort|way|approach|model|work|change|service|scheme"
    r"|figure|saving|result|amount|level|step|idea|plan)s?\b"
)
# A sentence that closes a quotation it did not open: '... safe."', with no opening mark before.
_ENDS_QUOTE = re.compile(r"^[^“\"]*[”\"]\W*$")
# "A saving of this size ...", "that figure": a sentence about the figure the one before gave.
_OF_FIGURE = re.compile(
    r"\b(?:this|these|that|those|such)\s+(?:size|figure|saving|sum|amount|level|number|total|reduction"
    r"|increase|result)s?\b",
    re.IGNORECASE,
)
# The words around "of this size" that say what the figure was ("so a saving of this size").
_FIGURE_PHRASE = re.compile(r"(?:[\w'’-]+\s+){0,3}" + _OF_FIGURE.pattern, re.IGNORECASE)
_NUMBER = re.compile(
    r"[£$€]\s?\d|\d(?:[\d,.]*\d)?\s?(?:%|per ?cent|m\b|bn\b|k\b|million|billion|thousand)"
    r"|\b(?!(?:19|20)\d{2}\b)\d[\d,.]*\b"
    r"|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|forty"
    r"|fifty|hundred|hundreds|thousands|dozen|half|double|twice)\b"
    r"|\b(?:a|one|two|three) (?:third|quarter)s?\b|\b(?:thirds|quarters)\b",  # not "the third sector"
    re.IGNORECASE,
)
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
           "October", "November", "December")  # fmt: skip
_DATE = re.compile(
    rf"\b(?:19|20)\d{{2}}\b|\b(?:{'|'.join(_MONTHS)})\b|\b\d{{1,2}}[./]\d{{1,2}}[./]\d{{2,4}}\b"
    r"|\b(?:last|next|this) (?:year|month|week)\b",
)
# A question about what usually happens ("when is it held?", "when do they meet?") and the
# recurring times that answer it ("at the start of each shift", "every Monday", "monthly").
_HABITUAL = re.compile(r"^when\s+(?:is|are|does|do)\b", re.IGNORECASE)
_RECURRING = re.compile(
    r"\b(?:every|each)\s+(?:other\s+)?(?:day|morning|afternoon|evening|night|week|weekday|weekend|fortnight"
    rf"|month|quarter|year|shift|meeting|{'|'.join(_WEEKDAYS)})\b"
    r"|\b(?:daily|weekly|fortnightly|monthly|quarterly|annually|yearly)\b"
    r"|\bat the (?:start|end|beginning) of (?:each|every|the) \w+",
    re.IGNORECASE,
)
# Capitalised words of time, not place ("in the August before").
_TIMES = frozenset(m.lower() for m in _MONTHS) | frozenset(_WEEKDAYS)
TITLES = ("Dr", "Mr", "Mrs", "Ms", "Miss", "Professor", "Prof", "Sir", "Dame", "Lord", "Lady")
_TITLE = rf"\b(?:{'|'.join(TITLES)})\.? "
_TITLED = re.compile(_TITLE + "[A-Z][a-z]+")  # "Lord Carter", "Dr Evans"
_PERSON = re.compile(_TITLE + r"[A-Z]|\b[A-Z][a-z]+ (?:[A-Z]\.? )?[A-Z][a-z]+(?:-[A-Z][a-z]+)?\b")
# Capitalised words of no person's name: "Between April 2021 ..." names nobody.
# fmt: off
_NOT_NAMES = frozenset({  # ("May" and "June" may be names)
    "January", "February", "March", "April", "July", "August", "September", "October", "November",
    "December", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday",
    "Between", "In", "On", "At", "By", "From", "Since", "During", "After", "Before", "Until", "When",
    "While", "Over", "Under", "With", "For", "The", "This", "That", "These", "Those",
})
# fmt: on
# A run of capitalised words naming a body, not a person ("Care Quality Commission", "Mersey Care
# NHS Foundation Trust"): "who led East London" wants a person, not an organisation's name.
_CAPITALISED_RUN = re.compile(r"[A-Z][\w'’-]*(?:(?:,? | and | of | for )[A-Z][\w'’-]*)*")
_BODY = re.compile(
    r"\b(?:Trusts?|NHS|Foundation|Commission|Council|Services?|Partnership|Healthcare|Hospitals?|Group"
    r"|Board|Division|Unit|University|College|Department|Authority|Agency|Centre|Institute|Network"
    r"|Association|Society|Committee|Office|Programme|Review|Report|Improvement)\b"
)
_HOW_LONG = re.compile(r"^\W*(?:and\s+)?how\s+long\b", re.IGNORECASE)
_TILL = re.compile(r"\b(?:due|until|till|expected|end(?:s|ed|ing)?|finish(?:es|ed|ing)?)\b", re.IGNORECASE)
_HOW_OFTEN = re.compile(r"^\W*(?:and\s+)?how\s+often\b", re.IGNORECASE)
# A number of times ("340 times", "twice", "three times a week"; not "3.1 times more likely"), or a
# rate ("per month").
_FREQUENCY = re.compile(
    r"\b(?:times(?!\s+(?:more|less|higher|lower|greater|as)\b)|once|twice)\b"
    r"|\b(?:per|a|an)\s+(?:day|night|week|fortnight|month|quarter|year|shift)\b",
    re.IGNORECASE,
)
# A share: "58%", "half", "two thirds", "one in five", "9 out of 10", "six of the seven", "most".
_SHARE = re.compile(
    r"\d\s?(?:%|per ?cent)|\b(?:half|most|all|none|majority|minority)\b"
    r"|\b(?:a|one|two|three) (?:third|quarter)s?\b"
    r"|\b(?:\d+|one|two|three|four|five|six|seven|eight|nine|ten) (?:in|out of|of the)"
    r" (?:\d+|two|three|four|five|six|seven|eight|nine|ten|\w+ty)\b",
    re.IGNORECASE,
)
# A time: "six weeks", "18 months", "a year", "up to seven nights", "12-hour".
_DURATION = re.compile(
    r"\b(?:\d+(?:\.\d+)?|a|an|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|several|few)"
    r"[\s-]+(?:[a-z]+[\s-]+)?(?:minutes?|hours?|days?|nights?|weeks?|months?|years?|terms?)\b",
    re.IGNORECASE,
)
# "which organisations" asks for bodies of any kind, which a sentence may describe, not name.
_ANY_BODY = frozenset({"organisations", "bodies", "groups", "partners", "people"})
_ROLE = re.compile(
    r"\b(?:chief executive|executive|chair|director|inspector|minister|secretary|manager|lead|leader|team|"
    r"board|trust|commission|regulator|partnership|staff|clinician|nurse|doctor|sector|organisation|"
    r"group|charit(?:y|ie)|partner|volunteer|carer|user)s?\b",
    re.IGNORECASE,
)

# "Who is the medical director of X", "Who chairs X": the role is given, the person is asked.
_ASKS_PERSON = re.compile(
    r"^who\s+(?:(?:is|was|are|were|has been|will be)\s+(?:the\s+|its\s+|their\s+)?(?:[a-z-]+\s+){0,2}?"
    r"(?:chief executive|executive|chair|director|inspector|minister|secretary|manager|lead|leader|head)s?\b"
    r"|(?:(?:is|was|are|were)\s+)?(?:chairs|chaired|chairing|leads|led|leading|heads|headed|heading|runs|ran"
    r"|running|directs|directed|directing)\b"
    # "who was running Calderstones as chief executive"
    r"|.*\bas\s+(?:the\s+|its\s+|their\s+)?(?:[a-z-]+\s+){0,2}?"
    r"(?:chief executive|executive|chair|director|inspector|minister|secretary|manager|lead|leader|head)\b)",
    re.IGNORECASE,
)

# Words that report what someone said or thought ("said", "told", "in his view", "according to").
_REPORTING = re.compile(
    r"\b(?:said|says|say|saying|told|tells|describ(?:ed|es)|report(?:ed|s)|stat(?:ed|es)|argu(?:ed|es)"
    r"|wr(?:ote|ites)|believ(?:ed|es)|felt|feels|thinks|thought|explain(?:ed|s)|warn(?:ed|s)|urg(?:ed|es)"
    r"|insist(?:ed|s)|conclud(?:ed|es)|acknowledg(?:ed|es)|suggest(?:ed|s)|not(?:ed|es)|comment(?:ed|s)"
    r"|emphasi[sz](?:ed|es)|stress(?:ed|es)|point(?:ed|s) to|singl(?:ed|es) out|hop(?:ed|es)|call(?:ed|s) for"
    r"|claim(?:ed|s)|announc(?:ed|es)|recall(?:ed|s)|reflect(?:ed|s) on|highlight(?:ed|s)|quot(?:ed|es)"
    r"|in (?:his|her|their|its) view|according to|welcom(?:ed|es)|prais(?:ed|es)|criticis(?:ed|es)"
    r"|spoke of|speaking|estimat(?:ed|es)|estimate that|view that)\b"
    r"|[“\"][^”\"]{12,}[”\"]",  # a quotation
    re.IGNORECASE,
)
# "what guests say about their experience all show ...": saying named as a thing, not reported.
_ASKED_CLAUSE = re.compile(
    r"\b(?:what|how|who|whether|which|why)\s+(?:[\w'’-]+\s+){0,3}?(?:say|says|said|think|thinks|feel|feels"
    r"|tell|tells)\b",
    re.IGNORECASE,
)
# How something was done: "by opening", "after improving", "through a partnership", "set up".
_MEANS = re.compile(
    r"\b(?:by|after|through|via|using|with) (?:\w+ )?\w+ing\b|\bthrough\b|\bby (?:a|an|the|its|their)\b"
    r"|\b(?:set up|introduc\w*|develop\w*|launch\w*|creat\w*|establish\w*|start\w*|open\w*|"
    r"train\w*|invest\w*|appoint\w*|changed|changes|built|worked|focus\w*|concentrat\w*)\b",
    re.IGNORECASE,
)
_SPAN = re.compile(r"\d+/\d+")  # "24/7" is a span of time, not a quantity
_ONE_OF = re.compile(r"\bone of\b", re.IGNORECASE)


@dataclass(frozen=True)
class Unit:
    """A sentence or list item of passage ``passage``, at ``position`` among the passage's units."""

    text: str
    passage: int
    position: int
    item: bool = False
    doc: str = ""

    @property
    def says_how(self) -> bool:
        """Return whether the unit tells how something was done ("by opening a crisis house")."""
        return bool(_MEANS.search(self.text))

    @property
    def leans_back(self) -> bool:
        """Return whether the unit needs the sentence before it to be understood: so does the end
        of a quotation begun before it ('The trust must act quickly."'), for who is speaking."""
        return bool(_LEANS_BACK.search(self.text)) or _ENDS_QUOTE.search(self.text) is not None

    @property
    def of_figure(self) -> bool:
        """Return whether the unit talks about the figure the unit before it gave."""
        return bool(_OF_FIGURE.search(self.text))

    @property
    def figure_phrase(self) -> str:
        """Return the words that name the figure the unit before gave ("a saving of this size")."""
        found = _FIGURE_PHRASE.search(self.text)
        return found.group(0) if found else ""

    @property
    def asks(self) -> bool:
        """Return whether the unit is a question (a listed one, "- How do we close the loop?"):
        it is quoted with the list it belongs to, never as an answer on its own."""
        return self.text.rstrip("\"'”’)]").endswith("?")

    @property
    def row(self) -> bool:
        """Return whether the unit is a table row ("Staff group: Nurses | March 2023: 6.8")."""
        return ROW in self.text

    @property
    def first_cell(self) -> str:
        """Return a table row's first cell ("Staff group: Nurses"), or the whole unit."""
        return first_cell(self.text)

    @property
    def continues(self) -> bool:
        """Return whether the unit leans on the one before it ("This meant...", "They...")."""
        return bool(_CONTINUES.match(self.text))


def units_of(passage: int, text: str, doc: str = "") -> list[Unit]:
    """Return the quotable units of a passage: its sentences, and its list items and table rows."""
    units: list[Unit] = []
    blocks = [b for b in re.split(r"\n+", text) if b.strip()]
    rows = [ROW in b for b in blocks]
    short = [
        not rows[k]
        and (not _BULLET.match(b) or _shouted(b))  # "4. LINDEN WARD (older adults)" heads a section
        and len(b.split()) <= 8
        and not b.rstrip().endswith(_ENDS)
        for k, b in enumerate(blocks)
    ]
    shouted = [short[k] and _shouted(b) for k, b in enumerate(blocks)]
    for k, block in enumerate(blocks):
        # A lone short line is a heading, and so is one in capitals; a run of them is a table (one
        # cell a line), but for a heading in capitals ("NETWORK BULLETIN\nIssue 23 - March 2021").
        alone = not any(short[j] and not shouted[j] for j in (k - 1, k + 1) if 0 <= j < len(blocks))
        if short[k] and (alone or shouted[k]):
            continue
        if rows[k]:  # a table row ("Quarter: Q3 2022/23 | Median wait: 11 weeks") is one item, however long
            units.append(Unit(block.strip(), passage, len(units), item=True, doc=doc))
            continue
        bulleted = bool(_BULLET.match(block))
        for sentence in split_sentences(block):
            words = len(sentence.split())
            # A question in a document ("How will the team know?") never answers one.
            sentence_like = words >= _MIN_WORDS and sentence.rstrip("\"'”’)]").endswith(_ENDS)
            if sentence.rstrip("\"'”’)]").endswith("?") and not bulleted:
                continue  # a listed question ("- How do we close the loop?") is an item
            # "Its topics include:" introduces a list; it is not one of the list's items.
            lead_in = not bulleted and sentence.rstrip().endswith(":")
            item = not lead_in and (bulleted or (not sentence_like and 1 <= words <= 20))
            sentence_like = sentence_like or lead_in
            if sentence_like or item:
                kind = (item and not sentence_like) or bulleted
                units.append(Unit(sentence, passage, len(units), item=kind, doc=doc))
    return units


def _shouted(text: str) -> bool:
    """Return whether most of the letters of ``text`` are capitals (a heading: "CEDAR WARD"), but
    for what it says in brackets ("(older adults, 20 beds)")."""
    said = re.sub(r"\([^()]*\)", "", text)
    letters = [c for c in said if c.isalpha()]
    # (two words in capitals at least: a table's cell of one acronym or rating, "NTW", is no heading)
    shouted = bool(letters) and sum(c.isupper() for c in letters) > 0.6 * len(letters)
    return shouted and len(re.findall(r"\b[A-Z]{2,}\b", said)) >= 2


def first_cell(text: str) -> str:
    """Return the first cell of a table row as ingestion prints it, or ``text`` itself."""
    return text.split(ROW, 1)[0]


def is_number(word: str) -> bool:
    """Return whether a word is a figure ("300", "3.5m", "nine")."""
    return bool(_NUMBER.fullmatch(word) or any(c.isdigit() for c in word))


def listed_bodies(text: str) -> list[str]:
    """Return the bodies a sentence lists by name, each as printed ("Harrowdene Mental Health NHS
    Trust", "Wyvern Vale Partnership NHS Foundation Trust" in "... brought together Harrowdene
    Mental Health NHS Trust, Wyvern Vale Partnership NHS Foundation Trust and ..."): two or more
    named one after another, joined by commas and "and"; none when the sentence lists none."""
    for run in _CAPITALISED_RUN.finditer(text):  # the names of a list run on, joined by "," and "and"
        pieces = [piece for piece in re.split(r",\s+|\s+and\s+", run.group(0)) if _BODY.search(piece)]
        if len(pieces) >= 2:
            return pieces
    return []


def _asked(part: Part) -> set[str]:
    """Return the words the part already gives (its names and terms), lower case."""
    return {w.lower() for n in part.names for w in n.split()} | set(part.terms)


def _figure_word(text: str, match: re.Match[str]) -> str:
    """Return the whole word a figure was found in ("3" in "Phase 3 (spread"), lower case,
    without the punctuation around it."""
    before = re.search(r"\S*$", text[: match.start()])
    after = re.match(r"\S*", text[match.start() :])
    word = (before.group(0) if before else "") + (after.group(0) if after else "")
    return word.strip(".,;:!?()[]'\"“”‘’").lower()


def _names_a_role(text: str, asked: set[str]) -> bool:
    """Return whether ``text`` names a kind of person or body the question does not ("local patient
    and voluntary groups", "nurses"), as an answer to who, or to which organisations."""
    roles = {m.group(0).lower() for m in _ROLE.finditer(text)}
    return any(not {role, role.rstrip("s")} & asked for role in roles)


def kind_fits(part: Part, unit: Unit, own: Mapping[str, float]) -> bool:
    """Return whether ``unit`` holds the kind of answer ``part`` asks for.

    A "how much" part needs a figure, a "when" part a date, a "who" part a person or body, a
    "which trusts" part a named item or a sentence naming several; the other kinds need nothing
    more than the words (checked by the caller).
    """
    text = unit.text
    if part.reported and not _REPORTING.search(_ASKED_CLAUSE.sub(" ", text)):
        return False
    if part.kind == "quantity" and _HOW_LONG.match(part.text):
        # "how long do people stay?" asks a time (or till when): "one fewer person" is none, and
        # "its findings due in late 2017" is a till-when though it counts nothing.
        if not (_DURATION.search(text) or _DATE.search(text)):
            return False
        if not _DURATION.search(text) and _TILL.search(text):
            return True
    if (
        part.kind == "quantity"
        and _HOW_OFTEN.match(part.text)
        and not (_FREQUENCY.search(text) or _RECURRING.search(text))
    ):
        return False  # "how often did patients use them?" asks a frequency: "within 72 hours" is none
    if part.asks_share and not _SHARE.search(text):
        return False  # "what share were seen within an hour?" is not answered by "within one hour"
    if part.kind == "quantity":  # "24/7" is a span and "one of the" a choice, not quantities
        # Nor is a figure the question gives: "how much funding for phase 3" is not answered by
        # "Phase 3: April 2020 to March 2022".
        plain = _ONE_OF.sub(" ", _SPAN.sub(" ", text))
        asked = _asked(part)
        return any(_figure_word(plain, m) not in asked for m in _NUMBER.finditer(plain))
    if part.kind == "when":  # "when is it held?" is answered by "at the start of each shift" too
        return bool(_DATE.search(text) or (_HABITUAL.match(part.text) and _RECURRING.search(text)))
    if part.kind == "who":
        # A person or body the question does not already name ("Who chairs Oxleas?" is not
        # answered by a sentence naming only Oxleas NHS Foundation Trust).
        asked = _asked(part)
        new = lambda found: any(w.lower() not in asked for w in re.findall(r"[A-Z][a-z]+", found))  # noqa: E731
        people = [m for m in _PERSON.finditer(text) if not _NOT_NAMES & set(m.group(0).split())]
        if _ASKS_PERSON.match(part.text):  # a person in a role: not the name of a body
            bodies = [m.span() for m in _CAPITALISED_RUN.finditer(text) if _BODY.search(m.group(0))]
            people = [m for m in people if not any(a < m.end() and m.start() < b for a, b in bodies)]
        if any(new(m.group(0)) for m in people):
            return True
        if _ASKS_PERSON.match(part.text) or ASKS_NAME.match(part.text):
            return False  # "who is the medical director of X" asks for the person in the role
        return _names_a_role(text, asked)  # "who did inspectors interview"
    if part.kind == "where" and part.names:  # "where is <a named thing>" wants a place
        asked = {w.lower() for n in part.names for w in n.split()}
        # "in Newcastle", "in the north east of England"
        places = re.findall(
            r"\b(?:in|at|near|across|around) (?:the )?(?:[a-z]+ ){0,3}?(?:of )?([A-Z][a-z]+)", text
        )
        return any(place.lower() not in asked and place.lower() not in _TIMES for place in places)
    if part.kind == "which" and part.head:
        # A member named ("- Hertfordshire Community NHS Trust"), or an item ("leadership;") when
        # no bodies are asked, or a sentence naming several; not a point of prose set as a bullet
        # ("- Charities often bring skills ...") nor the names the question gives ("Lancashire Care").
        # Nor a person ("Lord Carter") or a month ("in September"): neither is a member listed.
        asked = _asked(part) | _TIMES
        capitalised = re.findall(r"\b[A-Z][a-z]+", _TITLED.sub(" ", text)[1:])
        named = [w for w in capitalised if w.lower() not in asked]
        if unit.item:  # "which themes" may be answered by prose items; "which charities" names them
            return not part.wants_bodies or bool(named)
        if part.head.lower() in _ANY_BODY and _names_a_role(text, asked):
            return True  # "which organisations": "local patient and voluntary groups" are a kind of them
        return len(named) >= 2
    if part.kind == "how" and part.names_doer and not part.reported:  # "how did X describe it?": words
        # "What did East London do?" wants something done, not that East London was rated;
        # "what did inspectors do to prepare the Driving improvement report?" names the report only.
        return bool(_MEANS.search(text))
    return True
