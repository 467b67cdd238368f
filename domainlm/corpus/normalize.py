"""Korean text normalisation, following the rules of the original Korean BERT models.

NFKC (full-width ｆｕｌｌ １２３ → full 123, ㎖ → ml, … → ...) except on Hangul compatibility jamo, which
NFKC would turn into conjoining jamo (ㅋㅋ would stop being ㅋㅋ, ㅋㅏ would become 카); keep Hangul syllables, Hangul compatibility jamo (ㅋㅋ, ㅠㅠ carry meaning in reviews), Latin
letters, digits and a configurable set of punctuation; drop Hanja, emoji and every other symbol;
optionally mask URLs, e-mail addresses and phone numbers; cap runs of one repeated character;
collapse whitespace. The same function is used for mining, vocab building and training so that a
term mined from normalised text is exactly what the tokenizer sees.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cached_property

from pydantic import BaseModel, ConfigDict, Field

DEFAULT_PUNCTUATION = ".,!?~'\"()[]%/:;-+&@#*^"

_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_HAS_DIGIT_RUN = re.compile(r"\d\d\d")
_PHONE = re.compile(r"(?<!\d)(?:0\d{1,2}[-. ]?\d{3,4}[-. ]?\d{4}|\+82[-. ]?\d{1,2}[-. ]?\d{3,4}[-. ]?\d{4})(?!\d)")


# Hangul compatibility jamo as typed in reviews (ㄱ-ㆎ): left as they are.
_COMPAT_JAMO = re.compile("[\u3131-\u318e]+")
_HALFWIDTH = re.compile("[\uffa0-\uffdc]")
# Half-width Hangul letters: NFKC sends them through the compatibility jamo on to conjoining jamo;
# they become the compatibility jamo they are narrow forms of.
_HALFWIDTH_TO_JAMO = {cp: int(unicodedata.decomposition(chr(cp)).split()[1], 16) for cp in range(0xFFA0, 0xFFDD)
                      if unicodedata.decomposition(chr(cp)).startswith("<narrow>")}


def nfkc_keeping_jamo(text: str) -> str:
    """NFKC, except that Hangul compatibility jamo (ㅋㅋ, ㅠㅠ, ㄳ) stay as they are."""
    if text.isascii():
        return text
    if _HALFWIDTH.search(text):
        text = text.translate(_HALFWIDTH_TO_JAMO)
    if not _COMPAT_JAMO.search(text):
        return unicodedata.normalize("NFKC", text)
    parts, pos = [], 0
    for m in _COMPAT_JAMO.finditer(text):
        parts.append(unicodedata.normalize("NFKC", text[pos:m.start()]))
        parts.append(m.group())
        pos = m.end()
    parts.append(unicodedata.normalize("NFKC", text[pos:]))
    return "".join(parts)


class NormalizeConfig(BaseModel):
    """How raw text becomes model text."""

    model_config = ConfigDict(extra="forbid")

    punctuation: str = Field(DEFAULT_PUNCTUATION, description="Punctuation characters kept; every other symbol becomes a space")
    mask_urls: bool = Field(True, description="Replace URLs by the placeholder 'URL'")
    mask_emails: bool = Field(True, description="Replace e-mail addresses by 'EMAIL'")
    mask_phones: bool = Field(True, description="Replace phone numbers by 'PHONE'")
    max_char_repeat: int | None = Field(3, ge=1, description="Cap a run of one repeated character (ㅋㅋㅋㅋㅋ → ㅋㅋㅋ); null keeps runs")
    lowercase: bool = Field(False, description="Lowercase Latin letters (the tokenizer also does)")


class Normalizer:
    """Callable normaliser compiled once from a `NormalizeConfig`."""

    def __init__(self, config: NormalizeConfig | None = None):
        self.config = config or NormalizeConfig()

    @cached_property
    def _drop(self) -> re.Pattern:
        punct = re.escape(self.config.punctuation)
        # Hangul syllables, compatibility jamo (ㄱ-ㅎ ㅏ-ㅣ), ASCII letters and digits, kept punctuation.
        return re.compile(f"[^가-힣ㄱ-ㅣA-Za-z0-9{punct}\\s]+")

    @cached_property
    def _repeat(self) -> re.Pattern | None:
        n = self.config.max_char_repeat
        return re.compile(r"(\S)\1{%d,}" % n) if n else None

    def __call__(self, text: str) -> str:
        cfg = self.config
        text = nfkc_keeping_jamo(text)
        # Cheap substring pre-checks skip the costly regexes on the ~99% of reviews without them.
        if cfg.mask_urls and ("://" in text or "www." in text or "WWW." in text):
            text = _URL.sub(" URL ", text)
        if cfg.mask_emails and "@" in text:
            text = _EMAIL.sub(" EMAIL ", text)
        if cfg.mask_phones and _HAS_DIGIT_RUN.search(text):
            text = _PHONE.sub(" PHONE ", text)
        text = self._drop.sub(" ", text)
        if self._repeat is not None:
            n = cfg.max_char_repeat
            text = self._repeat.sub(lambda m: m.group(1) * n, text)
        if cfg.lowercase:
            text = text.lower()
        return " ".join(text.split())


def normalize(text: str, config: NormalizeConfig | None = None) -> str:
    """Normalise one text (compiles the rules each call: use `Normalizer` in loops)."""
    return Normalizer(config)(text)
