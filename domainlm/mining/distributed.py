"""The corpus pass of mining on Ray (`mine.engine: ray`): read, normalise, pre-tokenize, count.

Where one machine is not enough, the word counts come from a Ray cluster (or a local Ray instance)
instead of this machine's processes; candidate derivation and selection stay on the driver, which
only ever holds distinct words.

The pipeline is Ray Data:

1. `read_datasource(_CorpusDatasource)` — one read task per group of files, local or remote (any
   pyarrow filesystem: s3://, gs://, hdfs://, a shared local path). Each file is read by the SAME
   code as `CorpusReader`: its format's reader from the registry (`domainlm.corpus.formats`), over
   the corpus reader's compressions, encoding detection, NUL check and long-line skip, so
   documents, filters and error messages are the local ones.
2. `map_batches(_count_batch)` — every block of documents is normalised, pre-tokenized and counted
   by `counting.Tally`, the class the local workers use, and becomes (word, count) rows. The
   batch totals (documents, bytes, words, eojeols) and a few sample documents travel as rows with
   reserved keys (see `_STAT`): a pre-tokenized word is never longer than one character when it
   starts with a control character, so these keys cannot collide with a word.
3. `groupby("word").sum("count")` — Ray's distributed hash aggregation merges the partial counts
   across the cluster (the shuffle spills to disk under memory pressure).
4. The driver streams the merged rows into one Counter under `counting.prune`, the local engine's
   rule: it never holds more than `max_words` words; past that the rarest are dropped. As every
   word arrives once, with its full count, the words kept have exact counts (the local engine's
   workers prune partial counts, so theirs can be short).

Without pruning, counts, totals and therefore terms are exactly the local engine's
(tests/test_mining_ray.py). Example contexts come from a different sample of documents.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from domainlm.corpus import CorpusSpec, NormalizeConfig, corpus_specs
from domainlm.corpus.files import COMPRESSIONS, Document, ReadStats, decompressed
from domainlm.corpus.formats import CorpusFile, corpus_suffixes, format_for, is_corpus_file
from domainlm.corpus.reader import expand_paths, is_saved_dataset
from domainlm.errors import CorpusError, MiningError
from domainlm.mining.counting import BATCH_CHARS, Tally, WordCounts, prune

RAY_HINT = 'Install the extra: pip install "domainlm[ray]" (or use --engine local).'
# Reserved keys of the counted rows (see module doc).
_STAT = "\x00"
_SAMPLE = "\x01"
_STAT_FIELDS = ("documents", "raw_bytes", "characters", "words", "eojeols")
# Sample documents a block contributes (the driver thins them to an even sample).
SAMPLE_PER_BLOCK = 8
# How long the driver waits for a cluster address or a remote store before it gives up.
CONNECT_TIMEOUT_S = float(os.environ.get("DOMAINLM_RAY_CONNECT_TIMEOUT", "15"))
REMOTE_TIMEOUT_S = float(os.environ.get("DOMAINLM_REMOTE_TIMEOUT", "30"))


def import_ray():
    """`ray` and `ray.data`, or a MiningError naming the extra."""
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError as e:
        raise MiningError(
            f"The Ray engine needs Ray with Ray Data, which is not installed ({e.msg}).", RAY_HINT
        ) from None
    return ray


def is_remote(path: str) -> bool:
    return "://" in path and not path.startswith("file://")


# ---------------------------------------------------------------- connecting


def _check_reachable(address: str) -> None:
    """Fail fast when HOST:PORT (or ray://HOST:PORT) does not answer: ray.init would wait minutes."""
    target = address.split("://", 1)[-1]
    host, _, port = target.rpartition(":")
    if not host or not port.isdigit():
        raise MiningError(
            f"--ray-address {address!r} is not 'auto', HOST:PORT or ray://HOST:PORT.",
            "Pass the address `ray start --head` printed (e.g. 10.0.0.5:6379), or auto on a cluster node.",
        )
    try:
        with socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT_S):
            pass
    except OSError as e:
        raise MiningError(
            f"Cannot reach the Ray cluster at {address}: {e.strerror or e} (waited up to {CONNECT_TIMEOUT_S:.0f} s).",
            "Start it (`ray start --head` on the head node), check the address and the firewall, "
            "or drop --ray-address to run a local Ray instance.",
        ) from None


@contextmanager
def ray_session(address: str | None = None, workers: int | None = None) -> Iterator[object]:
    """A connected Ray: the one already initialised in this process, a cluster, or a local instance.

    `address`: None starts a local instance (`workers` CPUs, default all) that is shut down
    afterwards; "auto" joins the cluster this machine belongs to; HOST:PORT / ray://HOST:PORT a
    remote one (checked with a bounded TCP connect first).
    """
    ray = import_ray()
    if address and address != "auto":
        _check_reachable(address)
    if ray.is_initialized():
        yield ray
        return
    kwargs = dict(include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        if address:
            ray.init(address=address, **kwargs)
        else:
            ray.init(num_cpus=workers, **kwargs)
    except ConnectionError as e:
        raise MiningError(
            f"Cannot connect to the Ray cluster at {address}: {e}",
            "On a cluster node, `ray start --head` first (or `ray status` to check); "
            "drop --ray-address to run a local Ray instance.",
        ) from None
    try:
        yield ray
    finally:
        ray.shutdown()


def cluster_cpus(ray) -> int:
    return max(1, int(ray.cluster_resources().get("CPU", 1)))


# ---------------------------------------------------------------- resolving paths


def _remote_files(path: str) -> tuple[object, list[tuple[str, str]]]:
    """(pyarrow filesystem, [(path for the filesystem, path to show)]) of a remote file or folder."""
    import pyarrow.fs as pafs

    scheme = path.split("://", 1)[0]
    if any(ch in path for ch in "*?["):
        raise CorpusError(
            f"'{path}': patterns are not supported for remote paths.",
            "Name a file or a folder (all its corpus files are read).",
        )
    outcome: dict = {}

    def resolve() -> None:
        try:
            fs, inner = pafs.FileSystem.from_uri(path)
            info = fs.get_file_info(inner)
            if info.type == pafs.FileType.NotFound:
                outcome["error"] = CorpusError(f"Corpus path '{path}' does not exist.", "Check the bucket and key.")
                return
            if info.type == pafs.FileType.Directory:
                infos = fs.get_file_info(pafs.FileSelector(inner, recursive=True))
                files = sorted(i.path for i in infos if i.type == pafs.FileType.File and is_corpus_file(Path(i.path)))
            else:
                files = [inner]
            outcome["ok"] = (fs, files)
        except Exception as e:  # noqa: BLE001 - every failure of a store becomes one clear message
            outcome["error"] = e

    worker = threading.Thread(target=resolve, daemon=True)
    worker.start()
    worker.join(REMOTE_TIMEOUT_S)
    hint = (
        "Check the path and the credentials of that store on this machine AND on every Ray worker "
        "(s3: AWS_ACCESS_KEY_ID / AWS_PROFILE / an instance role; gs: GOOGLE_APPLICATION_CREDENTIALS), and the network."
    )
    if worker.is_alive():
        raise CorpusError(f"Cannot reach '{path}': no answer within {REMOTE_TIMEOUT_S:.0f} s.", hint)
    error = outcome.get("error")
    if isinstance(error, CorpusError):
        raise error
    if error is not None:
        text = str(error)
        if "Unrecognized filesystem type" in text or "not supported" in text.lower() or isinstance(error, ImportError):
            raise CorpusError(
                f"No filesystem can read '{path}': pyarrow has none for {scheme}://.",
                "Ray Data reads s3://, gs:// (gcs://), hdfs:// and local paths; copy the data to one of those.",
            ) from None
        raise CorpusError(f"Cannot read '{path}': {type(error).__name__}: {text}", hint) from None
    fs, files = outcome["ok"]
    if not files:
        raise CorpusError(
            f"The folder '{path}' holds no readable corpus files.",
            f"Readable files end in {', '.join(corpus_suffixes())} (optionally compressed: {', '.join(COMPRESSIONS)}).",
        )
    return fs, [(f, f"{scheme}://{f}") for f in files]


def resolve_files(spec: CorpusSpec) -> tuple[object, list[tuple[str, str]]]:
    """The files of one corpus for the Ray readers: (filesystem, [(path to read, path to show)])."""
    import pyarrow.fs as pafs

    if is_remote(spec.path):
        return _remote_files(spec.path)
    local = spec.path.removeprefix("file://")
    if spec.path.startswith("hf:") or is_saved_dataset(Path(local)):
        raise MiningError(
            f"The Ray engine reads files, not `datasets` datasets ('{spec.path}').",
            "Export it to parquet or jsonl (dataset.to_parquet(...)), or use --engine local.",
        )
    files = expand_paths(local)  # missing paths, empty folders and patterns fail as they do locally
    # Absolute paths: on a cluster every node must see them (a shared filesystem).
    return pafs.LocalFileSystem(), [(str(f.resolve()), str(f)) for f in files]


def check_readable(corpus) -> list[tuple[CorpusSpec, object, list[tuple[str, str]]]]:
    """Resolve every corpus of `corpus` (spec | path | list), raising CorpusError up front."""
    return [(s, *resolve_files(s)) for s in corpus_specs(corpus)]


# ---------------------------------------------------------------- reading (on the workers)


def _datasource_class():
    from ray.data.datasource import FileBasedDatasource

    class CorpusDatasource(FileBasedDatasource):
        """Documents of corpus files, read by their format's reader (`domainlm.corpus.formats`)."""

        def __init__(self, paths: list[str], spec: CorpusSpec, shown: dict[str, str], filesystem):
            super().__init__(paths, filesystem=filesystem)
            self.spec = spec
            self.shown = shown

        def resolve_compression(self, path, open_args):
            return None  # the raw bytes: compressions are undone by domainlm.corpus.files, as locally

        def _open_input_source(self, filesystem, path, **open_args):
            if format_for(path).random_access:
                return filesystem.open_input_file(path)  # parquet needs random access
            return super()._open_input_source(filesystem, path, **open_args)

        def _read_stream(self, f, path: str):
            import pyarrow as pa

            shown = self.shown.get(path, path)
            docs = _documents(f, path, shown, self.spec)
            texts: list[str] = []
            ids: list[str | None] = []
            lines: list[int] = []
            size = 0
            for doc in docs:
                texts.append(doc.text)
                ids.append(doc.id)
                lines.append(doc.line)
                size += len(doc.text)
                if size >= BATCH_CHARS:
                    yield pa.table(
                        {"text": texts, "id": pa.array(ids, pa.string()), "line": lines, "source": [shown] * len(texts)}
                    )
                    texts, ids, lines, size = [], [], [], 0
            if texts:
                yield pa.table(
                    {"text": texts, "id": pa.array(ids, pa.string()), "line": lines, "source": [shown] * len(texts)}
                )

    return CorpusDatasource


def _documents(f, path: str, shown: str, spec: CorpusSpec) -> Iterator[Document]:
    """The documents of one file a worker opened, by the local reader of its format; messages name `shown`."""
    fmt = format_for(path)
    if fmt.random_access:
        file = CorpusFile(shown, ReadStats(), handle=f)
    else:
        file = CorpusFile(shown, ReadStats(), opened=decompressed(f, path))
    return fmt.read_documents(file, spec)


# ---------------------------------------------------------------- counting (on the workers)

SORT_SHUFFLE_MAX_BYTES = 4 << 30
_DEFAULT_SHUFFLE: dict = {}


def _sizes(resolved) -> Iterator[int]:
    for _, fs, files in resolved:
        try:
            for info in fs.get_file_info([p for p, _ in files]):
                yield info.size or 0
        except Exception:  # noqa: BLE001 - sizes only choose the shuffle
            yield 0


def _count_block(block, normalize: NormalizeConfig, lowercase: bool, keep: Callable[[object], bool] | None):
    """(word, count) rows of one block of documents, plus its totals and sample under reserved keys."""
    import pyarrow as pa

    texts = block.column("text").to_pylist()
    if keep is not None:
        ids = block.column("id").to_pylist()
        lines = block.column("line").to_pylist()
        sources = block.column("source").to_pylist()
        texts = [t for t, i, n, s in zip(texts, ids, lines, sources) if keep(Document(t, i, s, n))]
    tally = Tally(normalize, lowercase, max_words=1 << 62, sample_size=SAMPLE_PER_BLOCK)
    # As the local engine's batches: a document's newlines become spaces before the join.
    tally.add_texts([t.replace("\n", " ") for t in texts if t])
    counts = tally.counts
    keys = list(counts)
    values = list(counts.values())
    for name in _STAT_FIELDS:
        keys.append(_STAT + name)
        values.append(getattr(tally, name))
    for doc in tally.sample:
        keys.append(_SAMPLE + doc)
        values.append(1)
    return pa.table({"word": pa.array(keys, pa.string()), "count": pa.array(values, pa.int64())})


def _drop_rare(block, min_count: int):
    import pyarrow.compute as pc

    counts = block.column(1)
    words = block.column(0)
    reserved = pc.or_(pc.starts_with(words, _STAT), pc.starts_with(words, _SAMPLE))
    return block.filter(pc.or_(pc.greater_equal(counts, min_count), reserved))


def _error_cause(error: BaseException) -> BaseException:
    """The exception raised in a worker behind Ray's wrappers (RayTaskError, UserCodeException)."""
    seen = set()
    while id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, (CorpusError, MiningError)):
            return error
        nxt = getattr(error, "cause", None) or error.__cause__
        if nxt is None:
            break
        error = nxt
    return error


def count_words_ray(
    corpus,
    *,
    normalize: NormalizeConfig | None = None,
    lowercase: bool = True,
    max_words: int = 2_000_000,
    max_documents: int | None = None,
    keep: Callable[[object], bool] | None = None,
    sample: int = 0,
    min_count: int = 1,
    resolved=None,
    description: str = "counting words",
    **_ignored,
) -> WordCounts:
    """`counting.count_words` on Ray Data (see module doc). Needs a connected Ray (`ray_session`).

    `min_count` drops rarer words on the workers, before they travel to the driver (the reference).
    """
    ray = import_ray()
    import ray.data as rd

    start = time.perf_counter()
    resolved = resolved or check_readable(corpus)
    ctx = rd.DataContext.get_current()
    ctx.enable_progress_bars = False
    ctx.print_on_execution_start = False
    if max_documents or any(spec.limit for spec, _, _ in resolved):
        ctx.execution_options.preserve_order = True  # "the first N documents", as locally
    cpus = cluster_cpus(ray)
    docs, keep = _documents_dataset(rd, resolved, cpus, keep, max_documents)
    counted = docs.map_batches(
        _count_block,
        batch_format="pyarrow",
        batch_size=None,
        fn_kwargs={"normalize": normalize or NormalizeConfig(), "lowercase": lowercase, "keep": keep},
    )
    merged = _merged(rd, ctx, counted, resolved, cpus, min_count)
    counts, totals, docs_sample, threshold = _collect(merged, max_words)
    if sample and len(docs_sample) > 2 * sample:
        docs_sample = docs_sample[:: len(docs_sample) // sample]
    out = WordCounts(
        counts=counts,
        workers=cpus,
        prune_threshold=threshold,
        sources=[shown for _, _, files in resolved for _, shown in files],
        sample=docs_sample,
        documents=totals["documents"],
        raw_bytes=totals["raw_bytes"],
        characters=totals["characters"],
        words=totals["words"],
        eojeols=totals["eojeols"],
    )
    out.seconds = time.perf_counter() - start
    return out


def _documents_dataset(rd, resolved, cpus: int, keep, max_documents: int | None):
    """(the dataset of every corpus's documents, the `keep` filter left for the counting step).

    With `max_documents`, `keep` filters here, before the limit (the first N documents it keeps).
    """
    Datasource = _datasource_class()
    parts = []
    for spec, fs, files in resolved:
        # Half a CPU a read task: resources unlike the counting step's keep Ray from fusing the two,
        # so the blocks of one big file are counted by every worker, not by the task reading it.
        ds = rd.read_datasource(
            Datasource([p for p, _ in files], spec, dict(files), fs),
            override_num_blocks=min(len(files), 4 * cpus),
            num_cpus=0.5,
        )
        if spec.limit:
            ds = ds.limit(spec.limit)
        parts.append(ds)
    ds = parts[0].union(*parts[1:]) if len(parts) > 1 else parts[0]
    if max_documents:
        if keep is not None:
            ds = ds.filter(lambda row: keep(Document(row["text"], row["id"], row["source"], row["line"])))
        return ds.filter(lambda row: bool(row["text"])).limit(max_documents), None
    return ds, keep


def _merged(rd, ctx, counted, resolved, cpus: int, min_count: int):
    """The counted rows summed by word across the cluster (rarer than `min_count` dropped there)."""
    total_bytes = sum(info for info in _sizes(resolved))
    # Ray's hash shuffle starts aggregator actors (~5 s) and pays off on large inputs spread over a
    # cluster; below SORT_SHUFFLE_MAX_BYTES the classic sort shuffle is several times faster.
    default = _DEFAULT_SHUFFLE.setdefault("strategy", ctx.shuffle_strategy)  # Ray's, before any change here
    ctx.shuffle_strategy = (
        rd.context.ShuffleStrategy.SORT_SHUFFLE_PULL_BASED if total_bytes < SORT_SHUFFLE_MAX_BYTES else default
    )
    merged = counted.groupby("word", num_partitions=max(2, min(200, 2 * cpus))).sum("count")
    if min_count > 1:
        merged = merged.map_batches(
            _drop_rare, batch_format="pyarrow", batch_size=None, fn_kwargs={"min_count": min_count}
        )
    return merged


def _collect(merged, max_words: int) -> tuple[Counter, dict[str, int], list[str], int]:
    """(counts, totals, sample documents, prune threshold) streamed from the merged rows on the driver;
    a worker's failure raised as one message."""
    counts: Counter = Counter()
    totals = dict.fromkeys(_STAT_FIELDS, 0)
    docs: list[str] = []
    threshold = 0
    # Ray Data logs every task failure with a full trace; the failure is raised here as one message.
    ray_log = logging.getLogger("ray.data")
    level = ray_log.level
    ray_log.setLevel(logging.CRITICAL)
    try:
        for block in merged.iter_batches(batch_format="pyarrow", batch_size=None):
            words = block.column(0).to_pylist()
            values = block.column(1).to_pylist()
            for word, value in zip(words, values):
                if word[0] == _STAT and len(word) > 1:
                    totals[word[1:]] += value
                elif word[0] == _SAMPLE and len(word) > 1:
                    docs.append(word[1:])
                else:
                    counts[word] = value
            if len(counts) > max_words:
                threshold = max(threshold, prune(counts, max_words))
    except Exception as e:  # noqa: BLE001 - a worker's CorpusError is raised as it is raised locally
        cause = _error_cause(e)
        if isinstance(cause, (CorpusError, MiningError)):
            raise cause from None
        raise MiningError(
            f"The Ray job failed: {type(cause).__name__}: "
            f"{str(cause).strip().splitlines()[-1] if str(cause).strip() else ''}",
            "Ray retries tasks whose worker died; this one failed for good. See the Ray logs "
            "(/tmp/ray/session_latest/logs) and run again.",
        ) from None
    finally:
        ray_log.setLevel(level)
    return counts, totals, docs, threshold


class RayBackgroundCount:
    """`count_words_ray` (or its cached result) in a driver thread, with `BackgroundCount`'s interface.

    The work runs on the Ray workers; the thread only drives Ray Data and collects the counts, so
    the main thread derives the category candidates meanwhile.
    """

    def __init__(self, corpus, min_count: int = 1, use_cache: bool = True, **kwargs):
        from domainlm.mining.counting import count_words_cached

        self._outcome: dict = {}

        def run() -> None:
            try:
                self._outcome["ok"] = count_words_cached(
                    corpus, use_cache=use_cache, counter=count_words_ray, min_count=min_count, **kwargs
                )
            except BaseException as e:  # noqa: BLE001 - raised again by result()
                self._outcome["error"] = e

        self._thread = threading.Thread(target=run, name="domainlm-ray-reference", daemon=True)
        self._thread.start()

    def __enter__(self) -> RayBackgroundCount:
        return self

    def __exit__(self, *exc) -> None:
        pass  # a Ray job cannot be stopped from here; the session's shutdown ends a local one

    def result(self) -> WordCounts:
        self._thread.join()
        if "error" in self._outcome:
            raise self._outcome["error"]
        return self._outcome["ok"]
