"""Corpus stage: read raw documents from corpus files and clean them into word tokens.

Owns: reading a corpus (.csv, .tsv or .txt, each possibly gzipped or zipped, or a folder of them),
streamed from disk with bad rows counted, and its checksum; the pure cleaning function of each
corpus kind, and the split of clean text into word tokens. Everything downstream sees
``list[list[str]]``.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import html
import io
import re
import unicodedata
import zipfile
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
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
_MD_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")  # markdown's backslash escapes: \* \. \, \\ ... -> the mark itself


def clean_reddit(text: str) -> str:
    """Clean one comment: HTML entities decoded, links to their text, URLs, markdown and
    quote markers removed, whitespace collapsed (newlines kept as sentence hints)."""
    text = strip_controls(html.unescape(html.unescape(text)))  # the dump escapes twice in places (&amp;gt;)
    text = _MD_LINK.sub(r"\1", text)
    text = _URL.sub(" ", text)
    escaped = {}  # escaped marks are text, not markup: set aside while the markup goes

    def keep(match: re.Match) -> str:
        escaped[f"\0{len(escaped)}\0"] = match.group(1)
        return f"\0{len(escaped) - 1}\0"

    text = _MD_ESCAPE.sub(keep, text).replace("\\", " ")  # a backslash that escapes nothing is dropped
    text = _MD_MARKUP.sub(" ", text)
    text = re.sub(r"\0\d+\0", lambda m: escaped[m.group(0)], text)
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


def sha256_file(path: Path) -> str:
    """SHA-256 of a file's bytes, read a block at a time."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_checksum(path: str | Path) -> str:
    """SHA-256 of a corpus, recorded in a run's config so a run knows which corpus it saw: of the
    file's bytes, or for a folder of the names and SHA-256 of the corpus files it reads, in order."""
    path = Path(path)
    if not path.is_dir():
        return sha256_file(path)
    listing = "".join(f"{file.name}\0{sha256_file(file)}\n" for file in corpus_files(path))
    return hashlib.sha256(listing.encode("utf-8")).hexdigest()


# Corpus files: a table (.csv, .tsv: a text column) or lines (anything else: a document a line),
# each possibly gzipped, or in a .zip. A folder is read file by file in name order.
TABLES = {".csv": ",", ".tsv": "\t"}
SUFFIXES = (".csv", ".tsv", ".txt")
# A longer CSV field is a quote that never closed and swallowed what followed: a malformed row.
MAX_FIELD_CHARS = 1 << 20
# Fields that exports write for a missing value; with a NUL character, "not text".
_NULL_MARKERS = frozenset({"null", "\\n", "nan", "none", "n/a", "#n/a"})


@dataclass
class Rows:
    """What reading a corpus kept and skipped: documents kept, bad rows by reason
    ("empty", "not text", "malformed"), and the lines the malformed rows took (a quote that never
    closed takes the lines after it)."""

    kept: int = 0
    skipped: Counter = field(default_factory=Counter)
    malformed_lines: int = 0

    def why(self) -> str:
        """How many rows were skipped, and why: "2 bad rows of 10 (1 empty, 1 malformed)"."""
        lines = self.malformed_lines if self.malformed_lines > self.skipped["malformed"] else 0
        reasons = ", ".join(
            f"{count} {reason}" + (f" over {lines} lines" if reason == "malformed" and lines else "")
            for reason, count in sorted(self.skipped.items())
        )
        total = sum(self.skipped.values())
        return f"{total} bad row{'' if total == 1 else 's'} of {total + self.kept} ({reasons})"


def _base_suffix(path: Path) -> str:
    return Path(path.stem).suffix.lower() if path.suffix.lower() == ".gz" else path.suffix.lower()


# The first bytes of binary formats a corpus path may be given by mistake (a run's weights.npz
# and model.keras are zip archives).
_MAGIC = {b"PK\x03\x04": "a zip archive", b"\x1f\x8b": "gzip-compressed", b"\x93NUMPY": "a numpy array",
          b"\x89HDF": "an HDF5 file", b"PAR1": "a Parquet file", b"%PDF": "a PDF", b"\x7fELF": "a program"}
_SNIFF_BYTES = 8192
_WHAT_CORPORA_ARE = "pass --data a .csv, .tsv or .txt file of text (optionally .gz), a .zip of some, or a folder of them"


def check_text_file(path: Path) -> None:
    """A UserError when the file ``path``, read as text (not .gz or .zip), is plainly something
    else: JSON (a run's config.json), or binary by its first bytes (a format's signature, or
    NUL bytes in bytes that are not UTF-8 or in more than 5% of them)."""
    if path.suffix.lower() in (".gz", ".zip"):
        return
    if path.suffix.lower() in (".json", ".jsonl"):
        raise UserError(f"corpus {path} is JSON (such as a run's config.json), not a corpus; {_WHAT_CORPORA_ARE}")
    try:
        with open(path, "rb") as handle:
            start = handle.read(_SNIFF_BYTES)
    except OSError as err:
        raise UserError(f"corpus {path} cannot be read ({err.strerror}); pass a readable file") from None
    kind = next((name for magic, name in _MAGIC.items() if start.startswith(magic)), None)
    if kind is None and b"\0" in start:
        try:
            start.decode("utf-8", errors="strict")
            binary = start.count(0) > len(start) * 0.05
        except UnicodeDecodeError as err:
            binary = err.end < len(start) - 3  # not only a character cut at the end of the block
        kind = "binary (it holds NUL bytes)" if binary else None
    if kind:
        raise UserError(f"corpus {path} is {kind}, not text; {_WHAT_CORPORA_ARE}")


def corpus_files(path: str | Path) -> list[Path]:
    """The files of a corpus: the file itself, or a folder's .csv, .tsv and .txt files
    (each optionally .gz) and .zip files, sorted by name. Raises UserError for a missing path, an
    empty folder, or a file that is plainly not text (``check_text_file``)."""
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and (_base_suffix(p) in SUFFIXES or p.suffix.lower() == ".zip"))
        if not files:
            raise UserError(f"corpus {path} is a folder with no corpus file in it; {_WHAT_CORPORA_ARE}")
    elif not path.is_file():
        raise UserError(
            f"corpus file {path} not found; pass --data PATH, or set PATENTGEN_DATA to the folder that holds it "
            "(the patents CSV is neural_network_patent_query.csv, see README 'Data')"
        )
    else:
        files = [path]
    for file in files:
        check_text_file(file)
    return files


def _open_text(path: Path):
    if path.suffix.lower() == ".gz":
        return gzip.open(path, "rt", encoding="utf-8-sig", newline="")
    return open(path, encoding="utf-8-sig", newline="")


def _pick_column(path: str, columns: list[str], wanted: str | None) -> int:
    if wanted is not None:
        if wanted not in columns:
            raise UserError(
                f"{path} has no column {wanted!r} (columns: {', '.join(columns) or 'none'}); "
                "pass --text-column with one of them"
            )
        return len(columns) - 1 - columns[::-1].index(wanted)  # the last of equal names, as csv.DictReader
    for name in DEFAULT_TEXT_COLUMNS:
        if name in columns:
            return _pick_column(path, columns, name)
    raise UserError(
        f"{path} has no text column: expected one of {', '.join(DEFAULT_TEXT_COLUMNS)} "
        f"(columns: {', '.join(columns) or 'none'}); pass --text-column NAME"
    )


def _bad_text(text: str) -> str | None:
    """Why a document is not usable, or None."""
    if not text:
        return "empty"
    if "\0" in text or text.lower() in _NULL_MARKERS:
        return "not text"
    return None


def _lines(stream) -> Iterator[str]:
    for line in stream:
        for part in line.splitlines():  # the breaks str.splitlines knows that the file's lines do not (\x85, \u2028)
            if part.strip():
                yield part.strip()


def _table(stream, path: str, delimiter: str, text_column: str | None, rows: Rows) -> Iterator[str]:
    reader = csv.reader(stream, delimiter=delimiter, strict=True)
    header = next(reader, [])
    column = _pick_column(path, header, text_column)
    while True:
        start = reader.line_num
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error:  # a broken quote: the reader goes on at the next line
            row = None
        if row == []:
            continue  # a blank line
        reason = "malformed" if row is None or len(row) != len(header) else _bad_text(row[column].strip())
        rows.malformed_lines += (reader.line_num - start) if reason == "malformed" else 0
        if reason:
            rows.skipped[reason] += 1
        else:
            yield row[column].strip()


def _member(name: str) -> bool:
    parts = Path(name).parts
    return Path(name).suffix.lower() in SUFFIXES and not (parts[0] == "__MACOSX" or parts[-1].startswith("._"))


def _streams(path: Path) -> Iterator[tuple[str, object]]:
    """(name, open text stream) of each corpus file in ``path``: the file itself, or the .csv,
    .tsv and .txt members of a .zip (as PatentsView ships its tables) in name order."""
    if path.suffix.lower() != ".zip":
        with _open_text(path) as stream:
            yield str(path), stream
        return
    with zipfile.ZipFile(path) as archive:
        names = sorted(name for name in archive.namelist() if _member(name))
        if not names:
            raise UserError(f"{path} holds no .csv, .tsv or .txt file; pass a corpus file or an archive of some")
        for name in names:
            with archive.open(name) as raw, io.TextIOWrapper(raw, encoding="utf-8-sig", newline="") as stream:
                yield f"{path}:{name}", stream


def _file_texts(path: Path, text_column: str | None, rows: Rows) -> Iterator[str]:
    line = 0
    try:
        for name, stream in _streams(path):
            delimiter = TABLES.get(_base_suffix(Path(name)))
            texts = _lines(stream) if delimiter is None else _table(stream, name, delimiter, text_column, rows)
            for line, text in enumerate(texts, 1):
                yield text
    except UnicodeDecodeError as err:
        raise UserError(
            f"{path} is not UTF-8 (byte 0x{err.object[err.start]:02x}, after its document {line}); re-encode it, "
            "e.g. `iconv -f latin1 -t utf-8 IN > OUT`, and pass the new file"
        ) from None
    except csv.Error as err:  # only the header row gets here
        raise UserError(f"{path}: the header row is malformed ({err}); fix the first line of the file") from None
    except (OSError, EOFError, zlib.error, zipfile.BadZipFile) as err:
        raise UserError(f"{path} cannot be read ({err}); pass a whole, readable file (gzip -t or unzip -t checks one)") from None


def iter_texts(path: str | Path, text_column: str | None = None, rows: Rows | None = None) -> Iterator[str]:
    """The documents of a corpus, streamed from disk: a table's text column (``text_column``, else
    patent_abstract or body) or one document per line, file by file. Bad rows are counted in ``rows``."""
    rows = Rows() if rows is None else rows
    csv.field_size_limit(MAX_FIELD_CHARS)
    for file in corpus_files(path):
        for text in _file_texts(file, text_column, rows):
            rows.kept += 1
            yield text


def read_texts(path: str | Path, text_column: str | None = None, report: Callable[[str], None] | None = None) -> list[str]:
    """The documents of a corpus (see ``iter_texts``) as a list; ``report`` gets one line when
    bad rows were skipped. Raises UserError when no usable document is left."""
    rows = Rows()
    texts = list(iter_texts(path, text_column, rows))
    if not texts:
        why = f" ({rows.why()})" if rows.skipped else ""
        raise UserError(f"corpus {path} holds no usable document{why}; pass a corpus with text in it")
    if rows.skipped and report is not None:
        report(f"{path}: skipped {rows.why()}")
    return texts
