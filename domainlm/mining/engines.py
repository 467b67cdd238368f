"""The counting engines of `mine_terms`: this machine's processes, or a Ray cluster, behind one interface.

`counting_engine(config)` chooses one from `config.engine` once (`ENGINES`); mining then only calls
its methods, the same for both:

- `session()`: what the counting needs connected for the run (Ray; nothing locally);
- `resolve(corpus, reference)`: every path resolved up front, so a missing file fails before any
  long count (and what the two corpora share is said);
- `count_category(corpus, **settings)`: the category corpus counted while mining waits;
- `count_reference(reference, **settings)`: the reference counted in the background (a child
  process, or a driver thread over Ray), a `BackgroundWork` whose `result()` mining collects later.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Protocol

from domainlm.corpus import CorpusReader
from domainlm.errors import CorpusError, warn
from domainlm.mining.config import MineConfig
from domainlm.mining.counting import BackgroundCount, BackgroundWork, WordCounts, count_words_cached
from domainlm.mining.distributed import RayBackgroundCount, check_readable, count_words_ray, ray_session


class CountingEngine(Protocol):
    name: str

    def session(self) -> AbstractContextManager: ...

    def resolve(self, corpus, reference) -> None: ...

    def count_category(self, corpus, **settings) -> WordCounts: ...

    def count_reference(self, reference, **settings) -> BackgroundWork: ...


@contextmanager
def named(what: str) -> Iterator[None]:
    """A corpus error raised inside says which corpus it is about ("Reference corpus: ...")."""
    try:
        yield
    except CorpusError as e:
        raise type(e)(f"{what}: {e.message}", e.hint) from None


def _local_files(corpus) -> set[Path]:
    try:
        return {f.resolve() for _, files in CorpusReader(corpus, warn=False).files for f in files or ()}
    except (CorpusError, OSError):
        return set()  # unreadable: resolving says so


def warn_shared_files(corpus, reference) -> None:
    """The reference is what makes a term specific: a category file that is also a reference file
    ranks its words against themselves (every word equally common in both)."""
    shared = _local_files(corpus) & _local_files(reference)
    if shared:
        names = ", ".join(sorted(str(f) for f in shared)[:3]) + (" …" if len(shared) > 3 else "")
        warn(
            f"The category corpus and the reference corpus share {len(shared):,} file(s) ({names}): its words are "
            "compared with themselves, so no term stands out as specific to the category. Pass general text "
            "(e.g. general/kowiki_sample.txt.gz) as --reference."
        )


class LocalCounting:
    """Counting in this machine's processes (`domainlm.mining.counting`)."""

    name = "local"

    def __init__(self, config: MineConfig):
        self.config = config

    def session(self) -> AbstractContextManager:
        return nullcontext()

    def resolve(self, corpus, reference) -> None:
        # The category corpus is read right away: its own errors come soon enough.
        with named("Reference corpus"):
            CorpusReader(reference)
        warn_shared_files(corpus, reference)

    def count_category(self, corpus, **settings) -> WordCounts:
        with named("Category corpus"):
            return count_words_cached(corpus, use_cache=False, **settings)

    def count_reference(self, reference, **settings) -> BackgroundWork:
        return BackgroundCount(reference, **settings)


class RayCounting:
    """Counting on a Ray cluster or a local Ray instance (`domainlm.mining.distributed`); reads
    remote paths (s3://, gs://) too."""

    name = "ray"

    def __init__(self, config: MineConfig):
        self.config = config
        self._category: list | None = None
        self._reference: list | None = None

    def session(self) -> AbstractContextManager:
        return ray_session(self.config.ray_address, self.config.workers)

    def resolve(self, corpus, reference) -> None:
        # Both corpora, local and remote, before Ray starts or the long category count runs.
        with named("Reference corpus"):
            self._reference = check_readable(reference)
        with named("Category corpus"):
            self._category = check_readable(corpus)

    def count_category(self, corpus, **settings) -> WordCounts:
        with named("Category corpus"):
            return count_words_ray(corpus, resolved=self._category, **settings)

    def count_reference(self, reference, **settings) -> BackgroundWork:
        return RayBackgroundCount(reference, resolved=self._reference, **settings)


ENGINES: dict[str, type[LocalCounting] | type[RayCounting]] = {"local": LocalCounting, "ray": RayCounting}


def counting_engine(config: MineConfig) -> CountingEngine:
    """The engine `config.engine` names (`MineConfig` admits only the names of `ENGINES`)."""
    return ENGINES[config.engine](config)
