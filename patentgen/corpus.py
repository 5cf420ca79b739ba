"""Corpus stage: read raw documents from CSV or text files and clean them into word tokens.

Owns: file reading (with clear errors), the pure cleaning function of each corpus kind, and the
split of clean text into word tokens. Everything downstream sees ``list[list[str]]``.
"""

from __future__ import annotations

import csv
import hashlib
import html
import io
import re
import sys
import unicodedata
from pathlib import Path

from .errors import UserError

DEFAULT_TEXT_COLUMNS = ("patent_abstract", "body")
PUNCTUATION = (".", ",", ";", "?")

# Figure references: (12), (12a), (12, 14), (12-14), (12 and 14).
_FIGURE_REF = re.compile(r"\s*\(\s*\d+[a-z]?'?(?:\s*(?:,|-|and)\s*\d+[a-z]?'?)*\s*\)", re.IGNORECASE)
_DOUBLE_QUOTES = re.compile(r"[\"\u201c\u201d\u201e\u201f\u2033\u00ab\u00bb]+")
_SINGLE_QUOTES = re.compile(r"[\u2018\u2019\u201a\u201b\u2032`]")
# ". , ; ?" become tokens, except a "." or "," between digits (1.5, 10,000).
_SPACE_PUNCT = re.compile(r"(?<!\d)([.,])|([.,])(?!\d)|([;?])")
_WHITESPACE = re.compile(r"\s+")
# A token is a number like 1.5, one of ". , ; ?", or a run of characters that are not
# whitespace and not in the separator set (the published Keras Tokenizer's filters).
_SEPARATORS = r"\s.,;?!\"#$%&()*+/:<=>@\[\\\]^_`{|}~"
_TOKEN = re.compile(rf"\d+(?:[.,]\d+)+|[.,;?]|[^{_SEPARATORS}]+")


# Control characters (NUL, escape, C1 controls: removed; those that are whitespace, e.g. a tab or
# a form feed: a space; newlines kept) and the bidirectional controls (embeddings, overrides,
# isolates, marks: removed), which make text read otherwise than it is.
_CONTROLS = [c for c in range(0x100) if unicodedata.category(chr(c)) == "Cc" and c != 0x0A]
_BIDI = [0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)]
_UNSAFE = {c: (" " if chr(c).isspace() else None) for c in _CONTROLS} | dict.fromkeys(_BIDI)


def strip_controls(text: str) -> str:
    """``text`` without control characters and bidirectional controls: applied to every text
    before it is generated from, stored or shown."""
    return text.translate(_UNSAFE)


def clean_patent(text: str) -> str:
    """Clean one patent abstract: controls dropped, quotes normalised, figure refs removed,
    spaced punctuation."""
    text = unicodedata.normalize("NFKC", strip_controls(text))
    text = _DOUBLE_QUOTES.sub(" ", text)
    text = _SINGLE_QUOTES.sub("'", text)
    text = _FIGURE_REF.sub("", text)
    text = _SPACE_PUNCT.sub(lambda m: f" {m.group(0)} ", text)
    return _WHITESPACE.sub(" ", text).strip()


def split_words(clean_text: str, lower: bool = True) -> list[str]:
    """Split cleaned text into word and punctuation tokens."""
    if lower:
        clean_text = clean_text.lower()
    tokens = (t.strip("'-") for t in _TOKEN.findall(clean_text))
    return [t for t in tokens if t]


def patent_tokens(text: str, lower: bool = True) -> list[str]:
    """Raw patent abstract -> tokens (the whole patents pipeline in one call)."""
    return split_words(clean_patent(text), lower)


# Sentence boundary markers of sentence-based corpora; never shown to people.
SENTENCE_START, SENTENCE_END = "SENTENCE_START", "SENTENCE_END"
SENTENCE_MARKERS = frozenset({SENTENCE_START, SENTENCE_END})

_URL = re.compile(r"https?://\S+|www\.\S+")
_MD_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_MD_MARKUP = re.compile(r"(\*\*|__|~~|\*|^\s*>+\s?|^\s*#+\s)", re.MULTILINE)


def clean_reddit(text: str) -> str:
    """Clean one comment: HTML entities decoded, links to their text, URLs, markdown and
    quote markers removed, whitespace collapsed (newlines kept as sentence hints)."""
    text = strip_controls(html.unescape(html.unescape(text)))  # the dump escapes twice in places (&amp;gt;)
    text = _MD_LINK.sub(r"\1", text)
    text = _URL.sub(" ", text)
    text = _MD_MARKUP.sub(" ", text)
    text = re.sub(r"[ \t]+", " ", text)
    return re.sub(r"\s*\n\s*", "\n", text).strip()


def train_punkt(texts: list[str]) -> dict:
    """Train NLTK's Punkt sentence splitter on the corpus itself (no download); its parameters
    as JSON-ready lists."""
    from nltk.tokenize.punkt import PunktTrainer

    trainer = PunktTrainer()
    trainer.INCLUDE_ALL_COLLOCS = True
    trainer.train("\n\n".join(clean_reddit(t) for t in texts), finalize=True)
    params = trainer.get_params()
    return {
        "abbrev_types": sorted(params.abbrev_types),
        "collocations": sorted(list(c) for c in params.collocations),
        "sent_starters": sorted(params.sent_starters),
        "ortho_context": dict(sorted(params.ortho_context.items())),
    }


_SPLITTERS: dict[int, tuple] = {}  # id(state) -> (state, sentence splitter, word splitter)


def _reddit_splitters(state: dict):
    cached = _SPLITTERS.get(id(state))
    if cached is not None and cached[0] is state:
        return cached[1:]
    from nltk.tokenize.destructive import NLTKWordTokenizer
    from nltk.tokenize.punkt import PunktParameters, PunktSentenceTokenizer

    params = PunktParameters()
    params.abbrev_types = set(state.get("abbrev_types", ()))
    params.collocations = {tuple(c) for c in state.get("collocations", ())}
    params.sent_starters = set(state.get("sent_starters", ()))
    for word, flags in state.get("ortho_context", {}).items():
        params.ortho_context[word] = flags
    _SPLITTERS.clear()  # one corpus at a time in practice; never grows
    _SPLITTERS[id(state)] = (state, PunktSentenceTokenizer(params), NLTKWordTokenizer())
    return _SPLITTERS[id(state)][1:]


_NO_STATE: dict = {}


def reddit_tokens(text: str, lower: bool = True, state: dict | None = None) -> list[str]:
    """Raw comment -> SENTENCE_START w1 ... SENTENCE_END for each sentence (NLTK Punkt + words)."""
    sentences, words = _reddit_splitters(state if state is not None else _NO_STATE)
    out: list[str] = []
    for paragraph in clean_reddit(text).split("\n"):
        for sentence in sentences.tokenize(paragraph):
            tokens = words.tokenize(sentence.lower() if lower else sentence)
            if tokens:
                out += [SENTENCE_START, *tokens, SENTENCE_END]
    return out


# Corpus kinds: raw document -> tokens. Each entry is the whole pipeline for that kind; a kind
# with a fitted state (Punkt's parameters) learns it from the corpus in FIT_STATE.
KINDS = {"patents": lambda text, lower, state: patent_tokens(text, lower), "reddit": reddit_tokens}
FIT_STATE = {"reddit": train_punkt}
NEEDS = {"reddit": ("nltk",)}  # the third-party packages a kind's pipeline imports


def fit_state(kind: str, texts: list[str]) -> dict:
    """What a corpus kind learns from the corpus itself before tokenising ({} for patents)."""
    return FIT_STATE[kind](texts) if kind in FIT_STATE else {}


def text_tokens(text: str, kind: str = "patents", lower: bool = True, state: dict | None = None) -> list[str]:
    """Raw document -> tokens with the pipeline of corpus ``kind``."""
    try:
        pipeline = KINDS[kind]
    except KeyError:
        raise UserError(f"unknown corpus kind {kind!r}; use one of {', '.join(KINDS)}") from None
    return pipeline(text, lower, state)


def file_checksum(path: str | Path) -> str:
    """SHA-256 of a file, recorded in a run's config so a run knows which corpus it saw."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _decode(path: Path) -> str:
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise UserError(
            f"{path} is not UTF-8 (byte 0x{data[err.start]:02x} at offset {err.start}); "
            "re-encode it, e.g. `iconv -f latin1 -t utf-8 IN > OUT`, and pass the new file"
        ) from None


def _pick_column(path: Path, columns: list[str], wanted: str | None) -> str:
    if wanted is not None:
        if wanted not in columns:
            raise UserError(
                f"{path} has no column {wanted!r} (columns: {', '.join(columns) or 'none'}); "
                "pass --text-column with one of them"
            )
        return wanted
    for name in DEFAULT_TEXT_COLUMNS:
        if name in columns:
            return name
    raise UserError(
        f"{path} has no text column: expected one of {', '.join(DEFAULT_TEXT_COLUMNS)} "
        f"(columns: {', '.join(columns) or 'none'}); pass --text-column NAME"
    )


def read_texts(path: str | Path, text_column: str | None = None) -> list[str]:
    """Read the documents of a corpus file: a CSV text column, or one document per line.

    Empty documents are dropped. Raises UserError for a missing, non-UTF-8 or columnless file.
    """
    path = Path(path)
    if path.is_dir():
        found = sorted(p.name for p in path.iterdir() if p.suffix.lower() in (".csv", ".txt"))[:3]
        hint = f" (it holds {', '.join(found)})" if found else ""
        raise UserError(f"corpus {path} is a folder{hint}; pass the corpus file itself with --data, a CSV or a .txt file")
    if not path.is_file():
        raise UserError(
            f"corpus file {path} not found; pass --data PATH, or set PATENTGEN_DATA to the folder that holds it "
            "(the patents CSV is neural_network_patent_query.csv, see README 'Data')"
        )
    text = _decode(path)
    if path.suffix.lower() != ".csv":
        return [line.strip() for line in text.splitlines() if line.strip()]
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    reader = csv.DictReader(io.StringIO(text, newline=""))
    column = _pick_column(path, list(reader.fieldnames or []), text_column)
    return [row[column].strip() for row in reader if (row.get(column) or "").strip()]
