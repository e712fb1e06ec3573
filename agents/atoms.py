"""The checkable parts of a text: sentences, and the numbers, dates, quantities, names and
quoted phrases in them, each in a normal form so that two spellings of one fact compare
equal ("2,500,000" and "2.5 million"; "July 20, 1969" and "20 July 1969").

Small language models rarely invent whole sentences; they swap one fact for a near one: a
splashdown date for a landing date, a day added to a year. These atoms are what
:mod:`ponder.agents.claims` looks for in the cited evidence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "Atom",
    "AtomKind",
    "DateValue",
    "atoms_of",
    "content_words",
    "dates_in",
    "normalize_phrase",
    "numbers_in",
    "paragraph_sentences",
    "quantities_in",
    "split_sentences",
    "words_in",
]

AtomKind = Literal["number", "date", "quantity", "name", "quote"]

_MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ),
        start=1,
    )
    for name in names
}
_MONTH = r"(January|February|March|April|May|June|July|August|September|October|November|December|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept?|Oct|Nov|Dec)\.?"  # noqa: E501
_DAY = r"(\d{1,2})(?:st|nd|rd|th)?"
_YEAR = r"(\d{3,4})(?!\d)"
_DATE_PATTERNS = (
    (re.compile(rf"\b{_DAY}\s+(?:of\s+)?{_MONTH},?\s+{_YEAR}"), ("d", "m", "y")),
    (re.compile(rf"\b{_MONTH}\s+{_DAY},?\s+{_YEAR}"), ("m", "d", "y")),
    (re.compile(rf"\b{_DAY}\s+(?:of\s+)?{_MONTH}\b"), ("d", "m")),
    (re.compile(rf"\b{_MONTH}\s+{_DAY}\b(?!\d)"), ("m", "d")),
    (re.compile(rf"\b{_MONTH}\s+(?:of\s+)?{_YEAR}"), ("m", "y")),
)
_NUMBER = re.compile(
    r"(?<![\w.])(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?(s\b|st\b|nd\b|rd\b|th\b)?"
    r"(?:\s+(thousand|million|billion|trillion)\b)?"
)
_NUMBER_WORDS = {
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fifteen": 15,
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "hundred": 100,
}
_NUMBER_WORD = re.compile(r"\b(" + "|".join(_NUMBER_WORDS) + r")\b", re.IGNORECASE)
_SCALES = {"thousand": 1e3, "million": 1e6, "billion": 1e9, "trillion": 1e12}
_UNITS = {
    "metre": "m",
    "metres": "m",
    "meter": "m",
    "meters": "m",
    "m": "m",
    "kilometre": "km",
    "kilometres": "km",
    "kilometer": "km",
    "kilometers": "km",
    "km": "km",
    "centimetre": "cm",
    "centimetres": "cm",
    "cm": "cm",
    "kilogram": "kg",
    "kilograms": "kg",
    "kg": "kg",
    "gram": "g",
    "grams": "g",
    "tonne": "t",
    "tonnes": "t",
    "tons": "t",
    "litre": "l",
    "litres": "l",
    "liters": "l",
    "millilitres": "ml",
    "milligrams": "mg",
    "percent": "%",
    "per cent": "%",
    "%": "%",
    "°c": "°c",
    "degrees": "°c",
    "feet": "ft",
    "foot": "ft",
    "miles": "mi",
    "hours": "h",
    "hour": "h",
    "minutes": "min",
    "minute": "min",
    "seconds": "s",
    "days": "d",
    "day": "d",
    "weeks": "wk",
    "years": "yr",
    "year": "yr",
    "microseconds": "us",
    "light-years": "ly",
    "species": "species",
}
_UNIT_AFTER = re.compile(
    r"\s*(?:square\s+|cubic\s+)?(" + "|".join(sorted(map(re.escape, _UNITS), key=len)[::-1]) + r")"
    r"(?![\w-])",
    re.IGNORECASE,
)
_NAME = re.compile(r"\b[A-ZÀ-ÖØ-Þ][^\W\d_]*(?:[-'’][^\W_]+)*")
"""A capitalised word with its hyphenated parts, digits included ("Cygnus X-1", "B-52"),
read as one word, as :data:`_WORD` reads it in the source."""
_QUOTE = re.compile(r"[\"“”]([^\"“”]{4,200})[\"“”]")
_WORD = re.compile(r"[^\W_]+(?:[-'’][^\W_]+)*")
_NOT_NAMES = frozenset(
    """a an and as at but by for from he her his i if in it its no not of on or she so that
    the their then there these they this those to we what when where which who whom whose
    why how yes you your after also although because before both during each however many
    most one only over since some such though through under until while with yet about
    according answer answers around between today there's it's that's here sources source
    note sorry unfortunately overall finally first second third sure solve tell name list
    explain describe give show find compute calculate please define compare summarise
    summarize can could would should is are was were do does did""".split()  # noqa: SIM905
)
_STOPWORDS = _NOT_NAMES | frozenset(
    """is are was were be been being has have had do does did will would can could may
    might must shall should into onto than too very just more less much other another
    any all them him me my our us were also well made make known called""".split()  # noqa: SIM905
)
_ABBREVIATIONS = re.compile(
    r"(?:\b(?:No|Op|Dr|Mr|Mrs|Ms|St|Mt|vs|c|ca|approx|e\.g|i\.e)|\b[A-Z])\.$"
)


@dataclass(frozen=True, order=True)
class DateValue:
    """A calendar date, any part of which may be unknown (``None``)."""

    year: int | None
    month: int | None
    day: int | None

    def within(self, other: DateValue) -> bool:
        """Whether every part this date states is stated equally by ``other``."""
        pairs = ((self.year, other.year), (self.month, other.month), (self.day, other.day))
        return all(mine is None or mine == theirs for mine, theirs in pairs)


@dataclass(frozen=True)
class Atom:
    """One checkable fact-bearing span of a claim."""

    kind: AtomKind
    """What it is."""
    text: str
    """As the claim wrote it."""
    value: str | DateValue
    """Its normal form: a canonical number, ``number unit``, a date, a lower-cased name
    or a normalised phrase."""


def split_sentences(text: str) -> list[str]:
    """Sentences of ``text``, in order; a citation marker that opens a sentence (``[1]``
    after a full stop) stays with the sentence it follows."""
    pieces = re.split(r"(?<=[.!?])[\"”)]?\s+", text.strip())
    sentences: list[str] = []
    for piece in pieces:
        piece = piece.strip()
        if not piece:
            continue
        marker = re.match(r"^((?:\[\d{1,2}\]\s*)+)(.*)$", piece, re.DOTALL)
        if marker and sentences:
            sentences[-1] += " " + marker.group(1).strip()
            piece = marker.group(2).strip()
            if not piece:
                continue
        if sentences and _ABBREVIATIONS.search(sentences[-1]):
            sentences[-1] += " " + piece  # "St. Mary's", "No. 9", "John F. Kennedy"
        else:
            sentences.append(piece)
    return sentences


def paragraph_sentences(text: str) -> list[list[str]]:
    """The sentences of each paragraph (blank-line separated) of ``text``; a markdown
    heading is its own paragraph."""
    paragraphs = [p for p in re.split(r"\n\s*\n|\n(?=#)|(?<=\n)#[^\n]*\n", text) if p.strip()]
    return [split_sentences(" ".join(p.split())) for p in paragraphs]


def words_in(text: str) -> list[str]:
    """Lower-cased words of ``text``, possessives dropped."""
    return [re.sub(r"['’]s$", "", w.lower()) for w in _WORD.findall(text)]


def content_words(text: str) -> set[str]:
    """Words that carry meaning (no function words, numbers or months: dates are atoms),
    as crude stems so that "landed" meets "landing"."""
    return {
        _stem(w)
        for w in words_in(text)
        if w not in _STOPWORDS and not w[0].isdigit() and w not in _MONTHS
    }


def _stem(word: str) -> str:
    """A crude stem: a common suffix dropped, then five letters ("landed", "landing" and
    "lands" all give "land")."""
    for suffix in ("ings", "ing", "ed", "es", "s", "ly"):
        if suffix == "es" and not word.endswith(("sses", "shes", "ches", "xes", "zes")):
            continue  # "rises" is "rise" + "s"; "matches" is "match" + "es"
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            break
    return word[:5]


def normalize_phrase(text: str) -> str:
    """Lower case, words only, single spaces: how quoted phrases are compared."""
    return " ".join(words_in(text))


def _canonical(digits: str, fraction: str | None, scale: str | None) -> str:
    value = float(digits.replace(",", "") + (fraction or ""))
    if scale:
        value *= _SCALES[scale.lower()]
    return str(int(value)) if value.is_integer() else f"{value:.6g}"


def _spelled_out(text: str) -> str:
    """``text`` with number words written as digits ("twelve astronauts" -> "12 ...")."""
    return _NUMBER_WORD.sub(lambda m: str(_NUMBER_WORDS[m.group(1).lower()]), text)


def dates_in(text: str) -> list[tuple[DateValue, tuple[int, int]]]:
    """Every date in ``text`` with its span; the most specific reading wins overlaps."""
    found: list[tuple[DateValue, tuple[int, int]]] = []
    taken: list[tuple[int, int]] = []
    for pattern, order in _DATE_PATTERNS:
        for match in pattern.finditer(text):
            span = match.span()
            if any(span[0] < end and start < span[1] for start, end in taken):
                continue
            parts = dict(zip(order, match.groups(), strict=True))
            day = int(parts["d"]) if "d" in parts else None
            if day is not None and not 1 <= day <= 31:
                continue
            month = _MONTHS[parts["m"].lower().rstrip(".")]
            year = int(parts["y"]) if "y" in parts else None
            found.append((DateValue(year=year, month=month, day=day), span))
            taken.append(span)
    return found


def numbers_in(text: str, *, skip: list[tuple[int, int]] | None = None) -> list[tuple[str, str]]:
    """Each number of ``text`` (number words included) as ``(as written, canonical)``;
    numbers inside the ``skip`` spans are left out."""
    text = _spelled_out(text)
    found: list[tuple[str, str]] = []
    for match in _NUMBER.finditer(text):
        if skip and any(s <= match.start() < e for s, e in skip):
            continue
        digits, fraction, suffix, scale = match.groups()
        canonical = _canonical(digits, fraction, scale)
        found.append((match.group(0), canonical + ("s" if suffix == "s" else "")))
    return found


def quantities_in(text: str) -> list[tuple[str, str]]:
    """Each number followed by a unit, as ``(as written, "canonical unit")``."""
    text = _spelled_out(text)
    found: list[tuple[str, str]] = []
    for match in _NUMBER.finditer(text):
        unit = _UNIT_AFTER.match(text, match.end())
        if unit is None:
            continue
        digits, fraction, _, scale = match.groups()
        canonical = f"{_canonical(digits, fraction, scale)} {_UNITS[unit.group(1).lower()]}"
        found.append((text[match.start() : unit.end()], canonical))
    return found


def atoms_of(sentence: str) -> list[Atom]:
    """The checkable atoms of one sentence: dates, quantities, other numbers, names and
    quoted phrases. A number that is part of a date or quantity is not listed again."""
    atoms: list[Atom] = []
    dates = dates_in(sentence)
    atoms += [Atom("date", sentence[s:e], value) for value, (s, e) in dates]
    quantities = quantities_in(sentence)
    atoms += [Atom("quantity", written, value) for written, value in quantities]
    in_quantity = {value.split()[0] for _, value in quantities}
    for written, value in numbers_in(sentence, skip=[span for _, span in dates]):
        if value in in_quantity:
            continue
        # "Apollo 11", "Luna 2": a number that ends a name is part of the name.
        kind: AtomKind = (
            "name" if re.search(rf"[A-Z]\w*\s+{re.escape(written)}\b", sentence) else "number"
        )
        atoms.append(Atom(kind, written, value))
    atoms += [Atom("quote", q, normalize_phrase(q)) for q in _QUOTE.findall(sentence)]
    for match in _NAME.finditer(sentence):
        word = re.sub(r"['’]s$", "", match.group(0))
        lower = word.lower()
        if lower in _NOT_NAMES or lower.rstrip(".") in _MONTHS:
            continue
        atoms.append(Atom("name", word, lower))
    return atoms
