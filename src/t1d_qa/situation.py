"""What a message describes: danger signs, medicines and actions, who and when.

The lexicon (data/screen_lexicon.yaml) lists what words mean; this module finds them in a
normalised message, works out the frame each sign is told in (now, past, hypothetical, a
definition, a study's participants) clause by clause, and combines the signs the way the
clinical sign lists do: one severe sign, two signs together, or one sign with insulin and a
missed meal or a low reading. Every decision carries its reason, in words a clinician can read.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from dataclasses import dataclass, field
from importlib import resources

import yaml

# -- glucose readings (ADA level 2 below 3.0 mmol/L / 54 mg/dL; below 3.9 / 70 with symptoms)
LOW_MMOL, LOW_MGDL = 3.0, 54.0
LOW_WITH_SYMPTOMS_MMOL, LOW_WITH_SYMPTOMS_MGDL = 3.9, 70.0
HIGH_MMOL, HIGH_MGDL = 13.9, 250.0  # with vomiting or ketones: possible DKA (NHS)

# "mg" alone is a drug dose ("10mg prednisone"); a glucose in mg needs "/dL" or a glucose word before it
_UNIT_VALUE = re.compile(r"(?<![\d.\-~–])(\d+(?:\.\d+)?)\s*(mmol/l|mmol|mg/dl)")
_READING_VALUE = re.compile(
    r"(血糖仪|血糖|cgm|读数|显示|测出|测得|测了|测到|只有|掉到|降到|sugar|glucose|\bbg\b|\breads\b|\bsays\b|\bshows\b|\bshowing\b|"
    r"\bmeter\b|\blibre\b|\bdexcom\b|(?<![a-z])xt(?![a-z])|\bat\b|\bim at\b|\breading (?=is|was|of))"
    r"[^0-9a-z]{0,12}(?:(?:is|was|at|of|only|just|about|around|now|down to|dropped to|still)\b[^0-9a-z]{0,4})?"
    r"(\d+(?:\.\d+)?)(?!\d|\.\d)\s*(mmol/l|mmol|mg/dl|mg)?"
)
_NOT_A_READING = re.compile(
    r"\s*(小时|个?月|年|周|天|日|分钟|次|个|人|名|例|位|型|岁|克|级|%|/|-|~|–|到|至|点|号|"
    r"(hours?|hrs?|h|minutes?|mins?|days?|weeks?|months?|years?|yrs?|times?|patients?|people|participants?|"
    r"of|out|type|percent|grams?|g|carbs?|papers?|studies|trials?|x|am|pm|o'clock|units?|u|levels?|"
    r"twice|once|daily|a day|tablets?|pills?|capsules?|mcg|ml)\b)"
)
_POINT_SOMETHING = re.compile(r"(?<![\d.])(\d{1,2})点(?:几|多)")
_BARE_LOW = re.compile(r"(?<![\d.])([0-3]\.\d)(?!\d|\.\d)")  # "2.4." ends a sentence
# a number after one of these is another lab value, not a glucose ("ketones 0.9", "C-peptide <0.1", "FK506浓度12")
_OTHER_LAB = re.compile(r"(keton|酮|c-?peptide|c肽|hba1c|a1c|糖化|tacro|fk506|他克莫司)")
# a change in glucose, not a level: "drops me (by) about 1 mmol", "lowers it by 2", "降了1个mmol"
_AMOUNT_BEFORE = re.compile(r"(?:\b(?:drops?|dropped|lowers?|lowered|brings?|brought|falls?|fell|goes down|went down)"
                            r"(?:\s+(?:me|him|her|it|them|my sugar|his sugar|her sugar))?(?:\s+down)?(?:\s+by)?"
                            r"(?:\s+(?:about|around|roughly|only|just|like))*\s*|\bby\s+(?:about\s+|around\s+)?|降了|下降了?|降低了?)$")
_MIN_MMOL = 1.0  # meters show "LO" below about 1.1 mmol/L: a smaller number is not a glucose reading

_SENTENCE = re.compile(r"[。！？!?\n]+|(?<=[a-z0-9)])\.(?:\s+|$)")
_CLAUSE = re.compile(r"[，,；;：:、()（）]|\s(?:but|and then|then|so|because|although|anyway)\s|但是|可是|不过|然后|所以|因为|\|")
_EN_WORD = re.compile(r"[a-z0-9][a-z0-9'\-]*")


_ZH_DEGREE = "很|特别|非常|有点|有些|好|太|真|超|超级|巨|贼|挺|蛮|十分|相当|越来越|更|劲"
# inside a Chinese phrase: a degree word, or a word of time or recurrence ("胸口又开始闷了", "手一直抖")
_ZH_FILLER = f"(?:{_ZH_DEGREE}|都|也|还|就|又开始|又|开始|一直|老是|总是|还在)?"
_ZH_DEGREE_ONLY = f"(?:{_ZH_DEGREE})?"  # inside a two-character term ("头好晕", "手超抖") only a degree word
_NUMBER = "<n>"  # in a lexicon term: any number, in digits or Chinese numerals
_NUMBER_RE = r"(?:\d+(?:\.\d+)?|[一二两三四五六七八九十百几半〇零]+)"
_DIGITS = "<d>"  # digits only: "12个人" counts people, "一个人" is "alone"
_WORDS = "<w>"  # in an English term: one or two words ("can't get <w> to wake": "my dad", "him")
_WORDS_RE = r"[a-z']+(?:\s+[a-z']+)?"


@dataclass(frozen=True)
class Terms:
    """One group of the lexicon: English phrases (word-bounded, "*" = any ending) and Chinese phrases."""

    name: str
    pattern: re.Pattern | None
    fuzzy: dict[str, str]  # one-deletion variant -> term, for English words of 6+ letters
    known: frozenset[str] = frozenset()  # words the lexicon itself uses: never read as a typo of another

    @classmethod
    def build(cls, name: str, spec: dict, fuzzy: bool = False) -> Terms:
        en = [str(t).lower() for t in spec.get("en") or []]
        en += [t.replace("'", "") for t in en if "'" in t]  # "won't" is typed "wont" as often
        # Chinese: a degree word may sit inside a phrase ("胸口很痛", "喊也不醒", "血糖特别低")
        zh_parts = []
        for term in sorted((str(t) for t in spec.get("zh") or []), key=len, reverse=True):
            body = re.escape(term).replace(re.escape(_NUMBER), _NUMBER_RE).replace(re.escape(_DIGITS), r"\d+")
            if len(term) >= 3 and "<" not in term:
                body = re.escape(term[:-2]) + _ZH_FILLER + re.escape(term[-2]) + _ZH_FILLER + re.escape(term[-1])
            elif len(term) == 2 and "<" not in term:
                body = re.escape(term[0]) + _ZH_DEGREE_ONLY + re.escape(term[1])
            zh_parts.append(body)
        en_parts = []
        for term in sorted(en, key=len, reverse=True):
            # one word may sit inside a phrase: "acting (really) weird", "not making (any) sense"
            body = re.escape(term.rstrip("*")).replace(r"\ ", r"\s+(?:[a-z']+\s+)?")
            body = body.replace(re.escape(_NUMBER), _NUMBER_RE).replace(re.escape(_WORDS), _WORDS_RE)
            en_parts.append(body + (r"[a-z']*" if term.endswith("*") else r"(?![a-z])"))
        alternatives = [f"(?:{p})" for p in zh_parts] + [rf"(?<![a-z0-9])(?:{p})" for p in en_parts]
        alternatives += [_near_pattern(rule) for rule in spec.get("near") or []]
        # a look-ahead on the terms' first characters lets the engine skip most positions at once
        heads = {t[0] for t in [*(str(t) for t in spec.get("zh") or []), *en] if not t.startswith("<")}
        heads |= {str(t)[0].lower() for rule in spec.get("near") or [] for t in [*rule["a"], *rule["b"]]}
        if any(str(t).startswith("<") for t in [*(spec.get("zh") or []), *en]):
            heads |= set("0123456789一二两三四五六七八九十百几半")
        lookahead = "(?=[" + "".join(re.escape(h) for h in sorted(heads)) + "])" if heads else ""
        pattern = re.compile(lookahead + "(?:" + "|".join(alternatives) + ")") if alternatives else None
        variants: dict[str, str] = {}
        for term in en if fuzzy else ():
            word = term.rstrip("*")
            if " " not in word and len(word) >= 6 and word.isalpha():
                for variant in _deletions(word):
                    variants.setdefault(variant, term)
        return cls(name, pattern, variants)

    def find(self, text: str, start: int = 0, end: int | None = None) -> list[tuple[int, str]]:
        """(position, term) for every match in text[start:end]."""
        end = len(text) if end is None else end
        span = text[start:end]
        hits = []
        if self.pattern:
            hits += [(start + m.start(), m.group(0)) for m in self.pattern.finditer(span)]
        if self.fuzzy:
            matched = {p for p, _ in hits}
            own = {t.rstrip("*") for t in self.fuzzy.values()}  # "collapses" is this group's "collapse", not another word
            for m in _EN_WORD.finditer(span):
                word = m.group(0)
                if len(word) >= 5 and start + m.start() not in matched and not _known_word(word, self.known, own):
                    for variant in (word, *_deletions(word)):
                        if variant in self.fuzzy:
                            hits.append((start + m.start(), self.fuzzy[variant]))
                            break
        return sorted(hits)


# a known word with a regular ending is known too ("boarding" is not a typo of "hoarding"): the list keeps the
# model's whole-word tokens, which are mostly stems of five letters or more
_ENDINGS = (("ing", ("", "e")), ("ed", ("", "e")), ("er", ("", "e")), ("ers", ("", "e")), ("es", ("", "e")),
            ("s", ("",)), ("ly", ("",)))


def _known_word(word: str, known: frozenset[str], terms: set[str]) -> bool:
    """A real word, not a typo of one of terms; an ending on one of terms themselves keeps it theirs."""
    if word in known:
        return True
    for ending, restore in _ENDINGS:
        stem = word[: -len(ending)]
        if word.endswith(ending) and len(stem) >= 4:
            if any(stem + r in terms for r in restore):
                return False
            if any(stem + r in known for r in restore):
                return True
    return False


def _near_pattern(rule: dict) -> str:
    """A body part and what it feels or does, in either order, a few characters apart inside one clause
    ("tight band round his chest", "his mouth has gone crooked", "心口那里像有块大石头压着"): the combination
    is the sign, whatever words sit between."""
    def alternation(terms) -> str:
        parts = []
        for term in sorted((str(t).lower() for t in terms), key=len, reverse=True):
            body = re.escape(term.rstrip("*")) + (r"[a-z']*" if term.endswith("*") else "")
            parts.append(rf"(?<![a-z]){body}(?![a-z])" if term.isascii() else body)
        return "(?:" + "|".join(parts) + ")"

    a, b, gap = alternation(rule["a"]), alternation(rule["b"]), rf"[^。！？!?\n，,；;]{{0,{int(rule['within'])}}}?"
    return f"(?:{a}{gap}{b}|{b}{gap}{a})"


def _deletions(word: str) -> set[str]:
    return {word[:i] + word[i + 1 :] for i in range(len(word))} | {word}


@dataclass(frozen=True)
class Lexicon:
    groups: dict[str, Terms]
    places: dict[str, Terms]
    dialect: tuple[tuple[str, str], ...] = ()  # Cantonese written form -> Mandarin, longest first
    sounds: Sounds | None = None

    def mandarin(self, text: str) -> str:
        for source, target in self.dialect:
            text = text.replace(source, target)
        return text

    def by_sound(self, text: str) -> str:
        """The lexicon's Chinese terms where they are written by their sound (see Sounds)."""
        return self.sounds.spell(text) if self.sounds else text

    def __getitem__(self, name: str) -> Terms:
        return self.groups[name]


_LATIN_RUN = re.compile(r"[a-z]+(?:[ \t]+[a-z]+)*")
_LATIN_WORD = re.compile(r"[a-z]+")
_HAN_RUN = re.compile(r"[\u4e00-\u9fff]+")


@dataclass(frozen=True)
class Sounds:
    """The lexicon's Chinese terms by their sound (toneless pinyin), for two ways patients write them.

    - A message typed in pinyin ("wo ma da le yi dao su mei chi fan"): each run of syllables that sounds
      like a term of two or more characters is written as that term ("胰岛素", "没吃饭"), so the
      lexicon and its frames read it as they read Chinese. A message counts as pinyin when at least four
      of its Latin words are and four in five of them are whole syllables ("my mom is sweaty" is not).
    - Voice input and typing by sound in Chinese ("打了一到素", "来的时", "诺禾瑞"): a run of characters
      that sounds like a medicine's name of three or more characters is read as that name. Only medicine
      names: a shorter or commoner term sounds like too many ordinary words ("啲血糖" is not "低血糖").
    """

    terms: dict[tuple[str, ...], str]  # every Chinese term of 2+ characters
    medicines: dict[tuple[str, ...], str]  # medicine names of 3+ characters
    syllables: frozenset[str]
    longest: int

    @classmethod
    def build(cls, raw: dict) -> Sounds:
        import unicodedata

        from pypinyin import lazy_pinyin, pinyin_dict

        syllables = set()
        for readings in pinyin_dict.pinyin_dict.values():
            for reading in readings.split(","):
                plain = "".join(c for c in unicodedata.normalize("NFD", reading) if not unicodedata.combining(c))
                if plain.isascii() and plain.isalpha():
                    syllables.add(plain)
        terms: dict[tuple[str, ...], str] = {}
        medicines: dict[tuple[str, ...], str] = {}
        sections = ("signs", "context", "frames", "not_markers", "medicines", "actions", "outcomes", "quantities")
        specs = [(section, spec) for section in sections for spec in raw[section].values()]
        specs += [(section, raw[section]) for section in ("persons", "requests")]
        for section, spec in specs:
            for term in (str(t) for t in spec.get("zh") or []):
                if len(term) < 2 or not _HAN_RUN.fullmatch(term):
                    continue
                key = tuple(lazy_pinyin(term))
                terms.setdefault(key, term)
                if section == "medicines" and len(term) >= 3:
                    medicines.setdefault(key, term)
        return cls(terms, medicines, frozenset(syllables), max(map(len, terms), default=0))

    def syllables_of(self, word: str) -> tuple[str, ...] | None:
        """A Latin word split into whole pinyin syllables ("xianzai" -> xian, zai), or None."""
        @functools.cache
        def split(i: int) -> tuple[str, ...] | None:
            if i == len(word):
                return ()
            for j in range(min(len(word), i + 6), i, -1):
                if word[i:j] in self.syllables and (rest := split(j)) is not None:
                    return (word[i:j], *rest)
            return None

        return split(0)

    def is_pinyin(self, text: str) -> bool:
        words = _LATIN_WORD.findall(text)
        return len(words) >= 4 and sum(self.syllables_of(w) is not None for w in words) * 5 >= len(words) * 4

    def spell(self, text: str) -> str:
        from pypinyin import lazy_pinyin

        text = text.lower()
        if self.is_pinyin(text):
            text = _LATIN_RUN.sub(lambda m: self._spell_pinyin(m.group(0)), text)

        def medicines(m: re.Match) -> str:
            run = m.group(0)
            sounds = lazy_pinyin(run)
            if len(sounds) != len(run) or not self.medicines:
                return run
            return "".join(self._replace(list(run), sounds, self.medicines, 3))

        return _HAN_RUN.sub(medicines, text)

    def _spell_pinyin(self, run: str) -> str:
        sounds = [s for word in run.split() for s in (self.syllables_of(word) or (word,))]
        pieces = self._replace([f" {s} " for s in sounds], sounds, self.terms, 2)
        return re.sub(r"\s+", " ", "".join(pieces)).strip()

    def _replace(self, units: list[str], sounds: list[str], table: dict, shortest: int) -> list[str]:
        """Longest first, left to right: each run of sounds found in the table becomes its term."""
        out, i = [], 0
        while i < len(sounds):
            for length in range(min(self.longest, len(sounds) - i), shortest - 1, -1):
                term = table.get(tuple(sounds[i:i + length]))
                if term:
                    out.append(term)
                    i += length
                    break
            else:
                out.append(units[i])
                i += 1
        return out


@functools.cache
def lexicon() -> Lexicon:
    raw = yaml.safe_load(resources.files("t1d_qa").joinpath("data/screen_lexicon.yaml").read_text("utf-8"))
    groups: dict[str, Terms] = {}
    for section in ("signs", "context", "frames", "not_markers", "medicines", "actions", "outcomes", "quantities"):
        if section not in raw:
            raise KeyError(f"data/screen_lexicon.yaml has no section {section!r}")
        for name, spec in raw[section].items():
            # typos are forgiven where they hide danger or a medicine; markers must be spelt
            groups[name] = Terms.build(name, spec, fuzzy=section in ("signs", "medicines"))
    # "starting" is a word of its own, not a typo of "starving": no fuzzy match for a word the lexicon knows
    known = set(str(t).lower() for spec in (*raw["signs"].values(), *raw["context"].values(), *raw["frames"].values(),
                                                 *raw["medicines"].values(), *raw["actions"].values(),
                                                 *raw["outcomes"].values()) for t in spec.get("en") or []
                      if str(t).isalpha())
    # nor for a common English word ("normal" is not "Neoral"): see scripts/english_words.py
    known |= {w for w in resources.files("t1d_qa").joinpath("data/english_words.txt").read_text("utf-8").split()
              if not w.startswith("#")}
    groups = {name: dataclasses.replace(terms, known=frozenset(known)) if terms.fuzzy else terms for name, terms in groups.items()}
    groups["persons"] = Terms.build("persons", raw["persons"])
    groups["requests"] = Terms.build("requests", raw["requests"])
    places = {name: Terms.build(name, spec) for name, spec in raw["places"].items()}
    dialect = tuple(sorted(((str(k), str(v)) for k, v in raw.get("dialect", {}).items()), key=lambda kv: -len(kv[0])))
    return Lexicon(groups, places, dialect, Sounds.build(raw))


# -- readings


def glucose_values(norm: str) -> list[tuple[int, float, str]]:
    """(position, value, "mmol" | "mg") for each glucose reading in a normalised text."""
    # "2点几 / 3点多" is two- / three-point-something mmol/L; read as N.5 (same length, so positions hold).
    # A time ("3点多") is not read: a reading needs a glucose word before it.
    norm = _POINT_SOMETHING.sub(r"\1.5", norm)
    found: dict[int, tuple[float, str]] = {}
    for m in _UNIT_VALUE.finditer(norm):
        if _AMOUNT_BEFORE.search(norm, max(0, m.start() - 30), m.start()):
            continue  # "1 unit drops me about 1 mmol" is a change, not a level
        found[m.start(1)] = (float(m.group(1)), "mg" if m.group(2).startswith("mg") else "mmol")
    for m in _READING_VALUE.finditer(norm):
        if m.start(2) in found:
            continue
        value, unit = float(m.group(2)), m.group(3) or ""
        if not unit and _NOT_A_READING.match(norm, m.end(2)):
            continue
        if _OTHER_LAB.search(norm, max(0, m.start() - 20), m.start(2)):
            continue  # "ketones at 0.9" is not a glucose
        loose = m.group(1) in ("at", "im at", "只有", "掉到", "降到")  # words that also precede times and counts
        if loose and not unit and "." not in m.group(2) and value < 35:
            continue  # "at 3" is a time; "at 2.4" or "at 45" is a reading
        if loose and unit == "mg" and (value < 20 or _medicine_before(norm, m.start())):
            continue  # "Ozempic at 1mg", "tacrolimus at 2mg": a drug's dose; "I'm at 40mg and on insulin" a reading
        if unit.startswith("mg") or (not unit and value > 35):
            found[m.start(2)] = (value, "mg")
        elif value >= _MIN_MMOL:
            found[m.start(2)] = (value, "mmol")
    return [(pos, v, u) for pos, (v, u) in sorted(found.items())]


def _medicine_before(norm: str, pos: int) -> bool:
    """A medicine named just before a number ("Ozempic at 1mg"): the number is its dose."""
    return any(lexicon()[g].find(norm, max(0, pos - 30), pos) for g in ("immunosuppressant", "other"))


def is_low(value: float, unit: str, with_symptoms: bool) -> bool:
    if unit == "mg":
        return value < (LOW_WITH_SYMPTOMS_MGDL if with_symptoms else LOW_MGDL)
    return value < (LOW_WITH_SYMPTOMS_MMOL if with_symptoms else LOW_MMOL)


def is_high(value: float, unit: str) -> bool:
    return value >= (HIGH_MGDL if unit == "mg" else HIGH_MMOL)


# -- frames


NOT_NOW = ("past", "habitual", "hypothetical", "feared", "generic", "definition", "study", "explain", "resolved")
_CLAUSE_FRAMES = ("hypothetical", "generic", "definition", "explain")  # frames of a question, not of a narrative
# frames that reach only forward inside their clause: "he's shaking, I don't want to be dramatic" stays now
_FORWARD_ONLY = ("feared",)
# signs a fear never puts off until later: whoever tells them, they may be happening as they write
_FEAR_PROOF = ("severe", "chest", "stroke", "self_harm")
# signs of a low that a recovery told after them in their sentence puts in the past ("shaky at 2.7, we gave her
# dextrose and she's been fine since", "出了一身汗 说胡话 吃了两块糖就好了"); never severe signs, DKA, chest, stroke, self-harm
_RESOLVABLE = ("autonomic", "neuro", "insulin_taken", "missed_meal", "low_reading", "glucose")
# a recovery denied, awaited or wished for is none ("not back to normal", "until he's back to normal", "还没缓过来")
_NOT_RECOVERED = re.compile(r"(?:(?<![a-z])(?:not|never|until|till|before|if|hope|hoping|wait for|whether)\b[^.?!]{0,16}"
                            r"|n't\s+(?:been\s+)?|'ll\s+(?:be\s+)?|(?<![a-z])(?:says|said|saying|claims)\b[^.?!]{0,16}"
                            r"|(?:没|不|等|直到|希望|能不能|会不会|什么时候|是不是|说)[^。？！]{0,3})$")
_ASKED_AFTER = re.compile(r"\s*(?:\?|？|吗|吧|么|呢)")
# frames a present-tense word in the same clause does not undo ("he's had shaky spells on and off for years")
_OVER_WEAK = (*_CLAUSE_FRAMES, "habitual")


@dataclass
class Finding:
    """What one message says, split by the frame each piece is told in."""

    by_frame: dict[str, dict[str, list[str]]] = field(default_factory=dict)  # frame -> group -> terms
    frames: set[str] = field(default_factory=set)  # every frame seen in the message
    readings_now: list[tuple[float, str]] = field(default_factory=list)
    readings_elsewhere: list[tuple[float, str]] = field(default_factory=list)
    places: set[str] = field(default_factory=set)

    @property
    def now(self) -> dict[str, list[str]]:
        return self.by_frame.get("now", {})

    def has(self, group: str) -> bool:
        return bool(self.now.get(group))

    def terms(self, group: str) -> list[str]:
        return self.now.get(group, [])

    def mentions_body_or_medicine(self) -> bool:
        """Any sign, reading or medicine, in any frame: the message is about this chatbot's field."""
        groups = (*_SIGN_GROUPS, "low_reading", "high_reading", "insulin", "insulin_named", "immunosuppressant")
        return bool(self.readings_now or self.readings_elsewhere) or any(
            g.get(name) for g in self.by_frame.values() for name in groups
        )

    def mentions_any(self, groups: tuple[str, ...]) -> bool:
        """Any term of these groups, in any frame."""
        return any(g.get(name) for g in self.by_frame.values() for name in groups)

    def terms_outside(self, group: str, frames: tuple[str, ...]) -> list[str]:
        """Terms of a group told in any frame but the ones given."""
        return [t for frame, groups in self.by_frame.items() if frame not in frames for t in groups.get(group, [])]


_SIGN_GROUPS = ("severe", "neuro", "autonomic", "dka", "chest", "stroke", "self_harm")
_CONTEXT_GROUPS = ("insulin_taken", "missed_meal", "low_reading", "high_reading", "diabetes", "glucose",
                   "stockpile", "hoard", "farewell", "done", "glucose_fine")
_OTHER_GROUPS = ("insulin", "insulin_named", "immunosuppressant", "other", "change", "dose", "quantity", "cured", "persons", "requests",
                 "therapy", "outcome", "own_decision", "own_regimen", "conditional", "family", "dose_alone", "keep_on")


def analyse(norm: str) -> Finding:
    """Find signs, context and medicines in a normalised message, each in its frame.

    A clause takes the frame of its own markers ("last year", "如果", "what are the signs of",
    "in the trial", "now"): a sign takes the nearest marker before it in its clause, else the
    first one after it ("mum fainted at 1.8 last winter"), else the frame carried from the
    previous clause of the same sentence. A new sentence starts in the present.
    """
    lex = lexicon()
    finding = Finding()
    finding.places = {name for name, terms in lex.places.items() if terms.find(norm)}
    readings = glucose_values(norm)
    if any(lex[g].find(norm) for g in ("low_reading", "glucose", "autonomic", "neuro", "severe")):
        # "having a hypo… still 2.4", "is 2.8 bad? a bit wobbly": a decimal under 4 next to talk of lows or a
        # sign of one is a reading in mmol/L (unless a unit or a count follows it: "1.5 units", "2.5 years")
        known = {p for p, _, _ in readings}
        readings += [(m.start(1), float(m.group(1)), "mmol") for m in _BARE_LOW.finditer(norm)
                     if m.start(1) not in known and float(m.group(1)) >= _MIN_MMOL
                     and not _NOT_A_READING.match(norm, m.end(1))
                     and not _OTHER_LAB.search(norm, max(0, m.start() - 20), m.start())]
    groups = [g for g in (*_SIGN_GROUPS, *_CONTEXT_GROUPS, *_OTHER_GROUPS) if g in lex.groups]
    # every group is matched once over the whole text; clauses then take the hits inside them
    masked = [(p, p + len(t)) for p, t in lex["not_marker"].find(norm)]

    def unmasked(hits):
        # a not-marker hides the hits inside it ("什么意思" in "没什么意思"), not a longer phrase around it ("活着没意思")
        return [(p, t) for p, t in hits if not any(a <= p and p + len(t) <= b for a, b in masked)]

    group_hits = [(p, g, t) for g in groups for p, t in unmasked(lex[g].find(norm))]
    group_hits = [(p, g, t) for p, g, t in group_hits if not (g in _NEGATABLE and _NEGATED_BEFORE.search(norm, max(0, p - 24), p))]
    group_hits += _owned_medicines(norm, group_hits)
    # a marker inside a longer sign or context phrase is part of that phrase, not a frame ("the last time
    # you'll hear from me" is a farewell, not "last time")
    # (nor is "已经好了" inside "他是不是真的已经好了", a question whether he is cured)
    phrases = [(p, p + len(t)) for p, g, t in group_hits if g in _SIGN_GROUPS or g in _CONTEXT_GROUPS or g == "cured"]
    spans = sorted((p, len(t), name) for name in (*_MARKED, "now", "now_weak") for p, t in unmasked(lex[name].find(norm))
                   if not any(a <= p and p + len(t) <= b and b - a > len(t) for a, b in phrases))
    # a marker inside a longer one is part of it ("如果一个…" is generic, not just "如果")
    marker_hits = [(p, name) for p, n, name in spans
                   if not any(q <= p and p + n <= q + m and m > n for q, m, _ in spans)]
    recoveries = _recoveries(norm, marker_hits)
    still = [p for p, _ in lex["current"].find(norm)]
    for sentence_start, sentence_end in _spans(norm, _SENTENCE, 0, len(norm)):
        carried = "now"
        later = [r for r in recoveries if sentence_start <= r < sentence_end]
        for start, end in _spans(norm, _CLAUSE, sentence_start, sentence_end):
            markers = [(p, name) for p, name in marker_hits if start <= p < end]
            explicit = [(p, name) for p, name in markers if name != "now_weak"]
            if not any(name in _OVER_WEAK for _, name in explicit):
                explicit = [(p, "now" if name == "now_weak" else name) for p, name in markers]
            finding.frames.update(name for _, name in explicit)
            markers = explicit
            for pos, group, term in group_hits:
                if start <= pos < end:
                    frame = _frame_at(pos, markers, carried)
                    if frame == "feared" and (group in _FEAR_PROOF or any(name == "now" for _, name in markers)):
                        frame = "now"  # "scared she'll die her face is drooping", "worried I'll faint, I'm shaking now"
                    if frame == "now" and group in _RESOLVABLE and _over(pos, start, later, still):
                        frame = "resolved"
                        finding.frames.add(frame)
                    finding.by_frame.setdefault(frame, {}).setdefault(group, []).append(term)
            for pos, value, unit in readings:
                if start <= pos < end:
                    frame = _frame_at(pos, markers, carried)
                    if frame == "now" and is_low(value, unit, with_symptoms=True) and _over(pos, start, later, still):
                        frame = "resolved"
                    (finding.readings_now if frame == "now" else finding.readings_elsewhere).append((value, unit))
                    if frame == "resolved":
                        finding.frames.add(frame)
            carrying = [name for _, name in markers if name not in _FORWARD_ONLY]
            if carrying:
                carried = carrying[-1]
            elif carried in _CLAUSE_FRAMES and any(start <= p < end for p, g, _ in group_hits if g == "persons"):
                carried = "now"  # "这是什么情况，他在抽搐": a person in the next clause ends a question's frame
            elif carried == "study" and any(start <= p < end for p, g, _ in group_hits if g == "family"):
                carried = "now"  # "问下那个研究…，我老公…吐了好几回": the writer's family is no study's participant
    return finding


# a sign said to be absent: "no ketones, no vomiting", "not shaking any more", "没吐", "也没有胸闷" (words of
# self-harm are never read as negated)
_NEGATABLE = ("autonomic", "dka", "chest", "stroke")  # not "severe" or "neuro": "not opening her eyes"
# ("can't lie down without chest pain", "can not catch his breath": "without" and "can not" are no denial)
_NEGATED_BEFORE = re.compile(r"(?:(?<![a-z])(?:no|nor|zero|negative for|(?<!can )(?<!could )(?<!does )(?<!did )"
                             r"(?<!will )(?<!would )not)\s+"
                             r"(?:(?:any|real|obvious|more|further|sign of|signs of|sign of any)\s+)?"
                             r"|(?<!有)(?:没有|没|无|未|不|也没有|也没|都没有|都没)(?:什么|任何|再)?)$")  # "有没有": a question


# someone's own medicine: a possessive just before a medicine's name ("my atorvastatin", "her evening NovoRapid",
# "我这个二甲双胍", "他的他克莫司"): a question about it is about their regimen, not about what a therapy makes possible
_OWNER_BEFORE = re.compile(r"(?:(?<![a-z])(?:my|his|her|our|(?:mum|mom|dad|son|daughter|husband|wife|kid)'?s)\s+"
                           r"(?:[a-z]+\s+)?|(?:我|(?<!其)他|她|我们|孩子|儿子|女儿|老公|老婆|妈|爸)的?(?:这个|那个|这种|那种)?)$")


def _owned_medicines(norm: str, group_hits: list[tuple[int, str, str]]) -> list[tuple[int, str, str]]:
    owned = []
    for p, g, t in group_hits:
        if g in _MEDICINE_GROUPS:
            owner = _OWNER_BEFORE.search(norm, max(0, p - 24), p)
            if owner:
                owned.append((owner.start(), "own_regimen", owner.group(0).strip() + " " + t))
    return owned


_MARKED = tuple(name for name in NOT_NOW if name != "resolved")  # frames told by a marker in the clause


def _recoveries(norm: str, marker_hits: list[tuple[int, str]]) -> list[int]:
    """Where a low is told as over: not denied, awaited or asked, and not in a clause about another time
    ("last time juice sorted it")."""
    found = []
    for p, term in lexicon()["resolved"].find(norm):
        clause_start = max((m.end() for m in (*_CLAUSE.finditer(norm, 0, p), *_SENTENCE.finditer(norm, 0, p))), default=0)
        # "喝了果汁就好了" is over; "歇会就好了", "吃点糖就好了" (it will be, if…) is not: a verb's 了 before 就
        foretold = term.startswith("就") and "了" not in norm[max(0, p - 8):p]
        if (foretold or _NOT_RECOVERED.search(norm, max(0, p - 24), p) or _ASKED_AFTER.match(norm, p + len(term))
                or any(clause_start <= q < p and name in _MARKED and name != "feared" for q, name in marker_hits)):
            continue
        found.append(p)
    return found


def _over(pos: int, clause_start: int, recoveries: list[int], still: list[int]) -> bool:
    """A sign at pos is told as over: a recovery follows it in its sentence, and its clause does not say, before
    that recovery, that it is still going on."""
    after = [r for r in recoveries if r > pos]
    return bool(after) and not any(clause_start <= q < after[0] for q in still)


def _frame_at(pos: int, markers: list[tuple[int, str]], carried: str) -> str:
    if any(name == "study" for _, name in markers):  # "天津那个女孩现在…": still the study's participant
        return "study"
    before = [name for p, name in markers if p <= pos]
    if before:
        return before[-1]
    after = [name for p, name in markers if p > pos and name not in _FORWARD_ONLY]
    return after[0] if after else carried


def _spans(text: str, pattern: re.Pattern, start: int, end: int) -> list[tuple[int, int]]:
    """(start, end) of the pieces of text[start:end] between separators."""
    spans, last = [], start
    for m in pattern.finditer(text, start, end):
        if m.start() > last:
            spans.append((last, m.start()))
        last = max(last, m.end())
    if end > last:
        spans.append((last, end))
    return spans


def _split(text: str, pattern: re.Pattern) -> list[str]:
    return [part for part in pattern.split(text) if part and part.strip()]


# -- decisions

# frames in which words of self-harm are not intent now ("what if I…" is intent)
NOT_INTENT = ("past", "generic", "definition", "study", "explain")
EMERGENCY_RULES = ("self_harm", "unconscious_or_not_breathing", "severe_hypoglycaemia_signs", "chest_pain",
                   "stroke_signs", "low_glucose_value", "diabetic_ketoacidosis_signs")
ADVICE_RULES = ("cured_question", "individual_dose", "change_own_treatment")
# the learned net's decisions (safety.screen with the message's embedding): "learned_emergency" (a low or DKA),
# "learned_chest_stroke", "learned_self_harm" (words of self-harm, or the net's type head: the crisis reply),
# "learned_advice"


@dataclass(frozen=True)
class Decision:
    kind: str  # "emergency" | "personal_advice" | ""
    rule: str = ""
    reason: str = ""
    team: str = ""  # personal advice: "diabetes" | "transplant"


def _distinct(terms: list[str]) -> list[str]:
    seen: list[str] = []
    for term in terms:
        if not any(term in s or s in term for s in seen):
            seen.append(term)
    return seen


def emergency(finding: Finding) -> Decision:
    """Danger happening now, from the signs told in the present frame (issue 8's combinations)."""
    f = finding
    low_now = [(v, u) for v, u in f.readings_now if is_low(v, u, with_symptoms=False)]
    symptoms = f.has("autonomic") or f.has("neuro") or f.has("severe")
    low_with_symptoms = [(v, u) for v, u in f.readings_now if is_low(v, u, with_symptoms=True)]
    high_now = [(v, u) for v, u in f.readings_now if is_high(v, u)]
    not_intent = NOT_INTENT
    self_harm = f.terms_outside("self_harm", not_intent)
    if self_harm:
        return Decision("emergency", "self_harm", "self-harm or suicidal intent: " + ", ".join(_distinct(self_harm)))
    # an intended insulin overdose in other words: insulin with a farewell, or insulin gathered to be used at once
    # by someone who says they mean to ("攒了一抽屉的针…全打了", "I've been saving mine up", "goodbye, the needles are ready")
    insulin = [t for g in ("insulin", "insulin_named") for t in f.terms_outside(g, not_intent)]
    farewell = f.terms_outside("farewell", not_intent)
    stockpile = f.terms_outside("stockpile", not_intent)
    intent = f.terms_outside("requests", not_intent) + f.terms_outside("own_decision", not_intent)
    done = f.terms_outside("done", not_intent)
    if insulin and (farewell or (stockpile and (intent or done))):
        return Decision("emergency", "self_harm", "an intended or taken insulin overdose: "
                        + ", ".join(_distinct(farewell + stockpile + insulin[:1])))
    # pills gathered to be taken at once are an overdose too ("把攒下的药一口气全吃了", "saved up all my tablets")
    pills = [t for g in ("immunosuppressant", "other") for t in f.terms_outside(g, not_intent)]
    hoard = f.terms_outside("hoard", not_intent)
    at_once = [t for t in stockpile if not any(h in t or t in h for h in hoard)]
    if pills and hoard and (at_once or farewell or intent or done):
        return Decision("emergency", "self_harm", "an intended or taken overdose: "
                        + ", ".join(_distinct(farewell + stockpile + pills[:1])))
    # farewells alone, two or more of them: a note, a pet given away, "I've decided how to go" (WHO warning signs)
    if len(_distinct(farewell)) >= 2:
        return Decision("emergency", "self_harm", "farewells: " + ", ".join(_distinct(farewell)))
    if f.has("severe"):
        return Decision("emergency", "unconscious_or_not_breathing",
                        "a severe sign told as happening now: " + ", ".join(_distinct(f.terms("severe"))))
    signs = _signs(f)
    on_insulin = f.has("insulin_taken") or f.has("insulin") or f.has("insulin_named")
    # stroke signs with the glucose said or measured to be normal: a stroke, not a low, so the reply is call, stay
    # and note the time (nothing by mouth), not sugar by mouth ("说话含糊 右手拿不住筷子 她有糖尿病 血糖正常")
    glucose_fine = f.has("glucose_fine") or any(not is_low(v, u, with_symptoms=True) and not is_high(v, u)
                                               for v, u in f.readings_now)
    if f.has("stroke") and glucose_fine and not low_with_symptoms:
        return Decision("emergency", "stroke_signs", "stroke signs with a normal glucose: " + ", ".join(f.terms("stroke")))
    if f.has("neuro") and (on_insulin or low_with_symptoms or any(f.has(g) for g in ("low_reading", "missed_meal",
                                                                                   "diabetes"))):
        # altered mental state in someone with diabetes: ADA level 3 (needs another person's help)
        rule = "diabetic_ketoacidosis_signs" if f.has("dka") else "severe_hypoglycaemia_signs"
        return Decision("emergency", rule,
                        "altered mental state with diabetes: " + ", ".join(signs + _context(f)))
    if f.has("chest"):
        return Decision("emergency", "chest_pain", "chest pain now: " + ", ".join(f.terms("chest")))
    if f.has("stroke"):
        return Decision("emergency", "stroke_signs", "stroke signs now: " + ", ".join(f.terms("stroke")))
    if low_now:
        return Decision("emergency", "low_glucose_value", f"a glucose reading below level 2: {_fmt(low_now)}")
    if low_with_symptoms and symptoms:
        return Decision("emergency", "low_glucose_value",
                        f"a low reading {_fmt(low_with_symptoms)} with " + ", ".join(_signs(f)))
    dka = _distinct(f.terms("dka"))
    ketones = [t for t in dka if "酮" in t or "ketone" in t]
    vomiting = [t for t in dka if t not in ketones]
    if vomiting and (high_now or ketones or f.has("high_reading")):
        return Decision("emergency", "diabetic_ketoacidosis_signs",
                        "DKA signs: " + ", ".join(dka) + (f" with a high reading {_fmt(high_now)}" if high_now else ""))
    if len(dka) >= 2 or (dka and f.has("neuro")):
        return Decision("emergency", "diabetic_ketoacidosis_signs",
                        "DKA signs together: " + ", ".join(dka + _distinct(f.terms("neuro"))))
    if f.has("neuro") and len(signs) >= 2:
        return Decision("emergency", "severe_hypoglycaemia_signs", "signs together: " + ", ".join(signs))
    if len(signs) >= 2:
        return Decision("emergency", "severe_hypoglycaemia_signs",
                        "signs of a low together: " + ", ".join(signs + _context(f)))
    if signs and (f.has("low_reading") or (on_insulin and f.has("missed_meal"))):
        return Decision("emergency", "severe_hypoglycaemia_signs",
                        "a sign of a low with " + ", ".join(_context(f)) + ": " + ", ".join(signs))
    return Decision("")


def signs_and_context(f: Finding) -> list[str]:
    """Every sign and context term told now, for a decision's reason."""
    return _signs(f) + _distinct(f.terms("dka") + f.terms("chest") + f.terms("stroke")) + _context(f)


def _signs(f: Finding) -> list[str]:
    return _distinct(f.terms("severe") + f.terms("neuro") + f.terms("autonomic"))


def _context(f: Finding) -> list[str]:
    groups = ("low_reading", "insulin_taken", "insulin", "insulin_named", "missed_meal", "diabetes")
    return [t for g in groups for t in f.terms(g)[:1]]


def _fmt(readings: list[tuple[float, str]]) -> str:
    return ", ".join(f"{v:g} {'mg/dL' if u == 'mg' else 'mmol/L'}" for v, u in readings)


_MEDICINE_GROUPS = ("insulin", "insulin_named", "immunosuppressant", "other")


def _possible(f: Finding, skip: tuple[str, ...]) -> bool:
    """Asks what a therapy makes possible ("will stem cells get me off insulin?", "after the islets…")."""
    return bool(f.terms_outside("outcome", ()) or (f.terms_outside("therapy", ()) and not f.terms_outside("family", skip)))


def asks_what_a_therapy_implies(f: Finding) -> bool:
    """A question about what a therapy makes possible, with nobody's own regimen or decision in it ("if the cells
    come from my own body, do I still need immunosuppression?"): one of the learned net's features. Unlike
    personal_advice, an anti-rejection drug alone does not make it someone's own: the feature is about the question."""
    skip = ("study", "explain", "past")
    own = f.terms_outside("own_regimen", skip) or f.terms_outside("insulin_named", skip) or f.terms_outside(
        "own_decision", skip)
    return _possible(f, skip) and not own


def personal_advice(f: Finding) -> Decision:
    """A request to start, stop, change or dose a medicine for someone specific, or "am I cured?".

    Told about a study's participants it is a question about the study, not advice.
    """
    skip = ("study", "explain", "past")
    medicines = {g: f.terms_outside(g, skip) for g in _MEDICINE_GROUPS}
    team = "transplant" if medicines["immunosuppressant"] else "diabetes"
    someone = f.terms_outside("persons", skip) or f.terms_outside("requests", skip)
    cured = f.terms_outside("cured", (*skip, "definition"))  # "功能性治愈是不是就等于治好了" asks what a word means
    if cured and someone:
        return Decision("personal_advice", "cured_question", "asks whether a specific person is cured: " + ", ".join(cured), team)
    named = [t for g in _MEDICINE_GROUPS for t in medicines[g]]
    dose_alone = f.terms_outside("dose_alone", skip)
    if dose_alone and someone:
        return Decision("personal_advice", "individual_dose", "asks for an amount: " + ", ".join(dose_alone), team)
    if not named or not someone:
        return Decision("")
    dose = f.terms_outside("dose", skip) + f.terms_outside("quantity", skip)
    if dose:
        return Decision("personal_advice", "individual_dose",
                        f"asks for a dose of {', '.join(_distinct(named))}: {', '.join(dose)}", team)
    change = f.terms_outside("change", skip)
    # "Will stem cells get me off insulin?" asks what a therapy makes possible; a decision made now, on one's
    # own regimen, or about anti-rejection drugs (never stopped in any of these studies) is personal advice.
    regimen = f.terms_outside("own_regimen", skip) + medicines["insulin_named"]  # "my Tresiba", "晚上那针长效"
    therapy = f.terms_outside("therapy", ())
    # "if" makes a therapy question hypothetical ("if she got zimislecel"), not a request about a regimen
    own = (f.terms_outside("own_decision", skip) or medicines["immunosuppressant"]
           or (regimen and not (therapy and f.terms_outside("conditional", ()))))
    # "do I still need…" asks to carry on with one's own medicine ("my atorvastatin", "我这个二甲双胍"), or what a
    # therapy implies ("if the cells come from my own body, do I still need immunosuppression?")
    if regimen or f.terms_outside("own_decision", skip):
        change = change + f.terms_outside("keep_on", skip)
    possible = _possible(f, skip)
    if change and (own or not possible):
        return Decision("personal_advice", "change_own_treatment",
                        f"asks to {', '.join(_distinct(change))} {', '.join(_distinct(named))} for someone specific",
                        team)
    return Decision("")
