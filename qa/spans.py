"""Answer candidates inside one sentence: dates, names, quantities, noun phrases, clauses, with offsets.

Every candidate's (start, end) indexes the sentence string it came from; the scorer shifts them into the
passage. Extraction is by rules over the text (no downloaded models), typed so the scorer can prefer the
span whose type fits the question.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterator

MONTH = r"(?:January|February|March|April|May|June|July|August|September|October|November|December)"
DATE_PATTERNS = (
    re.compile(rf"\b\d{{1,2}}(?:\s+{MONTH})?\s+(?:to|and|-|–)\s+\d{{1,2}}\s+{MONTH}\s+\d{{4}}\b"),
    re.compile(rf"\b\d{{1,2}}\s+{MONTH}\s+\d{{4}}\b"),
    re.compile(rf"\b{MONTH}\s+\d{{4}}\b"),
    re.compile(r"\b(?:19|20)\d{2}\b"),
)
SPELLED = "one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve"  # numbers written as words
QUANTITY_PATTERNS = (
    re.compile(r"\b(?:(?:a|the)\s+)?(?:very\s+)?(?:small|large|significant|increasing|growing|high|low|"
               r"considerable)\s+number\b", re.I),  # 'a rise in the number' is not a quantity
    re.compile(r"\b(?:the\s+)?(?:vast\s+)?majority\b", re.I),
    re.compile(r"\b(?:most|nearly all|virtually all|almost all|a few|few)\b", re.I),
    re.compile(rf"(?<![-\w])\d+(?:,\d{{3}})*(?:\.\d+)?(?:\s*(?:%|per cent|percent))?(?![-\w])"
               rf"(?!\s+(?:and|to)\s+\d)(?!\s+{MONTH})"),
    # a number in words, at the start of a sentence too: 'Two cases were ...', 'three of the five children'
    # ('one' is too often not a count: 'one of the', 'no one')
    re.compile(rf"(?<![-\w])(?!one\b)(?:{SPELLED}|fifteen|twenty|thirty|forty|fifty|hundreds?|thousands?)(?![-\w])",
               re.I),
)  # how often ('daily', 'every six weeks') is FREQUENCY's
NUMBER_WORD = rf"(?:\d+(?:\.\d+)?|{SPELLED}|several|a few|many)"
PERIOD = r"(?:day|week|fortnight|month|quarter|year|term)"
FREQUENCY = re.compile(  # how often: 'daily', 'regularly', 'every six weeks', 'at least once a month', 'twice a year'
    rf"\b(?:(?:at least|no less than)\s+)?(?:every\s+(?:other\s+)?(?:{NUMBER_WORD}\s+)?{PERIOD}s?|"
    rf"(?:once|twice|{NUMBER_WORD}\s+times)\s+(?:a|an|per|each|every)\s+{PERIOD}|"
    r"daily|weekly|fortnightly|monthly|annually|quarterly|yearly|"
    r"regularly|frequently|routinely|rarely|infrequently|occasionally|seldom)\b", re.I)
DURATION = re.compile(
    rf"\b(?:(?:within|for|over|after|up to|at least|more than|less than|nearly|almost|around|about)\s+)?"
    rf"(?:{NUMBER_WORD}|an?)\s+(?:working\s+|calendar\s+)?(?:hours?|days?|weeks?|months?|years?)\b(?!\s*old\b)(?!-)|"
    r"\ba long time\b|\bfor (?:a|the) (?:long|short) (?:time|period)\b", re.I)
MONEY = re.compile(r"£\s?\d[\d,]*(?:\.\d+)?(?:\s?(?:million|billion|bn|m|k)\b)?|"
                   r"\b\d[\d,]*(?:\.\d+)?\s?(?:million\s+|billion\s+)?(?:pounds|GBP)\b", re.I)
CONTACT_PATTERNS = (
    re.compile(r"(?<![\d/])(?:\+44\s?\(?0?\)?\s?|0)\d{2,4}[\s-]?\d{3,4}[\s-]?\d{3,4}(?![\d/])"),  # UK phone
    re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b"),  # email
    re.compile(r"\b(?:https?://|www\.)[^\s,;]*[^\s,;.)]"),  # web address
    re.compile(r"\b\d+[A-Za-z]?,?\s+(?:[A-Z][a-z]+\s+){1,3}(?:Street|Road|Lane|Avenue|Way|Close|Place|Square|Drive|"
               r"Crescent|Terrace|Gardens|Hill|Parade|Row|Walk)\b(?:,\s*[A-Z][a-z]+(?:\s+[A-Z][a-z]+)*)*"
               r"(?:,?\s*[A-Z]{1,2}\d[A-Z\d]?\s?\d[A-Z]{2})?"),  # street address, town, postcode
    re.compile(r"\b[A-Z]{1,2}\d[A-Z\d]?\s\d[A-Z]{2}\b"),  # postcode alone
)
NAME_WORD = r"[A-Z][a-z]+(?:-[A-Z][a-z]+)?"
# capitalised words that open or title a phrase but are not part of a person's name (titles, headings,
# sentence openers); whether a name is a person's is also told by spaCy's entities (qa.reader.narrow)
NOT_NAMES = set("""Her His Majesty Majesty’s Majesty's Inspector Inspectors Children Children’s Children's Services
Service Council Director Department Education Lead Strategic The This That These Young People Family Court
Advisory Support Local Authority Government National Chief Executive Officer Senior Social Workers Work Case
Health Public Law Home Office Team Board Plan Plans Dear Yours Mr Mrs Ms Dr It In On At For From With When
While Since Despite During However Most Some Many All Inspection Monitoring Focused Visit Findings Overview Main
Headline What Who How Where Why Which Overall Good Outstanding Inadequate Requires School Independent
Reviewing Officers Partner Agencies""".split())
PERSON = re.compile(rf"\b{NAME_WORD}(?:\s+{NAME_WORD}){{1,2}}(?:\s+HMI)?\b")
CONNECTOR = r"(?:and|of|for|on|in|the|&)"
PROPER = re.compile(rf"\b(?!{MONTH}\b)(?:[A-Z][\w’'-]*)(?:\s+(?:{CONNECTOR}\s+)*(?!{MONTH}\b)[A-Z][\w’'-]*)+"
                    r"(?:\s+\([A-Z][A-Za-z]+\))?")
ACRONYM = re.compile(r"\b[A-Z]{3,}s?\b")
QUOTED = re.compile(r"[‘'“\"]([^’'”\"]{2,60})[’'”\"]")
# reported speech: 'Children told inspectors that they valued their carers'
REPORTED = re.compile(r"\b(?:said|says|told|tells|stated|states|commented|reported)\b(?:\s+[\w’'-]+){0,3}?\s+that\s+(.+?)[.!]?$")
PARENTHETICAL = re.compile(r"\(([A-Z][^()]{1,60})\)")
# words that end a noun phrase when walking out from its head noun
BOUNDARY = set("""is are was were be been being has have had do does did will would can could should may might
must shall to of in into on at by for from with within without about against between through during before
after over under since until as than that which who whom whose where when while because although though
if unless so but or nor not also including include includes included such using use used uses provide
provides provided providing help helps helped leads lead leading led offers offer offered enable enables
ensure ensures ensuring support supports supported receive receives received benefit benefits benefited
there their they them it its this these those he she his her we our you your achieving achieved
entered enter established establish identified identify found find said says""".split())
TOKEN = re.compile(r"‘[^’]{1,60}’|'[^']{1,60}'(?=\s)|“[^”]{1,60}”|\([^()]{1,60}\)|[\w’'-]+|[^\s\w]")
OPENING_QUOTE = {"”": "“", '"': '"', "’": "‘"}
SPEECH_INTRO = re.compile(r":\s*[“\"]?$")  # a clause that only introduces the quotation after it
CLAUSE_BREAK = re.compile(r";\s+|:\s*[“\"]|,\s+(?=(?:and|but|although|though|however|so|while|which|as a result)\b)")


@dataclass(frozen=True)
class Candidate:
    start: int
    end: int
    type: str  # date, duration, money, contact, person, org, quantity, phrase, quoted, clause, sentence, list


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start] in " ,;:":
        start += 1
    while end > start and text[end - 1] in " ,;:.":
        end -= 1
    return start, end


def dates(text: str) -> Iterator[Candidate]:
    taken: list[tuple[int, int]] = []
    for pattern in DATE_PATTERNS:
        for match in pattern.finditer(text):
            if any(a <= match.start() and match.end() <= b for a, b in taken):
                continue
            taken.append((match.start(), match.end()))
            yield Candidate(match.start(), match.end(), "date")


MONTH_NUMBER = {name: number for number, name in enumerate(MONTH[3:-1].split("|"), start=1)}


def date_month(text: str) -> str | None:
    """'14 and 15 November 2017' -> '2017-11'; a bare year -> 'YYYY-12' (its last month): the latest month
    the date can mean."""
    year = re.search(r"\b(?:19|20)\d{2}\b", text)
    if not year:
        return None
    month = re.findall(MONTH, text)
    return f"{year.group(0)}-{MONTH_NUMBER[month[-1]] if month else 12:02d}"






def quantities(text: str) -> Iterator[Candidate]:
    for pattern in QUANTITY_PATTERNS:
        for match in pattern.finditer(text):
            start, end = _trim(text, match.start(), match.end())
            if end > start and not re.fullmatch(r"(?:19|20)\d\d", text[start:end]):
                yield Candidate(start, end, "quantity")


def frequencies(text: str) -> Iterator[Candidate]:
    """'regularly', 'every six weeks', 'twice a year': how often something happens."""
    for match in FREQUENCY.finditer(text):
        yield Candidate(match.start(), match.end(), "frequency")


def durations(text: str) -> Iterator[Candidate]:
    """'for several years', 'within 24 hours', 'a long time': how long something takes or lasts."""
    for match in DURATION.finditer(text):
        yield Candidate(match.start(), match.end(), "duration")
        bare = re.match(r"(?:within|for|over|after|up to|at least|more than|less than|nearly|almost|around|about)\s+",
                        match.group(0), re.I)
        if bare:
            yield Candidate(match.start() + bare.end(), match.end(), "duration")


def money(text: str) -> Iterator[Candidate]:
    for match in MONEY.finditer(text):
        yield Candidate(match.start(), match.end(), "money")


def contacts(text: str) -> Iterator[Candidate]:
    """Phone numbers, email and web addresses, street addresses and postcodes."""
    taken: list[tuple[int, int]] = []
    for pattern in CONTACT_PATTERNS:
        for match in pattern.finditer(text):
            start, end = _trim(text, match.start(), match.end())
            if any(a <= start and end <= b for a, b in taken):
                continue
            taken.append((start, end))
            yield Candidate(start, end, "contact")


def persons(text: str) -> Iterator[Candidate]:
    names = []
    for match in PERSON.finditer(text):
        parts = match.group(0).replace(" HMI", "").split()
        if any(p in NOT_NAMES for p in parts):
            continue
        names.append((match.start(), match.end()))
        yield Candidate(match.start(), match.end(), "person")
    for (a, b), (c, d) in zip(names, names[1:]):
        if re.fullmatch(r",?\s+and\s+", text[b:c]):
            yield Candidate(a, d, "person")  # 'Tara Geere and Christine Kennet'


def organisations(text: str) -> Iterator[Candidate]:
    for match in PROPER.finditer(text):
        start, end = match.start(), match.end()
        if text[start:end].split()[0] in ("The", "A", "An", "This", "These", "In", "When"):
            start = text.index(" ", start) + 1
        if len(text[start:end].split()) >= 2 or ACRONYM.fullmatch(text[start:end]):
            yield Candidate(start, end, "org")
    for match in ACRONYM.finditer(text):
        if not _abbreviates_preceding(text, match.start(), match.group(0)):
            yield Candidate(match.start(), match.end(), "org")
    for match in PARENTHETICAL.finditer(text):
        if not _abbreviates_preceding(text, match.start(1), match.group(1)):
            yield Candidate(match.start(1), match.end(1), "org")


def _abbreviates_preceding(text: str, at: int, acronym: str) -> bool:
    """'chief executive officer (CEO)': the acronym only repeats the words before it, so it names nothing new."""
    letters = acronym.rstrip("s")
    if not letters.isupper() or not 2 <= len(letters) <= 8:
        return False
    before = re.findall(r"[A-Za-z][\w’'-]*", text[max(0, at - 120):at])
    initials = "".join(w[0].upper() for w in before if w.lower() not in ("and", "of", "the", "for", "in", "on"))
    return initials.endswith(letters)


def quoted(text: str) -> Iterator[Candidate]:
    for match in QUOTED.finditer(text):
        yield Candidate(match.start(1), match.end(1), "quoted")
        yield Candidate(match.start(), match.end(), "quoted")




def noun_phrases(text: str, heads: tuple[str, ...], stem) -> Iterator[Candidate]:
    """Phrases ending in (or naming) a head noun: 'a child exploitation and missing (CEAM) tool'."""
    if not heads:
        return
    spans = [(m.start(), m.end(), m.group(0)) for m in TOKEN.finditer(text)]
    head_stems = {stem(h) for h in heads}
    for i, (start, end, word) in enumerate(spans):
        if stem(word.lower()) not in head_stems:
            continue
        left = i
        while left > 0:
            prev = spans[left - 1][2]
            inside_name = prev[:1].isupper() and left - 1 > 0  # 'Support' in 'Advisory and Support Service'
            if (prev.lower() in BOUNDARY and not inside_name) or re.fullmatch(r"[^\w‘'“(]+", prev):
                break
            left -= 1
        right = i
        if right + 1 < len(spans) and spans[right + 1][2].startswith("("):
            right += 1
        if right + 2 < len(spans) and spans[right + 1][2] == "of":
            j = right + 2  # 'the status of a borough of sanctuary'
            while (j < len(spans) and (spans[j][2] == "of" or spans[j][2].lower() not in BOUNDARY)
                   and re.match(r"[\w‘'“(]", spans[j][2])):
                j += 1
            yield Candidate(spans[left][0], spans[j - 1][1], "phrase")
        if left < i or right > i:
            yield Candidate(spans[left][0], spans[right][1], "phrase")
        if left < i and spans[left][2].lower() in ("the", "a", "an"):
            yield Candidate(spans[left + 1][0], spans[right][1], "phrase")
        if right + 1 < len(spans) and spans[right + 1][2].lower() in ("that", "which", "who"):
            match = re.compile(r"[^,;.]+").match(text, spans[right + 1][0])  # '... service that assesses ...'
            if match:
                yield Candidate(spans[left][0], match.end(), "phrase")


def _same_word(stem, word: str, stems: set[str]) -> bool:
    """'overseen' ~ 'oversees': stems agree, or share a five-letter start (irregular forms)."""
    stemmed = stem(word.lower())
    return stemmed in stems or (len(stemmed) >= 5 and any(s[:5] == stemmed[:5] for s in stems if len(s) >= 5))


PRONOUN_SUBJECT = re.compile(r"^(?:this|that|these|those|it|they|there|he|she|we|you|i|which|who)\b", re.I)


def role_phrases(text: str, verbs: set[str], stem) -> Iterator[Candidate]:
    """Who-answers that are not names: the subject before the question's verb, or the agent after 'by'."""
    spans = [(m.start(), m.end(), m.group(0)) for m in TOKEN.finditer(text)]
    for i, (start, end, word) in enumerate(spans):
        if not _same_word(stem, word, verbs):
            continue
        # subject: from the sentence start (or the last comma) up to the verb, auxiliaries and adverbs dropped
        j = i
        while j > 0 and (spans[j - 1][2].lower() in ("is", "are", "was", "were", "has", "have", "been", "being")
                         or spans[j - 1][2].lower().endswith("ly")):
            j -= 1
        first = 0
        for k in range(j - 1, -1, -1):
            if spans[k][2] in (",", ";", ":"):
                first = k + 1
                break
        # not a participle clause before an infinitive ('..., enabling children to make progress')
        clause = spans[first][2].islower() and spans[first][2].endswith("ing") or spans[j - 1][2] == "to"
        if 0 < j - first <= 8 and not clause and not PRONOUN_SUBJECT.match(spans[first][2]) \
                and spans[first][2].lower() not in BOUNDARY | {"for"}:
            yield Candidate(spans[first][0], spans[j - 1][1], "phrase")
        if i + 2 < len(spans) and spans[i + 1][2] == "by":
            k = i + 2
            while k < len(spans) and spans[k][2].lower() not in BOUNDARY and re.match(r"[\w‘'“(]", spans[k][2]):
                k += 1
            if k > i + 2:
                yield Candidate(spans[i + 2][0], spans[k - 1][1], "agent")
    if verbs:
        # 'The virtual school is very well led by ...': a short subject before the first auxiliary
        found = subject(text)
        if found:
            yield Candidate(*found, "phrase")


def subject(text: str) -> tuple[int, int] | None:
    """A sentence's short subject before its first auxiliary ('The virtual school is ...'), not a pronoun."""
    match = re.match(r"^((?:[\w’'-]+\s+){0,5}?[\w’'-]+)\s+(?:is|are|was|were|has|have)\b", text)
    if match and not PRONOUN_SUBJECT.match(text):
        return 0, match.end(1)
    return None






def places(text: str) -> Iterator[Candidate]:
    for match in re.finditer(r"\b(?:at|in|within|through)\s+((?:[\w’'()-]+\s+){0,7}?[\w’'()-]+)"
                             r"(?=[,.;]|\s+(?:and|to|which|where)\b|$)", text):
        yield Candidate(match.start(), match.end(1), "place")
        yield Candidate(match.start(1), match.end(1), "place")


def clauses(text: str) -> Iterator[Candidate]:
    """The sentence and its clauses (split at ';' and at ', and/but/although...')."""
    yield Candidate(*_trim_sentence(text, 0, len(text)), "sentence")
    cuts = [0] + [m.end() for m in CLAUSE_BREAK.finditer(text)] + [len(text)]
    if len(cuts) > 2:
        for a, b in zip(cuts, cuts[1:]):
            start, end = _trim(text, a, b)
            if SPEECH_INTRO.search(text[start:end]):
                continue  # 'Chris Munday ... said: “': who speaks, not what was said
            if end > start and text[end - 1] in OPENING_QUOTE and OPENING_QUOTE[text[end - 1]] not in text[start:end - 1]:
                # the closing mark of a quotation whose opening mark went with the clause before
                start, end = _trim(text, start, end - 1)
            lead = re.match(r"(?:and|but|so|while|however,?)\s+", text[start:end], re.I)
            if lead:
                start += lead.end()
            if len(text[start:end].split()) >= 3:
                yield Candidate(start, end, "clause")
    lead = re.match(r"^(?:However|Therefore|As a result|In addition|Overall|Notably|Despite[^,]+|"
                    r"For (?:a |some )[^,]+),\s+", text)
    if lead:
        yield Candidate(*_trim_sentence(text, lead.end(), len(text)), "clause")


# a cause given inside a sentence: '... a strength due to effective working', '... rated inadequate after
# inspectors identified “a legacy ...”', '... has improved because managers ...'
CAUSE = re.compile(r"\b(?:because(?: of)?|due to|owing to|as a result of|thanks to|on account of|"
                   r"after (?:\w+ ){0,2}(?:identified|found|judged|concluded))\s+", re.I)
# a sentence about the report itself, not about the services it reports on: 'This letter summarises the
# findings of ...', 'It tells you the main things that inspectors found.', 'I am copying this letter to ...'
SELF_REFERENCE = re.compile(r"\bthis (?:letter|report|article)\b|\bthe findings (?:from|of) this\b", re.I)
# verbs that report what someone said or thinks: 'Staff talk positively about ...', 'Children told inspectors
# that they valued their carers' ('What do children say about ...?' wants such a sentence, not a finding)
REPORTING = re.compile(r"\b(?:say|says|said|tell|tells|told|talk|talks|talked|speak|speaks|spoke|describe[sd]?|"
                       r"report(?:s|ed)?|comment(?:s|ed)?|explain(?:s|ed)?|express(?:es|ed)?|value[sd]?|feel|feels|felt|"
                       r"state[sd]?|believe[sd]?|think|thinks|thought|agree[sd]?|confirm(?:s|ed)?|praise[sd]?|"
                       r"complain(?:s|ed)?|want(?:s|ed)?|appreciate[sd]?|enjoy(?:s|ed)?)\b", re.I)


# a sentence that names again what the one before named: 'Practice for these children has improved ...'
# (not 'They ...' or 'It ...', which may stand for any of the sentence before's nouns)
ANAPHOR = re.compile(r"\b(?:[Tt]hese|[Tt]hose|[Ss]uch)\s+[a-z][\w-]*")




def _trim_sentence(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end
