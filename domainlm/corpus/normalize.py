"""Korean text normalisation, following the rules of the original Korean BERT models.

NFKC (full-width ｆｕｌｌ １２３ → full 123, ㎖ → ml, … → ...) except on Hangul compatibility jamo, which
NFKC would turn into conjoining jamo (ㅋㅋ would stop being ㅋㅋ, ㅋㅏ would become 카); keep Hangul syllables,
Hangul compatibility jamo (ㅋㅋ, ㅠㅠ carry meaning in reviews), Latin
letters, digits and a configurable set of punctuation; drop Hanja, emoji and every other symbol;
optionally mask URLs, e-mail addresses and phone numbers; cap runs of one repeated character;
collapse whitespace. The same function is used for mining, vocab building and training so that a
term mined from normalised text is exactly what the tokenizer sees.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from functools import cached_property

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

DEFAULT_PUNCTUATION = ".,!?~'\"()[]%/:;-+&@#*^"

# Letters and digits the normaliser keeps (with the configured punctuation and whitespace).
WORD_CHARS = "가-힣ㄱ-ㅣA-Za-z0-9"

# Each mask with what any of its matches must contain (a cheap search that picks the lines to rewrite).
_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_HAS_URL = re.compile(r"[:wW](?://|[wW][wW]\.)")  # "://" or "www." in any case; twice as fast as with IGNORECASE
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_HAS_EMAIL = re.compile("@")
_PHONE = re.compile(r"(?<!\d)(?:0\d{1,2}[-. ]?\d{3,4}[-. ]?\d{4}|\+82[-. ]?\d{1,2}[-. ]?\d{3,4}[-. ]?\d{4})(?!\d)")
_HAS_PHONE = re.compile(r"0(?<!\d0)\d|\+82")  # how a match starts: a 0 not after a digit, then a digit; or +82
# Above this many characters (a batch of documents, as mining counts them) runs of repeated
# characters are found with numpy; one short document is quicker with the regex alone.
LONG_TEXT = 4096


# Hangul compatibility jamo as typed in reviews (ㄱ-ㆎ): left as they are.
_COMPAT_JAMO = re.compile("[\u3131-\u318e]+")
# What NFKC leaves as it is in any context (quick check "yes", combining class 0; tested against
# unicodedata): ASCII, Hangul syllables, CJK ideographs, and the compatibility jamo kept anyway. A
# text made of these alone is normalised already.
_NFKC_STABLE = "\x00-\x7f\uac00-\ud7a3\u4e00-\u9fff\u3131-\u318e"
_NFKC_UNSTABLE = re.compile(f"[^{_NFKC_STABLE}]")
_HALFWIDTH = re.compile("[\uffa0-\uffdc]")
# Half-width Hangul letters: NFKC sends them through the compatibility jamo on to conjoining jamo;
# they become the compatibility jamo they are narrow forms of.
_HALFWIDTH_TO_JAMO = {
    cp: int(unicodedata.decomposition(chr(cp)).split()[1], 16)
    for cp in range(0xFFA0, 0xFFDD)
    if unicodedata.decomposition(chr(cp)).startswith("<narrow>")
}


def rewrite_segments(text: str, hits: Iterable[int], sep: str, rewrite: Callable[[str], str]) -> str:
    """`text` with each `sep`-delimited segment that holds one of the positions `hits` (ascending)
    replaced by `rewrite(segment)`, the others left as they are.

    This is `rewrite(text)` whenever `rewrite` acts on each segment as if it were alone (it never
    matches or looks across `sep`) and leaves the segments without a hit unchanged.
    """
    parts: list[str] = []
    pos = 0
    for hit in hits:
        if hit < pos:
            continue  # in a segment rewritten already
        start = text.rfind(sep, 0, hit) + 1
        end = text.find(sep, hit)
        end = len(text) if end < 0 else end
        parts += (text[pos:start], rewrite(text[start:end]))
        pos = end
    if not parts:
        return text
    parts.append(text[pos:])
    return "".join(parts)


def sub_lines(text: str, pattern: re.Pattern, repl: str, hint: re.Pattern) -> str:
    """`pattern.sub(repl, text)` on the lines where `hint` (something every match contains) is found.

    Mining normalises newline-joined batches of documents: a mask's regex scanning all of a batch
    costs more than the rest of the normaliser, while its matches sit in a few lines. None of the
    masks matches across a line break or looks at one, so this is the whole-text substitution, and
    the same as normalising each line alone.
    """
    if hint.search(text) is None:  # the common case: one search
        return text
    return rewrite_segments(text, (m.start() for m in hint.finditer(text)), "\n", lambda line: pattern.sub(repl, line))


def nfkc_keeping_jamo(text: str) -> str:
    """NFKC, except that Hangul compatibility jamo (ㅋㅋ, ㅠㅠ, ㄳ) stay as they are.

    Only the space-separated tokens holding a character NFKC may change are normalised: a space
    takes part in no composition and no reordering, so NFKC never looks across it, and the rest is
    unchanged (`_NFKC_STABLE`). Korean text has few such characters: one scan finds them.
    """
    if text.isascii():
        return text
    hit = _NFKC_UNSTABLE.search(text)
    if hit is None:
        return text
    return rewrite_segments(
        text, (m.start() for m in _NFKC_UNSTABLE.finditer(text, hit.start())), " ", _nfkc_keeping_jamo
    )


def _nfkc_keeping_jamo(text: str) -> str:
    if _HALFWIDTH.search(text):
        text = text.translate(_HALFWIDTH_TO_JAMO)
    if not _COMPAT_JAMO.search(text):
        return unicodedata.normalize("NFKC", text)
    parts: list[str] = []
    pos = 0
    for m in _COMPAT_JAMO.finditer(text):
        parts.append(unicodedata.normalize("NFKC", text[pos : m.start()]))
        parts.append(m.group())
        pos = m.end()
    parts.append(unicodedata.normalize("NFKC", text[pos:]))
    return "".join(parts)


class NormalizeConfig(BaseModel):
    """How raw text becomes model text."""

    model_config = ConfigDict(extra="forbid")

    punctuation: str = Field(
        DEFAULT_PUNCTUATION, description="Punctuation characters kept; every other symbol becomes a space"
    )
    mask_urls: bool = Field(True, description="Replace URLs by the placeholder 'URL'")
    mask_emails: bool = Field(True, description="Replace e-mail addresses by 'EMAIL'")
    mask_phones: bool = Field(True, description="Replace phone numbers by 'PHONE'")
    max_char_repeat: int | None = Field(
        3, ge=1, description="Cap a run of one repeated character (ㅋㅋㅋㅋㅋ → ㅋㅋㅋ); null keeps runs"
    )
    lowercase: bool = Field(False, description="Lowercase Latin letters (the tokenizer also does)")


class Normalizer:
    """Callable normaliser compiled once from a `NormalizeConfig`."""

    def __init__(self, config: NormalizeConfig | None = None):
        self.config = config or NormalizeConfig()

    @cached_property
    def _drop(self) -> re.Pattern:
        """Runs of what is not kept, whitespace included, except a lone space between kept characters.

        Kept: Hangul syllables, compatibility jamo (ㄱ-ㅎ ㅏ-ㅣ), ASCII letters and digits, the
        configured punctuation. Each run becomes one space, so one pass drops every other symbol AND
        collapses whitespace (the regex's \\s is exactly str.split's whitespace), and the lone spaces
        that separate most words are left alone instead of being replaced.
        """
        keep = WORD_CHARS + re.escape("".join(ch for ch in self.config.punctuation if not ch.isspace()))
        return re.compile(f"[^{keep}]{{2,}}|[^{keep} ]")

    @cached_property
    def _repeat(self) -> re.Pattern | None:
        n = self.config.max_char_repeat
        return re.compile(rf"(\S)\1{{{n},}}") if n else None

    def __call__(self, text: str) -> str:
        cfg = self.config
        text = nfkc_keeping_jamo(text)
        if cfg.mask_urls:
            text = sub_lines(text, _URL, " URL ", _HAS_URL)
        if cfg.mask_emails:
            text = sub_lines(text, _EMAIL, " EMAIL ", _HAS_EMAIL)
        if cfg.mask_phones:
            text = sub_lines(text, _PHONE, " PHONE ", _HAS_PHONE)
        # Whitespace is collapsed before runs are capped (a run never contains whitespace, so the
        # order does not matter): then every run sits inside one space-separated token.
        text = self._drop.sub(" ", text).strip(" ")
        if self._repeat is not None:
            text = self._cap_runs(text)
        if cfg.lowercase:
            text = text.lower()
        return text

    def _cap_runs(self, text: str) -> str:
        """Runs of one character longer than `max_char_repeat` cut to it, in collapsed text.

        On a long text the regex alone (a backreference tried at every character) costs more than
        all the other rules together; numpy finds where runs start in one vectorised pass, and the
        regex rewrites only the tokens holding one (it never matches across a space).
        """
        n, repeat = self.config.max_char_repeat, self._repeat
        if not n or repeat is None:  # no cap configured
            return text
        cap = lambda m: m.group(1) * n  # noqa: E731
        if len(text) < LONG_TEXT:
            return repeat.sub(cap, text)
        codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
        same = codes[1:] == codes[:-1]  # same[i]: character i+1 repeats character i
        width = len(same) - n + 1
        if width <= 0:
            return text
        run = same[:width].copy()
        for k in range(1, n):
            run &= same[k : k + width]  # run[i]: characters i..i+n are one character
        # Collapsed text has no run of spaces, so each start lies inside a space-separated token.
        return rewrite_segments(text, np.flatnonzero(run).tolist(), " ", lambda token: repeat.sub(cap, token))


def normalize(text: str, config: NormalizeConfig | None = None) -> str:
    """Normalise one text (compiles the rules each call: use `Normalizer` in loops)."""
    return Normalizer(config)(text)
