"""NHS acronyms, expanded in the search query so "How did LCFT cut OAPs?" finds the full words.

Staff write in acronyms; documents usually spell names out. The expansion is appended to the
query (the question itself is kept), and the query searched is shown to the user.
"""

from __future__ import annotations

import re

ACRONYMS: dict[str, str] = {
    "A&E": "accident and emergency",
    "AMHP": "approved mental health professional",
    "CAMHS": "child and adolescent mental health services",
    "CCG": "clinical commissioning group",
    "CEO": "chief executive",
    "CQC": "Care Quality Commission",
    "CMHT": "community mental health team",
    "ELFT": "East London NHS Foundation Trust",
    "FT": "foundation trust",
    "FTSU": "Freedom to Speak Up",
    "HSJ": "Health Service Journal",
    "ICB": "integrated care board",
    "LCFT": "Lancashire Care NHS Foundation Trust",
    "LD": "learning disability",
    "MH": "mental health",
    "MHA": "Mental Health Act",
    "NHSE": "NHS England",
    "NHSI": "NHS Improvement",
    "NTW": "Northumberland, Tyne and Wear NHS Foundation Trust",
    "OAP": "out-of-area placement",
    "PICU": "psychiatric intensive care unit",
    "RI": "requires improvement",
    "SHSC": "Sheffield Health and Social Care NHS Foundation Trust",
    "VCS": "voluntary and community sector",
}
_TOKEN = re.compile(r"\b([A-Z][A-Z&]{1,5})(s?)\b")


def expand_acronyms(question: str) -> str:
    """Return ``question`` with the meaning of each known acronym in it appended."""
    meanings: list[str] = []
    for acronym, plural in _TOKEN.findall(question):
        meaning = ACRONYMS.get(acronym)
        if meaning and meaning not in meanings and meaning.lower() not in question.lower():
            meanings.append(meaning + plural)
    return f"{question} ({'; '.join(meanings)})" if meanings else question
