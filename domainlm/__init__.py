"""domainlm: domain adaptation of pretrained Korean encoder language models."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("domainlm")
except PackageNotFoundError:  # running from a source checkout without install
    __version__ = "0.1.0"

from domainlm.errors import DomainLMError  # noqa: E402

__all__ = ["__version__", "DomainLMError"]
