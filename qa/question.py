"""What a question asks for: its answer type, the judgement area it names, its head noun and content words."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Literal

from qa.authority import Named

if TYPE_CHECKING:
    from qa.across import Asked
    from qa.types import Aliases
from qa.retrieve import retrieval_query
from qa.text import STOPWORDS, tokens, words

AnswerType = Literal["grade", "history", "expansion", "date", "duration", "money", "contact", "identity", "person",
                     "named", "quantity", "frequency", "list", "yesno", "reason", "place", "quote", "description"]

GRADE_Q = re.compile(r"\b(rated|rate|rating|grades?|graded|judged|judgements?|judgments?|"
                     r"overall effectiveness)\b", re.I)
HISTORY_Q = re.compile(r"\b(changed?|over time|history|trend|improved since|progress(?:ed)? since|"
                       r"since\s+(?:19|20)\d\d|between\s+(?:19|20)\d\d)\b", re.I)
# 'What does IRO stand for?', 'What is MASH short for?', 'What is the full form of LADO?'
EXPANSION_Q = re.compile(r"^\s*what (?:does|do|did) (?:the )?(?:abbreviation |acronym )?"
                         r"[‘'\"“]?(?P<a>[A-Za-z][\w-]{1,15})[’'\"”]?"
                         r" (?:stand for|mean)\b|^\s*what (?:is|are) (?:the )?"
                         r"[‘'\"“]?(?P<b>[A-Za-z][\w-]{1,15})[’'\"”]? short for\b|"
                         r"^\s*what is the (?:full form|long form|expansion) of (?:the )?(?:abbreviation |acronym )?"
                         r"[‘'\"“]?(?P<c>[A-Za-z][\w-]{1,15})|"
                         # 'What is a PA?', 'What are IROs?': the question is the abbreviation alone, in capitals
                         r"^\s*what\s+(?:is|are|was|were)\s+(?:an?\s+|the\s+)?(?-i:(?P<d>[A-Z][A-Z0-9]{1,9}s?))\s*\??\s*$", re.I)


def abbreviation_asked(text: str) -> str | None:
    """The abbreviation a question asks the long form of, as written: 'What does IRO stand for?' -> 'IRO'."""
    match = EXPANSION_Q.search(text)
    return next((g for g in match.groups() if g), None) if match else None


DATE_Q = re.compile(r"(^\s*when\b|\bwhen (?:was|were|did|had|has|is|does|do)\b|^\s*what (?:date|day|month|year)s?\b|"
                    r"(?:in )?which (?:month|year|date)s?\b|"
                    r"on what dates?\b|how long ago\b|^\s*(?:what (?:is|was|are|were) )?the dates? (?:of|for)\b|"
                    r"^\s*dates? (?:of|for)\b)", re.I)
DURATION_Q = re.compile(r"^\s*(?:for\s+)?how long\b(?!\s+ago)|\bfor how long\b|\bhow many (?:hours|days|weeks|months|years)\b",
                        re.I)
MONEY_Q = re.compile(r"\bhow much\b(?:(?!\?).)*\b(?:money|spen[dt]|invest(?:ed|ment)?|costs?|pa(?:y|id)|budget(?:ed)?|"
                     r"fund(?:ed|ing)?|earns?|grants?)\b|\bhow much money\b|"
                     r"^\s*what (?:is|was|are|were)\s+(?:the\s+|its\s+|their\s+|\w+['’]s\s+)?(?:\w+\s+){0,2}?"
                     r"(?:budget|salary|salaries|wages?|cost|price|fees?|spend|spending)\b", re.I)
CONTACT_Q = re.compile(r"\b(?:(?:tele)?phone|fax|helpline|contact)\s+(?:number|details)\b|\be-?mail address\b|"
                       r"\b(?:street|postal|home|office|web(?:site)?|email)\s+address\b|\bpostcode\b|\bwebsite\b|"
                       r"^\s*what (?:is|was) the address\b|\baddress of\b|"
                       r"\bhow (?:do|can|should|could) (?:i|you|we|people|families|parents) (?:contact|reach|call|phone|email)\b",
                       re.I)
PERSON_Q = re.compile(r"^\s*(who|whom|to whom|by whom)\b", re.I)
# 'Who is the lead inspector?', 'Who were the inspectors?': who holds a role, so a name answers it, not another
# role ('Who leads the programme?' and 'Who is responsible for ...?' may be answered by a role)
IDENTITY_Q = re.compile(r"^\s*who (?:is|was|are|were) (?:the|a|an|its|their|his|her|\w+['’]s)\s+(?!(?:one|ones)\b)"
                        r"(?P<role>(?:[\w'’-]+\s+){0,5}?[\w'’-]+)\s*(?=\b(?:for|of|in|on|at|to|with|that|who|which|from|"
                        r"during|since|when)\b|[?,.]|$)", re.I)
# 'What is the name of Barnet's director of public health?' asks who holds a role, as 'Who is ...?' does, when
# the thing named is a person (the name of a tool or a team is asked by the same words)
NAME_OF_Q = re.compile(r"^\s*what (?:is|was|are|were) the names? of (?:the|a|an|its|their|his|her|\w+['’]s)\s+"
                       r"(?P<role>(?:[\w'’-]+\s+){0,5}?[\w'’-]+)\s*(?=\b(?:for|of|in|on|at|to|with|that|who|which|from|"
                       r"during|since|when)\b|[?,.]|$)", re.I)
PERSON_NOUNS = frozenset("""
director directors executive executives officer officers inspector inspectors leader leaders member members chair
chairs chairman chairwoman chairperson manager managers head heads minister ministers mayor mayors commissioner
commissioners adviser advisers advisor advisors worker workers councillor councillors secretary president chief
person people author authors headteacher headteachers principal nurse nurses doctor doctors lead leads holder""".split())
ROLE_COMPLEMENT = re.compile(r"\s*\b(?:of|for)\s+((?:[\w'’-]+\s+){0,5}?[\w'’-]+)\s*(?=\b(?:in|at|on|during|from|since|"
                             r"when|who|which|that)\b|[?,.]|$)", re.I)
# a role an organisation holds ('Who is the regional adoption agency?') is answered by its name, not a person's
ORGANISATION_NOUNS = frozenset("""
agency agencies partner partners partnership partnerships inspectorate provider providers service services
organisation organisations organization organizations council councils team teams body bodies board boards
charity charities company companies supplier suppliers authority authorities school schools department
departments panel panels hub hubs court courts trust trusts regulator regulators""".split())


# 'Who wrote/signed the report?': its author, a person, not whatever 'is written' in it
AUTHOR_Q = re.compile(r"^\s*who (?:wrote|signed|authored|has written|has signed|was the author of)\b", re.I)


def asks_who_holds_a_role(text: str) -> bool:
    """'Who is the lead member for children's services?', 'Who wrote the report?': a person's name answers it."""
    return bool(role_held(text)) or bool(AUTHOR_Q.search(text))






def role_held(text: str) -> tuple[str, ...]:
    """The role a who-question asks the holder of, as stemmed words, what it is of or for included: 'Who is the
    director of public health?' -> ('director', 'public', 'health'); 'Who was the lead inspector for the 2024
    inspection?' -> ('lead', 'inspector'). Empty when it asks about no role, or an organisation's."""
    match = IDENTITY_Q.search(text)
    if match is None:
        match = NAME_OF_Q.search(text)
        if match and words(match.group("role"))[-1] not in PERSON_NOUNS:
            return ()
    role = words(match.group("role")) if match else []
    if not role or role[-1] in ORGANISATION_NOUNS:
        return ()
    complement = ROLE_COMPLEMENT.match(text, match.end("role"))  # 'for the 2024 inspection' only says when
    of = [t for t in tokens(complement.group(1)) if t not in DOCUMENT_WORDS and not t.isdigit()] if complement else []
    return tuple(dict.fromkeys(tokens(match.group("role")) + of))


QUANTITY_Q = re.compile(r"\b(how many|how much|what proportion|what percentage|what share|what number|average)\b",
                        re.I)
# 'How often do social workers see children?' is answered by 'regularly' or 'every six weeks', not by 'Most'
FREQUENCY_Q = re.compile(r"^\s*how (?:often|frequently|regularly)\b", re.I)  # not 'How was it decided how often ...?'
NAMED_Q = re.compile(r"\b(name of|called|what is the name|which (?!month|year|date)\w+|what (?:kind|type|sort) of|"
                     r"what (?:tool|survey|board|status|service|team|agency|framework|system|programme|council|"
                     r"partnership|accreditation|organisation)\b)", re.I)
LIST_Q = re.compile(r"\b(needs? to improve|areas? (?:for|of) improvement|recommend(?:ed|s|ations?)?|"
                    r"what (?:failings|weaknesses|shortcomings|problems|concerns|weak (?:spots|points)) did|"
                    r"what (?:were|are|was|is) (?:the )?(?:main |key )?(?:failings|weaknesses|shortcomings|"
                    r"weak (?:spots|points|areas)|problems)|"
                    r"what (?:should|must) (?:the )?\w+ (?:do|improve))\b", re.I)
# 'When children go missing, are they asked why?': a leading clause sets the scene; the question is what follows
LEAD_CLAUSE = re.compile(r"^\s*(?:when|whenever|where|if|once|after|before|while|unless)\s+"
                         r"(?!(?:was|were|did|had|has|is|are|does|do|will|would|can|could|should)\b)[^,?]{3,150},\s*"
                         r"(?=(?:is|are|was|were|do|does|did|can|could|has|have|had|will|would|should|what|how|who|"
                         r"which|why|when|where)\b)", re.I)
YESNO_Q = re.compile(r"^\s*(is|are|was|were|do|does|did|can|could|has|have|had|will|should)\b", re.I)
REASON_Q = re.compile(r"^\s*why\b", re.I)
# 'What did <source> say/find/think (about) ...?'. Said by someone, it asks for their words (a quotation);
# said by the inspectors or the report itself, it asks for a finding, described in a sentence. Either way
# the verb followed by 'about' only frames the question: 'What did inspectors find about X?' asks about X.
REPORTED = re.compile(r"^\s*what (?:did|does|do|has|have|had) (?P<source>(?:\w+ ){1,6}?)"
                      r"(?P<verb>say|tell|state|comment|write|find|report|note|think|conclude|observe|see)\b"
                      r"(?P<about>\s+(?:about|of|on|regarding|in relation to)\b)?", re.I)
QUOTING_VERBS = frozenset("say tell state comment write".split())
INSPECTION_SOURCE = re.compile(r"(?:the |this |that |their |its )?(?:\d{4} )?(?:[\w-]+ )?"
                               r"(?:inspectors?|inspection|ofsted|hmi|report|letter|visit|article|they|it)\b", re.I)
QUOTED_AS = re.compile(r"^\s*what (?:was|is) (?:\w+ ){1,6}?quoted as saying\b", re.I)


def quote_source(text: str) -> tuple[str, ...]:
    """Who a quotation question asks about, stemmed: 'What do children say about ...?' -> ('children',)."""
    reported = REPORTED.search(text)
    return tuple(t for t in tokens(reported.group("source")) if t not in DOCUMENT_WORDS) if reported else ()




def asks_for_quotation(text: str) -> bool:
    """'What did Chris Munday say about the findings?', not 'What did the 2019 letter say about ...?'."""
    reported = REPORTED.search(text)
    if reported and reported.group("verb").lower() in QUOTING_VERBS:
        return not INSPECTION_SOURCE.match(reported.group("source"))
    return bool(QUOTED_AS.search(text))


# 'When is the next inspection due?', 'When will the council open ...?': only a date after the report can answer
FUTURE_Q = re.compile(r"\b(?:next|upcoming|forthcoming|will|shall|going to|planned for|scheduled|due(?!\s+to\b))\b", re.I)
# 'the council', 'the local authority': the council whose report it is, named another way (not 'council tax')
AUTHORITY_REFERENCE = re.compile(r"\b(?:the|its|their)\s+(?:local\s+)?(?:council|authority)(?:'s|’s)?\b"
                                 r"(?![\s-]+(?:tax|housing|house|houses|home|homes|flat|flats)\b)", re.I)
PLACE_Q = re.compile(r"^\s*where\b", re.I)

AREAS = (  # whole words only: 'leaders' must not take the start of 'leadership' and leave 'hip'
    ("children in care and care leavers", re.compile(r"\bchildren in care and care leavers\b", re.I)),
    ("care leavers", re.compile(r"\b(?:care leavers?|leaving care|leave care)\b", re.I)),
    ("children in care", re.compile(r"\b(?:children in care|looked[- ]after|in care|children's care|care services)\b", re.I)),
    ("help and protection", re.compile(r"\b(?:help and protection|need help|protection|safeguarding)\b", re.I)),
    ("impact of leaders", re.compile(r"\b(?:leadership|leaders?|management|managers?)\b", re.I)),
    ("overall effectiveness", re.compile(r"\b(?:overall|effectiveness|children.s services|services as a whole)\b", re.I)),
)
# words that say nothing about *what* is graded: a grade question with other topic words names an area
# the reports do not grade (adoption, schools...)
GRADE_GENERIC = set(tokens(
    "grade grades graded rated rating rate judged judgement judgment get got give given gave receive received "
    "ofsted inspection inspections inspectors inspector local authority council children "
    "services service overall effectiveness latest current recent now year last previous first time changed "
    "change over since between history progress improved how what which was were is are the did do does "
    "has have had its their changed grade for of in on to and by with effectiveness judgement judgment "
    "experiences experience work practice social families impact area areas"))
# the grades themselves: 'Was Barnet rated good?' says which grade, not what is graded
GRADE_NAMES = frozenset(tokens("outstanding good requires improvement inadequate"))


@dataclass(frozen=True)
class Question:
    text: str
    type: AnswerType
    content: tuple[str, ...]  # stemmed content words, years removed
    head: tuple[str, ...]  # nouns the answer phrase should end in ('team', 'tool'), for named questions
    verbs: tuple[str, ...]  # for who-questions, the verb after 'who' (stemmed): 'who leads' -> ('lead',)
    words: frozenset[str]  # every stemmed content word of the question, years and report words included
    focus: tuple[str, ...]  # for quantity questions, what is counted: 'how many social workers' -> ('social', 'worker')
    area: str | None  # judgement area for grade questions
    area_extra: tuple[str, ...]  # grades and topics (nouns) a grade question names beyond any area: 'adoption'
    abbreviation: str | None = None  # 'What does IRO stand for?' -> 'IRO'
    role: tuple[str, ...] = ()  # who-holds-a-role questions: the role, stemmed ('lead', 'inspector')
    speakers: tuple[str, ...] = ()  # 'What do children say about ...?' -> ('children',)
    future: bool = False  # asks about what comes after the report ('When is the next inspection?')
    mentions_grade: bool = False  # names grading ('When was Barnet judged good?'), whatever its type
    council_reference: tuple[str, ...] = ()  # stems of 'the council', 'the local authority': whose report
    authorities: tuple[str, ...] = ()  # the councils it names that the corpus holds, canonical ('Barnet')
    missing_authorities: tuple[str, ...] = ()  # the councils it names that the corpus does not hold ('Leeds')
    across: "Asked | None" = None  # a question across councils' grades ('Which councils were rated inadequate?')


def answer_type(text: str, grade: bool = True) -> AnswerType:
    """What the question asks for; the first matching rule wins, in this order. `grade=False`: the question
    names a grade without asking for one ('What changed after the inadequate rating?'), as the fitted
    grade-asked model (qa.reader.asks) judges; it is typed by the rules after the grade rule."""
    text = LEAD_CLAUSE.sub("", text)
    if abbreviation_asked(text):
        return "expansion"
    if PERSON_Q.search(text) and not CONTACT_Q.search(text):
        # 'Who was director when they were rated inadequate?': a question that opens with 'who' asks for
        # someone, whatever dates or grades its other clauses name
        return "identity" if asks_who_holds_a_role(text) else "person"
    if DATE_Q.search(text):
        return "date"
    if REASON_Q.search(text):
        return "reason"  # 'Why was Barnet judged inadequate?' asks for the reasons, not the grade
    if grade and GRADE_Q.search(text) and not QUANTITY_Q.search(text):
        return "history" if HISTORY_Q.search(text) else "grade"
    for test, kind in TYPE_RULES:
        if test(text):
            return kind
    return "description"


TYPE_RULES: tuple[tuple[Callable[[str], object], AnswerType], ...] = (
    (CONTACT_Q.search, "contact"), (MONEY_Q.search, "money"), (DURATION_Q.search, "duration"),
    (FREQUENCY_Q.search, "frequency"), (QUANTITY_Q.search, "quantity"), (asks_who_holds_a_role, "identity"),
    (LIST_Q.search, "list"), (REASON_Q.search, "reason"), (asks_for_quotation, "quote"),
    (PLACE_Q.search, "place"), (NAMED_Q.search, "named"), (YESNO_Q.search, "yesno"),
)


def head_nouns(text: str, authorities: frozenset[str] = frozenset()) -> tuple[str, ...]:
    """'Which regional adoption agency ...' -> ('agency', 'adoption', 'regional'): the noun the answer names."""
    match = re.search(r"\b(?:what (?:kind|type|sort) of|which|what(?: is the name of(?: the)?)?)\s+((?:[\w'’-]+\s+){0,4}?)"
                      r"(?:is|are|was|were|do|does|did|has|have|had|can|could|hold|holds|in|of|for|to|works?|"
                      r"gives?|helps?|leads?|provides?|runs?|supports?|offers?|looks?)\b", text, re.I)
    if not match:
        return ()
    phrase = [w for w in words(match.group(1)) if w not in STOPWORDS and w not in ("name", "kind", "type")
              and not set(tokens(w)) & authorities]  # 'Which Barnet team ...': the council says whose, not what
    return tuple(reversed(phrase))


def grade_area(text: str, authorities: frozenset[str] = frozenset(), aliases: "Aliases | None" = None,
               every_word: bool = False) -> tuple[str | None, tuple[str, ...]]:
    """The judgement area a grade question names, and what else it names: the grades it names ('Which area
    was judged outstanding?' asks which area, not the overall grade) and its topics beyond any area, its
    nouns and names (qa.tagger.topic_stems) less the council's (`authorities`, as stems: whose grade, not
    what is graded) and words that say nothing about what is graded, as written or through an alias ('kids'
    for 'children'). Words that only phrase or date the question ('Im a care leaver and curious', 'back in
    summer 2017') name nothing. `every_word`: every content word beyond the area counts, as the readers of
    dates and of grades across councils want, where any other word means the question is for the passages
    ('Who was the lead inspector?' is not a question across councils' grades)."""
    from qa import tagger

    area = None
    remaining = text
    for name, pattern in AREAS:
        if pattern.search(remaining):
            area = name
            remaining = pattern.sub(" ", remaining)
            break
    topical = None if every_word else tagger.topic_stems(text)

    def says_nothing(stem: str) -> bool:
        return any(set(alias.split()) <= GRADE_GENERIC for alias, _ in (aliases or {}).get(stem, ()))

    extra = tuple(t for t in tokens(retrieval_query(remaining)) if t in GRADE_NAMES or (
        (topical is None or t in topical) and t not in GRADE_GENERIC and t not in authorities and not says_nothing(t)))
    if area is None and not extra:
        area = "overall effectiveness"
    return area, extra


# words that say which report is meant rather than what is asked ("according to the monitoring visit"); the
# inspectors are every report's source ('What did inspectors say about ...?')
DOCUMENT_WORDS = set(tokens("monitoring focused visit inspection inspections report letter news article according "
                            "ofsted inspectorate inspectors"))
DATE_WORDS = set(tokens("date dates day days month months year years time"))


def analyse(text: str, authorities: frozenset[str] = frozenset(), named: Named = Named(),
            asks_grade: bool = True, aliases: "Aliases | None" = None) -> Question:
    """Everything later stages read about a question, parsed once. `authorities`: the stems of the councils'
    names in the index (qa.index.Index.authority_words), which say whose report, not what is asked;
    `named`: the councils the question names (qa.authority.Registry.named_in); `asks_grade`: whether it
    asks for a grade, as the fitted model judges (qa.reader.asks), which a question that only names one
    ('after the inadequate rating') does not; `aliases`: corpus words standing for its words (qa.retrieve.Retriever.aliases)."""
    from qa.across import parse as across  # across.py reads grade areas with this module
    bare = retrieval_query(text).lstrip(" ,")
    kind = answer_type(bare)
    if kind in ("grade", "history") and not asks_grade:
        kind = answer_type(bare, grade=False)
    area, extra = grade_area(text, authorities, aliases) if kind in ("grade", "history") else (None, ())
    content = tokens(bare)
    if kind == "date":  # 'On what dates ...': the words that ask for a date are not what it is the date of
        content = [t for t in content if t not in DATE_WORDS] or content
    topical = [t for t in content if t not in DOCUMENT_WORDS]
    if len(topical) >= 2:
        content = topical
    frame = REPORTED.search(bare)
    if frame and frame.group("about"):
        verb = set(tokens(frame.group("verb")))
        content = [t for t in content if t not in verb] or content
    verb = re.search(r"\b(?:who|whom)\s+(?:(?:is|are|was|were|has|have|had|did|does|do)\s+)?(?:\w+ly\s+)?(\w+)", bare, re.I)
    verbs = tuple(tokens(verb.group(1))) if verb else ()
    counted = re.search(r"\b(?:how many|what (?:percentage|proportion|share|number) of|how much)\s+"
                        r"((?:[\w'’-]+\s+){0,3}?[\w'’-]+?)"
                        r"(?=\s+(?:is|are|was|were|do|does|did|has|have|had|in|with|who|that|went|go|live|get|receive|"
                        r"[a-z]+ed)\b|\s*\?|$)",
                        bare, re.I)
    focus = tuple(tokens(counted.group(1))) if counted and kind == "quantity" else ()
    return Question(text=text, type=kind, content=tuple(content), head=head_nouns(bare, authorities), verbs=verbs,
                    words=frozenset(tokens(text)), area=area, area_extra=extra, focus=focus,
                    abbreviation=abbreviation_asked(text) if kind == "expansion" else None,
                    role=role_held(text) if kind == "identity" else (),
                    speakers=quote_source(text) if kind == "quote" else (),
                    future=bool(FUTURE_Q.search(text)), mentions_grade=bool(GRADE_Q.search(text)),
                    council_reference=tuple(t for m in AUTHORITY_REFERENCE.finditer(text) for t in tokens(m.group(0))),
                    authorities=named.held, missing_authorities=named.missing,
                    across=across(text) if len(named.held) != 1 else None)
