"""What a question asks for: its parts, and for each part the kind of answer and the words it is about.

"How much did the crisis line cost and what did it save?" has two parts: a quantity (how much
... cost) and a thing done (what ... save), both about the crisis line. The answerer looks for a
sentence answering each part, leads with the first part's, and names the parts it found nothing
for. Everything here is about English question shapes; nothing is about one library or topic.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Collection
from dataclasses import dataclass, replace
from typing import Literal

Kind = Literal["quantity", "when", "who", "where", "which", "yes_no", "how", "what"]

# Words that shape a question but say nothing about its subject.
_FUNCTION_TEXT = (
    "a an the of to in on for with by at from as into about over after before between during "
    "and or but so also then than any some other more most each every both all "
    "how what which who whom whose why when where whether "
    "do did does done doing is are was were be been being has have had having "
    "can could should would will may might must shall "
    "i me my we our us you your it its they them their this that these those there he she his her "
    "tell say said please much many there s t go goes went gone get gets got come comes came called "
    "according through across within without under around towards toward via per upon onto among "
    "against along behind beyond despite inside outside until up down out off following "
    "anything something nothing everything anyone someone "
    "anybody somebody reckon reckons reckoned think thinks "
    "i'm it's we're you're they're i've we've you've they've isn't aren't wasn't weren't "
    "don't doesn't didn't hasn't haven't hadn't can't couldn't won't wouldn't shouldn't"
)
FUNCTION_WORDS = frozenset(_FUNCTION_TEXT.split())
REFERRING = frozenset({"it", "its", "they", "them", "their", "this", "that", "these", "those", "he", "she"})
_WORD = re.compile(r"[A-Za-z0-9£$€%][\w£$€%.'’&-]*")
# Where a question asks a second thing: "..., and what did it save?", "...; who led it?".
_PART_BREAK = re.compile(
    r"\s*(?:[;?]\s*|\.\s+(?=(?:how|what|when|who|which|where|why|whether|did|does|do|is|are|was|were|has|have)\b)"
    r"|,?\s+and\s+(?=(?:(?:on|in|at|for|from|by|with|to)\s+(?=what|which|how))?(?:how|what|when|who|which|where|why|whether|did|does|do|is|are|was|were"
    r"|has|have)\b))",
    re.IGNORECASE,
)
# Everyday abbreviations of English words, read as the words a document prints.
_ABBREVIATED = {
    "exec": "executive", "execs": "executives", "govt": "government", "dept": "department",
    "mgmt": "management", "mgr": "manager", "admin": "administration", "info": "information",
    "stats": "statistics", "approx": "approximately", "org": "organisation", "orgs": "organisations",
}  # fmt: skip
_DASH = re.compile(
    r"\s+[-–—]\s+(?=(?:how|what|when|who|which|where|why|whether|did|does|do|is|are|was|were|has|have)\b)",
    re.IGNORECASE,
)
# The auxiliaries a question opens with ("Did ...", "Is ...") or puts after its question word.
_OPENING_AUX = "(is|are|was|were|did|does|do|has|have|had|can|could|should|will|would)"
# "When did the site start, what is its budget, and ...?": a comma before a second question.
_COMMA = re.compile(
    r",\s+(?=(?:what|how)\s+(?:is|was|are|were|did|does|do|has|have|much|many|long|often)\b)",
    re.IGNORECASE,
)
# ... when what comes before is a question itself ("When did it start", not "When the trusts ...")
_ASKING = re.compile(
    rf"^(?:(?:who|what)\b|(?:how|when|where|why|which)(?:\s+[\w'’-]+){{0,2}}?\s+{_OPENING_AUX}\b|{_OPENING_AUX}\b)",
    re.IGNORECASE,
)
_SETTING = re.compile(
    r"^((?:after|before|once|when|whenever|since|following|during|now that|if|given|in|by|at|over|between)"
    r"\b[^,?]{3,120}?),\s+(?=(?:how|what|which|who|whom|whose|when|where|why|did|does|do|is|are|was|were"
    r"|has|have|had|can|could|should|will|would)\b)",
    re.IGNORECASE,
)
_QUESTION_START = re.compile(
    r"^(?:how|what|when|who|whom|whose|which|where|why|whether|did|does|do|is|are|was|were|has|have|had|can"
    r"|could|should|will|would)\b",
    re.IGNORECASE,
)
_YES_NO = re.compile(rf"^{_OPENING_AUX}\b", re.IGNORECASE)
_QUANTITY = re.compile(
    r"^(how (much|many|long|often|far|big|large)\b|what (?:share|proportion|percentage|fraction)\b"
    r"|what (was|is|were|are) the (cost|number|amount|total"
    r"|size|saving|savings|budget|figure|percentage|proportion|rate)\b"
    r"|what (was|is|were|are) the (?:[a-z-]+ ){1,2}(cost|number|amount|total|size|percentage|proportion)\b"
    # "what was its vacancy rate", "what was Kestrel Moor's registered nurse vacancy rate"
    r"|what (?:was|is|were|are) (?:its|their|his|her|(?:[\w-]+ ){0,4}?[\w-]+['’]s) (?:[a-z-]+ ){0,3}"
    r"(?:cost|number|amount|total|size|percentage|proportion|rate|budget|saving|savings)\b"
    # "what did the crisis line save?": a verb of money closing the question asks an amount
    # ... or its verb before how it came about: "what did NTW save by improving its line?"
    r"|what (?:did|does|do|will|would|could) .+\b(?:save|cost|spend|earn|raise|lose)(?:\W*$|\s+(?:by|from"
    r"|through|after|over|each|per|a|an|the|its|their|in|on|to)\b))",
    re.IGNORECASE,
)
_WHEN = re.compile(
    r"^(when|(?:(?:in|on|by) )?(?:what|which) (?:[a-z]+ )?(year|date|month|day))\b", re.IGNORECASE
)  # "on what exact date"
_WHO = re.compile(r"^(who|whom|whose)\b", re.IGNORECASE)
_WHERE = re.compile(r"^(where|in which (place|town|city|county|area|region))\b", re.IGNORECASE)
# "Where is X based?": the verb of place says nothing about X.
_PLACED = frozenset({"based", "located", "situated", "headquartered", "found"})
# "What is the partner charity called?", "what is the name of the charity?": a name.
ASKS_NAME = re.compile(
    r"^what\s+(?:is|was|are|were)\s+(?:.+\s+called\W*$|the\s+names?\s+of\b)", re.IGNORECASE
)
# "which staff survey should trusts track" lists no trusts: the noun listed comes before a verb.
_WHICH = re.compile(
    r"^(which|what)\s+((?:(?!(?:should|could|would|can|may|might|must|will|shall|did|does|do|is|are|was|were"
    r"|has|have|had)\s)[a-z-]+\s+){0,3}?)(?!(?:is|was|has|does|this|thus|us)\b)([a-z-]+s)\b"
    r"(?!\s+(?:of|is|was|did|does)\b)"
)
_HOW = re.compile(  # "what did X do" asks what was done; "what did X plan to do" asks a plan
    r"^(how|in what way|what did .+(?<!\bto) do|what (steps|actions|changes)|what (was|were) done)\b",
    re.IGNORECASE,
)
# "which trusts did Lord Carter visit": a "which" noun before "did" is listed too ("what steps
# did X take" is not a list of steps named).
_WHICH_DID = re.compile(r"^(which)\s+((?:[a-z-]+\s+){0,2}?)([a-z-]+s)\s+(?:did|does|do)\b")
_DEFINES = re.compile(r"^what\s+(?:is|are|was|were|does|do)\b", re.IGNORECASE)
_REPORTED = re.compile(
    r"^(?:what|how)\s+(?:[a-z-]+\s+){0,2}?(?:did|do|does|will|would|has|have)\s+.+?\s"
    r"(?:say|tell|think|feel|describe|write)\b",
    re.IGNORECASE,
)
_COUNT_WORDS = frozenset(
    {"one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "first", "last", "other"}
)
# Plural nouns that name what a "which"/"what" question lists but are not things like "themes".
_LISTED = re.compile(
    r"(trusts|organisations|providers|services|bodies|hospitals|teams|people|groups|areas|regions|"
    r"boards|units|wards|charities|partners|members|authorities|ccgs|icbs)$"
)
# "Which trust / charity ...": one body, by name.
_ONE_BODY = ("trust", "organisation", "provider", "body", "hospital", "team", "group", "board", "charity",
             "partner", "authority", "ccg", "icb")  # fmt: skip
_WHICH_ONE = re.compile(rf"^(which)\s+((?:[a-z-]+\s+){{0,2}}?)({'|'.join(_ONE_BODY)})\b", re.IGNORECASE)


@dataclass(frozen=True)
class Part:
    """One thing a question asks: its words, the kind of answer it wants, and what it is about.

    ``terms`` are the words that name its subject (lower case, as written); ``groups`` the runs
    of capitalised words among them, as written (a place, trust or report the answer must be
    about), grouped as the question coordinates them: names joined by "and", "or" or commas
    ("Lancashire Care and Northumberland, Tyne and Wear") are one group, of which a passage needs
    one; each group is a different thing the part is about ("CQC" and "Somerset Partnership" in
    "what rating did CQC give Somerset Partnership"), and a passage needs every group. ``head``
    the noun a "which" question lists (``trusts``); ``context`` the subject words a later part
    borrows from the first ("what did *it* save" is about the first part's crisis line).
    """

    text: str
    kind: Kind
    terms: tuple[str, ...]
    groups: tuple[tuple[str, ...], ...] = ()
    head: str = ""
    context: tuple[str, ...] = ()
    focus: str = ""
    attribute: str = ""
    action: str = ""
    modifiers: tuple[str, ...] = ()  # the words before a "which" part's bodies ("ambulance" trusts)
    scope: tuple[str, ...] = ()  # whom or what an asked attribute is of ("healthcare assistants")
    shared: tuple[str, ...] = ()  # what a share asked is the share of doing ("were men", "were seen")
    role: str = ""  # the post a "who is the ..." part asks who holds ("chief executive")

    @property
    def names(self) -> tuple[str, ...]:
        """Return every name of the part once, in the question's order."""
        return tuple(dict.fromkeys(name for group in self.groups for name in group))

    @property
    def names_subject(self) -> bool:
        """Return whether the first name is what the part is about, standing right after its
        first word ("Did Oxleas ...", "Will the CQC ..."), not inside a clause about something
        else ("Can a trust that is not in the Carter cohort ...")."""
        if not self.names:
            return False
        words = _bare_words(self.text)
        first = self.names[0].split()[0]
        for k, word in enumerate(words[1:4], start=1):
            if word == first:
                return all(w.lower() in ("the", "a", "an") for w in words[1:k])
        return False

    @property
    def names_doer(self) -> bool:
        """Return whether a name stands right after the part's auxiliary, as the doer it asks
        about ("What did East London do ...", "How did NTW ..."), not elsewhere ("what did
        inspectors do to prepare the Driving improvement report")."""
        words = _bare_words(self.text)
        if len(words) < 3 or words[1].lower() not in _VERBS_AFTER:
            return False
        at = 3 if words[2].lower() == "the" else 2
        return at < len(words) and any(name.split()[0] == words[at] for name in self.names)

    @property
    def asks_share(self) -> bool:
        """Return whether the part asks a share ("what share of people ...", "what was the
        percentage ..."), which a percentage, "half" or "one in five" gives."""
        return self.kind == "quantity" and bool(_share_asked(self.text))

    @property
    def doer_name(self) -> str:
        """Return the name standing after the part's auxiliary, the one it asks what it did or
        has ("NTW" in "how much did NTW's crisis line save?"), else ""."""
        words = _bare_words(self.text)
        for name in self.names:
            first = _bare_words(name)[0]
            for k, word in enumerate(words[1:], start=1):
                if word != first:
                    continue
                before = words[k - 2] if words[k - 1].lower() == "the" and k >= 2 else words[k - 1]
                if before.lower() in _VERBS_AFTER:
                    return name
                break
        return ""

    @property
    def subject_name(self) -> str:
        """Return the name the part asks its question of: one standing after an auxiliary ("Did
        Oxleas ...", "What rating did Oxleas get ...", "How much did NTW's line save?"), else its
        only name ("Who leads NTW?"), else "" ("Which trusts were in CQC's report?")."""
        if self.doer_name:
            return self.doer_name
        # "Who leads NTW?": the one name a question gives is what it asks about.
        return self.names[0] if len(self.names) == 1 else ""

    @property
    def defines(self) -> bool:
        """Return whether the part asks what one thing is or means ("What is co-production?",
        "What does co-production mean?"): a sentence holding its one word may define it, however
        far its cosine (a word the model barely knows)."""
        return len(self.terms) == 1 and bool(_DEFINES.match(self.text))

    @property
    def reported(self) -> bool:
        """Return whether the part asks what someone said or thought ("what did guests say about
        the house?", "how did staff feel about it?"): a sentence reporting it answers, not one
        naming what people say as a thing to measure."""
        return bool(_REPORTED.match(self.text))

    @property
    def wants_bodies(self) -> bool:
        """Return whether a "which" part lists bodies by name ("which charities", "which trusts",
        "which trust")."""
        return _bodies(self.head)

    @property
    def wants_list(self) -> bool:
        """Return whether the part asks for things of a sort ("what lessons should X take", "what
        practical steps can a board take"): a list's lead-in with its items answers it best."""
        words = [w.lower() for w in _WORD.findall(self.text)]
        return self.kind in ("what", "how") and any(w in _SORTS for w in words[1:4])

    @property
    def wants_many(self) -> bool:
        """Return whether the answer is naturally a list (several trusts, documents or items)."""
        return self.kind == "which" or (self.kind in ("how", "what") and _plural_subject(self.text))


@dataclass(frozen=True)
class Intent:
    """A question split into the parts it asks, the central one first."""

    question: str
    parts: tuple[Part, ...]

    @property
    def central(self) -> Part:
        return self.parts[0]


def read_question(question: str, known_acronyms: frozenset[str] = frozenset()) -> Intent:
    """Return the parts ``question`` asks; a part that only says "it" borrows the first part's subject."""
    # "After the change, what share ...?", "When the trusts got a poor mark, what did their boards
    # do?": the question begins after the clause that sets it, which is read after its first part.
    setting = _SETTING.match(question.strip())
    asked = (
        question.strip()[setting.end() :]
        if setting and not _ASKING.match(question.strip())
        else question.strip()
    )
    pieces = []
    for piece in _memberships(asked) or _PART_BREAK.split(asked):
        # "How did the inspectors gather it - who did they talk to?": a dash before a second
        # question, when what comes before it is a question too (not "We're setting one up - how ...").
        halves = _DASH.split(piece, maxsplit=1)
        halves = halves if len(halves) == 2 and _QUESTION_START.match(halves[0].strip()) else [piece]
        for half in halves:  # so does a comma, after a question
            clauses = _COMMA.split(half)
            pieces += clauses if _ASKING.match(clauses[0].strip()) else [half]
    pieces = [p.strip(" ,.") for p in pieces if p and p.strip(" ,.?")]
    if pieces and asked != question.strip():
        clause = setting.group(1) if setting else ""
        pieces[0] = f"{pieces[0].rstrip(' ?')}, {clause[:1].lower()}{clause[1:]}"
    parts: list[Part] = []
    for piece in pieces or [question.strip()]:
        part = _part(piece, known_acronyms)
        # "..., and what is the partner charity called?" asks a name the first part did not give.
        # So does one that repeats a word of the first ("..., and how much funding does each trust
        # get for phase 3?" is about the programme the first part names).
        # One naming a subject of its own ("..., and who leads the Oxtonby site?") is about that.
        if parts and (
            len(part.terms) < 2
            or _leans_back(piece)
            or ASKS_NAME.match(piece)
            or (set(part.terms) & set(parts[0].terms) and not part.groups)
        ):
            first = parts[0]
            context = tuple(t for t in first.terms if t not in part.terms)
            part = replace(
                part,
                context=context,
                groups=tuple(dict.fromkeys(part.groups + first.groups)),
            )
        if part.terms or (parts and part.reported):  # "..., and what did he say about it?"
            parts.append(part)
    if not parts:
        parts = [_part(question.strip(), known_acronyms)]
    return Intent(question, tuple(parts))


_MEMBER = r"(?:part of|one of|a member of|among|in|on|listed in|named in|included in)"
# "Was Lincolnshire Partnership part of the cohort and also one of the seven trusts?", "Is it in
# both the cohort and the report?": two lists, each asked about the same subject.
_TWO_LISTS = re.compile(
    rf"^(?P<ask>{_OPENING_AUX}\s+.+?)\s+(?:(?P<both>{_MEMBER})\s+both\s+(?P<a>.+?)|(?P<p1>{_MEMBER}\s+.+?))"
    rf"\s*,?\s+and\s+(?:(?:is|was|are|were)\s+)?(?:also\s+)?(?P<p2>.+?)(?:\s+(?:too|as well))?\s*\??$",
    re.IGNORECASE,
)


def _memberships(question: str) -> list[str]:
    """Return the two questions a question asking whether its subject is in two lists asks, one
    for each list; none for any other question."""
    found = _TWO_LISTS.match(question.strip())
    if not found or not re.search(r"\s[A-Z]", found.group("ask")):  # a named subject: not "any trust"
        return []
    if found.group("both"):
        first, second = (
            f"{found.group('both')} {found.group('a')}",
            f"{found.group('both')} {found.group('p2')}",
        )
    elif re.match(_MEMBER + r"\s", found.group("p2"), re.IGNORECASE):
        first, second = found.group("p1"), found.group("p2")
    else:
        return []
    return [f"{found.group('ask')} {first}?", f"{found.group('ask')} {second}?"]


# "Which trust was both one of the seven trusts and in the cohort?", "Is any trust in both the
# cohort and the report?": what is in two lists at once, with no subject named.
_BOTH_LISTS = re.compile(
    rf"^(?P<lead>(?:which|what|is|are|was|were|do|does|did)\b.*?)\s+(?:(?P<prep>{_MEMBER})\s+)?both\s+"
    rf"(?P<a>.+?)\s*,?\s+and\s+(?:also\s+)?(?P<b>.+?)\s*\??$",
    re.IGNORECASE,
)


def in_both(question: str) -> tuple[str, str, str] | None:
    """Return how to ask whether a named thing is in each of the two lists ``question`` asks what
    is in both of ("Is", "one of the seven trusts", "in the cohort"), or None for any other
    question (and for one naming its subject: :func:`read_question` splits those in two)."""
    found = _BOTH_LISTS.match(question.strip())
    if not found or re.search(r"\s[A-Z]", found.group("lead")):
        return None
    prep = found.group("prep")
    first = f"{prep} {found.group('a')}" if prep else found.group("a")
    second = found.group("b")
    if prep and not re.match(_MEMBER + r"\s", second, re.IGNORECASE):
        second = f"{prep} {second}"
    if not all(re.match(_MEMBER + r"\s", side, re.IGNORECASE) for side in (first, second)):
        return None
    tense = re.search(r"\b(was|were|did)\b", found.group("lead"), re.IGNORECASE)
    return ("Was" if tense else "Is"), first, second


def _part(text: str, known_acronyms: frozenset[str]) -> Part:
    # "what kind of support" is about support: the kind, type or sort is not a subject word.
    plain = _FILLER.sub("", _KIND_OF.sub("", _THEN_AND_NOW.sub("", text)))
    terms: list[str] = []
    groups: list[list[str]] = []
    run: list[str] = []
    run_start = run_end = 0
    joins_at: int | None = None  # where the last name ended, when the next may be coordinated with it

    def close(joinable: bool) -> None:
        nonlocal run, joins_at
        name = " ".join(run)
        if joins_at is not None and groups and _COORDINATED.fullmatch(plain[joins_at:run_start]):
            groups[-1].append(name)  # "Lancashire Care and Northumberland, Tyne and Wear"
        else:
            groups.append([name])
        run, joins_at = [], run_end if joinable else None

    appositive = _APPOSITIVE.search(plain)
    restated = appositive.start() if appositive else len(plain)
    for i, found in enumerate(_WORD.finditer(plain)):
        word = found.group(0)
        possessive = bool(re.search(r"['’]s$", word))
        bare = re.sub(r"['’]s$", "", word).rstrip(".'’").strip("'’")
        low = bare.lower().replace("’", "'")
        # A capital inside the sentence marks a name (a trust, place or report); so does an
        # acronym anywhere. The first word of a question is capitalised by grammar alone.
        named = bool(bare) and (
            (i > 0 and bare[0].isupper()) or (bare.isupper() and len(bare) > 1) or bare in known_acronyms
        )
        if named and low not in FUNCTION_WORDS:
            if not run:
                run_start = found.start()
            run.append(bare)
            run_end = found.start() + len(bare)
        elif run:
            close(joinable=True)
        if possessive and run:  # "CQC's Driving improvement report": two names, not one
            close(joinable=False)
        # An appositive restating what is asked ("..., the figure the trust reported") names
        # nothing a sentence must hold but its names ("..., the figure linked to the Model Hospital").
        if bare and low not in FUNCTION_WORDS and (found.start() < restated or named):
            terms.append(_ABBREVIATED.get(low, low))  # "chief exec" asks for a chief executive
    if run:
        close(joinable=False)
    # "by how many beds did its wards shrink" asks what "how many beds" asks.
    asked = _LEADING_PREPOSITION.sub("", text[:restated])
    kind, head, before = _kind(asked)
    if kind == "where":
        terms = [t for t in terms if t not in _PLACED] or terms
    if _DEFINITION.match(asked):  # "what does co-production mean?" is about co-production
        terms = [t for t in terms if t not in ("mean", "means", "meant")] or terms
    if (obliged := _OBLIGED.match(asked)) and kind == "what":
        terms.append(obliged.group(1).lower())  # "what must the trust do?" is answered by what it must do
    if kind == "quantity":
        words = [w.lower() for w in _WORD.findall(asked)]
        measure = words[1] if len(words) > 1 and words[0] == "how" and words[1] in _MEASURES else ""
        # "what share of people ...": "52% of people", seldom "a share"
        measure = _share_asked(asked) or measure
        terms = [t for t in terms if t != measure]
    focus = _focus(asked, terms) if kind == "quantity" else ""
    # "what share of young people were seen": a share of them, whom the sentence names
    share = _share_asked(asked) if kind == "quantity" else ""
    attribute = _attribute(asked) if kind == "what" else ""
    action = _action(asked) if kind == "who" else ""
    role = _ROLE.match(asked) if kind == "who" else None
    return Part(
        text,
        kind,
        tuple(dict.fromkeys(terms)),
        tuple(tuple(dict.fromkeys(group)) for group in groups),
        head,
        focus=focus,
        attribute=attribute,
        action=action,
        modifiers=_modifiers(before) if kind == "which" and _bodies(head) else (),
        scope=_scope(asked, attribute) if attribute else _scope(asked, share, after={"of"}) if share else (),
        shared=_shared(asked) if share else (),
        role=" ".join(_ABBREVIATED.get(w, w) for w in role.group(1).lower().split()) if role else "",
    )


# The words that name a post ("chief executive", "medical director", "Head of Inspection").
POSTS = (
    "chief executive|chief exec|executive|chair|chairman|chairwoman|chairperson|director|inspector"
    "|minister|secretary|manager|lead|leader|head|officer|president|governor|guardian"
)
# "Who is the chief executive of X?", "who was the medical director": the post, which a sentence
# naming someone in another post ("Chief People Officer") does not answer.
_ROLE = re.compile(
    r"^who\s+(?:is|was|are|were|has been|will be)\s+(?:the\s+|its\s+|their\s+)?"
    rf"(?!to\b)((?:[a-z-]+\s+){{0,2}}?(?:{POSTS}))s?\b",
    re.IGNORECASE,
)


_APPOSITIVE = re.compile(  # ", the figure ...", ", the date ...": what is asked, said again
    r",\s+(?:the|a|an)\s+(?:[a-z-]+\s+)?(?:figure|number|amount|sum|total|date|year|name)\b"
)
# "What must the trust do ...", "what should boards do": what it is obliged or advised to do.
_OBLIGED = re.compile(r"^what\s+(must|should)\s+(?:[\w'’&-]+\s+){1,8}?do\b", re.IGNORECASE)
_DEFINITION = re.compile(r"^what\s+(?:does|do|did)\s+.+\s+mean\W*$|^what\s+is\s+meant\s+by\b", re.IGNORECASE)
_LEADING_PREPOSITION = re.compile(r"^(?:by|to|for|from)\s+(?=how\b)", re.IGNORECASE)
# "how long", "how often": the measure is in the question's words, seldom in the answer's ("12 months").
_MEASURES = frozenset({"long", "often", "far", "big", "large"})
# What may stand between two names of one group: "A and B", "A, B and C", "A or B", "A & B".
_COORDINATED = re.compile(r"[\s,]*(?:(?:and|or|&)[\s,]*)?", re.IGNORECASE)


_KIND_OF = re.compile(r"\b(?:kind|type|sort)s? of\s+", re.IGNORECASE)
# "went all the way up to outstanding", "what are trusts up against right now": words of speech
# that name nothing a sentence must hold.
_FILLER = re.compile(
    r"\b(?:all the way|right now|just now|at the moment|these days|nowadays)\b", re.IGNORECASE
)
# "... now, compared with a few years back": asks the figures over time, which a table's row gives;
# its words are no words a sentence must hold.
_THEN_AND_NOW = re.compile(
    r"(?:\s*,?\s*\b(?:now|today|these days))?\s*,?\s*\b(?:compared (?:with|to)|versus|vs\.?|against|than)\s+"
    r"(?:(?:a few|a couple of|some|several|\w+)\s+)?(?:years?|months?)\s+(?:back|ago|before|earlier)\b",
    re.IGNORECASE,
)
# Words naming the sort of answer rather than a thing a sentence would name: "what lessons should
# X take" is answered by the lessons themselves, seldom by the word "lesson".
_SORTS_OF_ANSWER = frozenset({"lessons", "steps", "things", "ideas", "points", "changes", "actions", "ways"})
_GENERIC = (
    frozenset({"kind", "kinds", "type", "types", "sort", "sorts", "part", "role"})
    | _SORTS_OF_ANSWER
    | {w.removesuffix("s") for w in _SORTS_OF_ANSWER}
)
# "what questions should a board ask" also wants a list, but its sentence says "questions".
_SORTS = _SORTS_OF_ANSWER | {"questions"}
_AUXILIARIES = frozenset({"did", "does", "do", "is", "was", "are", "were", "has", "have", "had", "will"})
_VERBS_AFTER = _AUXILIARIES | {"should", "could", "would", "can", "may", "might", "must", "shall"}
_AUX = "|".join(sorted(_VERBS_AFTER))
_ATTRIBUTE = (
    # "what is the review's budget?", "what was ELFT's annual budget?"
    re.compile(
        r"^what(?:\s+(?:is|was|are|were)|['’]s)\s+(?:the\s+|its\s+|their\s+)?(?:(?:[A-Z][\w-]*,?\s+){0,5}[\w-]+['’]s\s+)?"
        r"((?:[a-z-]+\s+){0,1})([a-z-]+)(?:\s+(?:of|for|among|amongst|across|within|at|in|on)\b|\W*$)",
        re.IGNORECASE,
    ),
    # "what rating did CQC give", "what efficiency savings target has each been given"; not
    # "what can a board do" (what is asked is the object itself)
    re.compile(
        rf"^what\s+(?!{_AUX}\b)((?:[a-z-]+\s+){{0,2}}?)([a-z-]+)\s+(?:{_AUX})\b",
        re.IGNORECASE,
    ),
)


def _attribute(text: str) -> str:
    """Return what a "what" question asks about: "budget" in "what is the review's budget",
    "rating" in "what rating did CQC give", "support" in "what kind of support does it offer"."""
    plain = _KIND_OF.sub("", text.strip())
    match = next((m for m in (r.match(plain) for r in _ATTRIBUTE) if m), None)
    if not match:
        return ""
    words = [*match.group(1).split(), match.group(2)]
    if "of" in words[1:]:  # "what model of care": a model, of care
        words = words[: words.index("of", 1)]
    words = [w.lower() for w in words if w.lower() not in _GENERIC and w.lower() not in FUNCTION_WORDS]
    return words[-1] if words else ""


# "the vacancy rate for healthcare assistants", "turnover among support workers": whom it is of.
_SCOPED = frozenset({"for", "among", "amongst", "across", "within", "in", "on"})
_SCOPE_ENDS = frozenset({"at", "in", "on", "for", "during", "since", "from", "between", "by", "within",
                         "across", "before", "after", "when", "compared", "than"})  # fmt: skip


def _scope(text: str, attribute: str, after: Collection[str] = _SCOPED) -> tuple[str, ...]:
    """Return the words that say whom or what ``attribute`` is of, after it in ``text``:
    "healthcare", "assistants" in "what's the vacancy rate for healthcare assistants at Pellowdale";
    none for a name alone ("the budget for Eskby") or a period ("in 2024/25")."""
    words = _WORD.findall(text)
    lowered = [w.lower() for w in words]
    if attribute not in lowered:
        return ()
    at = lowered.index(attribute) + 1
    if at >= len(words) or lowered[at] not in after:
        return ()
    scope = []
    for word in words[at + 1 :]:
        low = word.lower()
        if low in _SCOPE_ENDS or low in _VERBS_AFTER:
            break
        if not word[0].isupper() and low not in FUNCTION_WORDS and not any(c.isdigit() for c in low):
            scope.append(re.sub(r"['’]s?$", "", low))
    return tuple(scope)


def _share_asked(text: str) -> str:
    """Return the share a question asks for ("share" in "and what share of people ...",
    "percentage" in "what was the percentage ..."), else ""."""
    words = [w.lower() for w in _WORD.findall(text)]
    words = words[1:] if words[:1] == ["and"] else words
    if words[1:2] and words[1] in ("was", "is", "were", "are") and words[2:3] == ["the"]:
        words = words[:1] + words[3:]  # "what was the percentage ..."
    return words[1] if words[:1] == ["what"] and len(words) > 1 and words[1] in _SHARES else ""


def _shared(text: str) -> tuple[str, ...]:
    """Return what a share asked counts: the words after its verb, "men" in "what percentage of
    visitors were men", "seen", "hour" in "what share of people were seen within an hour"."""
    words = _WORD.findall(text)
    verb = next((k for k, w in enumerate(words[2:], start=2) if w.lower() in _VERBS_AFTER), None)
    if verb is None:
        return ()
    return tuple(
        w.lower()
        for w in words[verb + 1 :]
        if not w[0].isupper() and w.lower() not in FUNCTION_WORDS and not any(c.isdigit() for c in w)
    )


_SHARES = ("share", "proportion", "percentage", "fraction")  # "what share of people": people counted
_COUNTED = frozenset({"cost", "number", "amount", "total", "size", "saving", "savings", "budget", "figure",
                      "rate", *_SHARES})  # fmt: skip


def _focus(text: str, terms: list[str]) -> str:
    """Return what a quantity is of: "beds" in "how many beds", "cost" in "how much did X cost"."""
    words = [w.lower() for w in _WORD.findall(text)]
    if len(words) > 2 and words[0] == "how" and words[2] not in _VERBS_AFTER:  # ("how much could ...")
        # "how many acute trusts were given": the noun phrase ends at its verb, and its last
        # word is what is counted (trusts); without a verb near, the first word is taken.
        phrase = list(itertools.takewhile(lambda w: w not in _VERBS_AFTER, words[2:8]))
        content = [w for w in phrase if w not in FUNCTION_WORDS]
        if len(phrase) < len(words[2:8]) and content:
            return content[-1]
        return next((w for w in words[2:] if w not in FUNCTION_WORDS), "")
    doer = _doer_verb(text)
    if words[0] == "how" and doer:  # "how much did NTW spend improving its line": spending
        return doer
    counted = next((k for k, w in enumerate(words) if w in _COUNTED), None)
    if words[0] == "what" and counted is not None:
        while counted + 1 < len(words) and words[counted + 1] in _COUNTED:
            counted += 1  # "total cost"
        # "what is the maximum number of nights": nights; "what was the total cost": cost.
        after = [w for w in words[counted + 1 :] if w == "of" or w not in FUNCTION_WORDS][:2]
        if words[counted] in _SHARES:
            return ""  # "what share of young people referred ...": a share, whoever is counted
        counts_what = words[counted] in ("number", "amount", "total") and after[:1] == ["of"]
        return after[1] if counts_what and len(after) > 1 else words[counted]
    if counted is not None:  # "how much did it cost to produce": the cost
        return words[counted]
    # "How much did the crisis line save": the verb that ends a short question is what it counts.
    return terms[-1] if terms and len(words) <= 8 and words[-1] == terms[-1] else ""


def _action(text: str) -> str:
    """Return the verb a "who" question asks the doer of: "answers" in "who answers calls to
    the line?", "led" in "who led East London?"; none in "who is ..." or "who did X meet?"."""
    words = _WORD.findall(text)
    if len(words) < 2 or words[0].lower() != "who":
        return ""
    verb = words[1]
    return verb if verb.islower() and verb not in FUNCTION_WORDS and verb not in _VERBS_AFTER else ""


# Irregular English verbs, base -> its other forms: "who led" is answered by "led by", "leads".
_IRREGULAR = {
    "lead": "led", "run": "ran", "take": "took taken", "give": "gave given", "make": "made",
    "hold": "held", "find": "found", "bring": "brought", "buy": "bought", "pay": "paid",
    "build": "built", "begin": "began begun", "choose": "chose chosen", "speak": "spoke spoken",
    "write": "wrote written", "win": "won", "meet": "met", "keep": "kept", "send": "sent",
    "spend": "spent", "lose": "lost", "grow": "grew grown", "see": "saw seen", "know": "knew known",
    "sell": "sold", "teach": "taught", "think": "thought", "leave": "left", "tell": "told",
    "say": "said", "become": "became", "oversee": "oversaw overseen", "undertake": "undertook undertaken",
    "feel": "felt", "seek": "sought", "draw": "drew drawn", "drive": "drove driven", "rise": "rose risen",
    "stand": "stood", "understand": "understood", "withdraw": "withdrew withdrawn", "sit": "sat",
    "fight": "fought", "hear": "heard", "mean": "meant", "show": "showed shown", "do": "did done",
    "go": "went gone", "have": "had", "get": "got",
}  # fmt: skip
_BASE = {form: base for base, forms in _IRREGULAR.items() for form in forms.split()}


def verb_forms(verb: str) -> tuple[str, ...]:
    """Return the forms of ``verb`` a sentence may print it in: itself, its base and irregular
    forms, and its doer ("leader" of "lead"): "led" gives led, lead, leader. Regular endings
    ("answers", "answered") are the stemmer's to match; "heads" is answered by "led by"."""
    forms = _forms(verb)
    if _LEADING & set(forms):
        forms += tuple(form for other in sorted(_LEADING) for form in _forms(other)) + _LEADERS
    return tuple(dict.fromkeys(forms))


def irregular_forms(word: str) -> tuple[str, ...]:
    """Return the forms of an irregular verb ``word`` is one of ("took": take, took, taken), or none."""
    base = word if word in _IRREGULAR else _BASE.get(word, "")
    return (base, *_IRREGULAR[base].split()) if base else ()


def _forms(verb: str) -> tuple[str, ...]:
    low = verb.lower()
    stems = [low] + [low.removesuffix(end) for end in ("s", "es", "ed", "ing") if low.endswith(end)]
    stems += [low.removesuffix("d")] if low.endswith("ed") else []  # "introduced": introduce
    stems += [low.removesuffix("ing") + "e"] if low.endswith("ing") else []
    base = next((stem for stem in stems if stem in _IRREGULAR), _BASE.get(low, ""))
    forms = [low, base, *_IRREGULAR[base].split()] if base else stems
    doers = [stem + ("r" if stem.endswith("e") else "er") for stem in ([base] if base else stems[1:])]
    return tuple(dict.fromkeys([*forms, *doers]))


# To lead a body, in other words ("who heads X" is answered by "led by"); and its leader.
_LEADING = frozenset({"lead", "head"})
_LEADERS = ("leader", "head")


_THINKING = frozenset(
    {
        "estimate", "think", "say", "believe", "expect", "predict", "forecast", "claim", "report",
        "suggest", "calculate", "reckon", "hope", "plan", "want", "aim", "need",
    }
)  # fmt: skip


_SUBJECT_PRONOUNS = frozenset({"it", "they", "he", "she", "we", "you", "i"})
# Verbs that take another verb after "to": what is done is that verb ("have to spend": spending).
_CATENATIVE = frozenset({"have", "has", "had", "need", "needs", "want", "wants", "plan", "plans",
                         "expect", "hope", "try", "manage", "get", "intend", "aim", "decide", "agree",
                         "choose"})  # fmt: skip


def _doer_verb(text: str) -> str:
    """Return the verb after a pronoun or name doing it ("spend" in "how much did NTW spend
    improving its line", "how much did it spend"); none when the doer is a noun phrase."""
    words = _WORD.findall(text)
    if len(words) < 5 or words[2].lower() not in _AUXILIARIES:
        return ""
    k = 3
    if words[k].lower() in _SUBJECT_PRONOUNS:  # not "its crisis line": a noun phrase
        k += 1
    else:
        while k < len(words) and words[k][0].isupper():
            k += 1
        if k == 3 or re.search(r"['’]s$", words[k - 1]):  # "NTW's crisis line": a noun phrase
            return ""
    # "how much did it have to spend": the verb after "have to", "need to", "plan to"
    if k + 2 < len(words) and words[k].lower() in _CATENATIVE and words[k + 1].lower() == "to":
        k += 2
    verb = words[k].lower() if k < len(words) else ""
    # "how much did Lord Carter estimate could be saved": the amount is of what follows
    return verb if verb and verb not in FUNCTION_WORDS and verb not in _THINKING else ""


def _kind(text: str) -> tuple[Kind, str, str]:
    """Return the kind of answer ``text`` asks, the noun a "which" part lists and the words
    before that noun."""
    if _QUANTITY.match(text):
        return "quantity", "", ""
    if _WHEN.match(text):
        return "when", "", ""
    if _WHO.match(text) or ASKS_NAME.match(text):
        return "who", "", ""
    if _WHERE.match(text):
        return "where", "", ""
    low = text.lower()
    which = _WHICH_ONE.match(low) or _WHICH_DID.match(low) or _WHICH.match(low)
    if which and (which.group(1) == "which" or _LISTED.search(which.group(3))):
        return "which", which.group(3), which.group(2)
    if low.startswith("which"):
        return "which", "", ""
    if _YES_NO.match(text):
        return "yes_no", "", ""
    if _HOW.match(text):
        return "how", "", ""
    return "what", "", ""


def _bodies(head: str) -> bool:
    """Return whether a "which" noun names bodies ("trusts", "charity"), not things ("themes")."""
    return head in _ONE_BODY or bool(_LISTED.search(head))


def _modifiers(before: str) -> tuple[str, ...]:
    """Return the words before a "which" part's bodies ("ambulance" in "which ambulance trusts"):
    a member listed holds them; none after "of" ("which of the seven trusts")."""
    words = before.split()
    if not words or words[0] == "of":
        return ()
    return tuple(w for w in words if w not in FUNCTION_WORDS and w not in _COUNT_WORDS)


def _bare_words(text: str) -> list[str]:
    """Return the words of ``text`` without a possessive ending ("NTW's" -> "NTW")."""
    return [re.sub(r"['’]s$", "", w) for w in _WORD.findall(text)]


def _leans_back(text: str) -> bool:
    """Return whether a later part refers to the first one's subject ("what did it save")."""
    words = [w.lower() for w in _WORD.findall(text)]
    return any(w in REFERRING for w in words)


def _plural_subject(text: str) -> bool:
    words = [w.lower() for w in _WORD.findall(text)]
    return any(_LISTED.search(w) for w in words[:6])
