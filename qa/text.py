"""Word-level text helpers shared by the lexical index and the answer scorer."""
from __future__ import annotations

import re
from functools import lru_cache

import Stemmer

WORD = re.compile(r"[A-Za-z0-9]+(?:['’][a-z]+)?")
# 'no', 'not' and 'same' are kept: 'supervision was not found to be reflective' answers 'was supervision
# reflective?' only because of its 'not', and 'the same social worker' is about sameness
STOPWORDS = frozenset("""
a about above after again against all am an and any are as at be because been before being below between
both but by can could did do does doing down during each few for from further had has have having he her here
hers herself him himself his how i if in into is it its itself just me more most my myself nor now of
off on once only or other our ours ourselves out over own she should so some such than that the their
theirs them themselves then there these they this those through to too under until up very was we were what
when where which while who whom why will with would you your yours yourself yourselves s t don
""".split())


# irregular verb forms the stemmer leaves alone, mapped to their base form ('led' -> 'lead'), so
# 'who led the inspection?' meets 'Lead inspector' and 'what did they find?' meets 'inspectors found'
IRREGULAR = {form: base for base, forms in (
    ("lead", "led"), ("write", "wrote written"), ("hold", "held"), ("keep", "kept"), ("go", "went gone"),
    ("find", "found"), ("meet", "met"), ("make", "made"), ("give", "gave given"), ("take", "took taken"),
    ("see", "saw seen"), ("tell", "told"), ("say", "said"), ("bring", "brought"), ("think", "thought"),
    ("begin", "began begun"), ("choose", "chose chosen"), ("pay", "paid"), ("seek", "sought"),
    ("teach", "taught"), ("feel", "felt"), ("build", "built"), ("spend", "spent"), ("send", "sent"),
    ("understand", "understood"), ("grow", "grew grown"), ("know", "knew known"), ("run", "ran"),
    ("become", "became"), ("come", "came"), ("buy", "bought"), ("lose", "lost"), ("win", "won"),
    ("speak", "spoke spoken"), ("get", "got gotten"), ("fall", "fell fallen"), ("rise", "rose risen"),
    ("break", "broke broken"), ("draw", "drew drawn"), ("show", "shown"), ("sit", "sat"), ("stand", "stood"),
) for form in forms.split()}


@lru_cache(maxsize=1)
def _stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer("english")


STOPWORD_STEMS = frozenset(_stemmer().stemWords(sorted(STOPWORDS)))


def words(text: str) -> list[str]:
    """Lower-cased words, possessives folded: "children's" -> "children"."""
    return [re.sub(r"['’][a-z]+$", "", w.lower()) for w in WORD.findall(text)]


def tokens(text: str) -> list[str]:
    """Stemmed content words: what BM25 and lexical overlap compare."""
    return _stemmer().stemWords([IRREGULAR.get(w, w) for w in words(text) if w not in STOPWORDS])


def stems(text: str) -> list[str]:
    """Every word stemmed, stopwords included, one per `words(text)`: for matching phrases word by word."""
    return _stemmer().stemWords([IRREGULAR.get(w, w) for w in words(text)])


def stemmed_words(text: str) -> list[tuple[str, str]]:
    """(stem, word) for each content word: the stems BM25 compares with the words they came from."""
    kept = [w for w in words(text) if w not in STOPWORDS]
    return list(zip(_stemmer().stemWords([IRREGULAR.get(w, w) for w in kept]), kept))
