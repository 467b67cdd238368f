"""The Ray engine of mine-terms: same counts and terms as the local engine, and its bad inputs.

One local Ray instance (`ray.init(num_cpus=2)`) serves the whole session.
"""

from __future__ import annotations

import gzip
import json
import os
import sys
import time
from pathlib import Path

import pytest
from helpers.cli import shown
from helpers.tiny import TINY_TEXT

from domainlm.corpus import CorpusSpec
from domainlm.errors import CorpusError, MiningError
from domainlm.mining import MineConfig, distributed, mine_terms
from domainlm.mining.counting import count_words
from domainlm.mining.distributed import count_words_ray

SHARED = Path(os.environ.get("DOMAINLM_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
TOTALS = ("documents", "raw_bytes", "words", "eojeols")


@pytest.fixture(scope="session")
def ray_local():
    import ray

    if not ray.is_initialized():
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield ray
    ray.shutdown()


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("DOMAINLM_CACHE", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def corpora(tmp_path_factory) -> dict[str, Path]:
    """Real text in every format the engines read: NSMC rows (tsv.gz, with a split column),
    shopping reviews (jsonl and csv), Wikipedia paragraphs (txt)."""
    d = tmp_path_factory.mktemp("ray_corpora")
    with gzip.open(SHARED / "reviews" / "nsmc_reviews.tsv.gz", "rt", encoding="utf-8") as fh:
        nsmc = [next(fh) for _ in range(4001)]
    with gzip.open(d / "nsmc.tsv.gz", "wt", encoding="utf-8") as fh:
        fh.writelines(nsmc)
    rows = (SHARED / "reviews" / "naver_shopping_50k.tsv").read_text(encoding="utf-8").splitlines()[1:1501]
    shop = [dict(zip(("id", "rating", "text"), r.split("\t"))) for r in rows]
    (d / "shop").mkdir()
    (d / "shop" / "a.jsonl").write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in shop[:800]), encoding="utf-8"
    )
    (d / "shop" / "b.csv").write_text(
        "id,text\n" + "".join(f'{r["id"]},"{r["text"]}"\n' for r in shop[800:]), encoding="utf-8"
    )
    with gzip.open(SHARED / "general" / "kowiki_sample.txt.gz", "rt", encoding="utf-8") as fh:
        wiki = [next(fh) for _ in range(600)]
    (d / "wiki.txt").write_text("".join(wiki), encoding="utf-8")
    import lzma

    import pyarrow as pa
    import pyarrow.parquet as pq

    (d / "more").mkdir()
    pq.write_table(
        pa.table({"text": [r["text"] for r in shop[:400]], "rating": [r["rating"] for r in shop[:400]]}),
        d / "more" / "shop.parquet",
    )
    with lzma.open(d / "more" / "wiki.txt.xz", "wt", encoding="utf-8") as fh:
        fh.writelines(wiki[:200])
    reviews = [
        f"{t} {extra}"
        for i in range(900)
        for t, extra in [(TINY_TEXT[i % 7], ["재밌게 봤어요", "가성비 최고", "수분크림은 촉촉"][i % 3])]
    ]
    (d / "tiny_reviews.txt").write_text("\n".join(reviews) + "\n", encoding="utf-8")
    return {p.name: p for p in d.iterdir()}


def _specs(corpora):
    return [
        CorpusSpec(path=str(corpora["nsmc.tsv.gz"]), where={"split": "train"}),
        CorpusSpec(path=str(corpora["shop"])),
        CorpusSpec(path=str(corpora["wiki.txt"])),
        CorpusSpec(path=str(corpora["more"])),
    ]  # parquet and xz


def test_ray_counts_equal_local_counts(ray_local, corpora):
    specs = _specs(corpora)
    local = count_words(specs, workers=1)
    remote = count_words_ray(specs)
    assert remote.counts == local.counts and len(local.counts) > 20_000
    assert {k: getattr(remote, k) for k in TOTALS} == {k: getattr(local, k) for k in TOTALS}
    assert remote.prune_threshold == local.prune_threshold == 0
    assert remote.sample and all(isinstance(s, str) and s for s in remote.sample)


def test_ray_max_documents_and_keep_take_the_same_documents(ray_local, corpora):
    spec = CorpusSpec(path=str(corpora["nsmc.tsv.gz"]), where={"split": "train"}, id_field="review_id")
    keep = lambda doc: int(doc.id) % 3 != 0  # noqa: E731 - a held-out rule by id, as recipes have
    local = count_words(spec, workers=1, max_documents=700, keep=keep)
    remote = count_words_ray(spec, max_documents=700, keep=keep)
    assert local.documents == remote.documents == 700
    assert remote.counts == local.counts


def test_ray_pruning_keeps_the_bound(ray_local, corpora):
    spec = CorpusSpec(path=str(corpora["wiki.txt"]))
    full = count_words(spec, workers=1)
    pruned = count_words_ray(spec, max_words=10_000)
    assert len(pruned.counts) <= 10_000 < len(full.counts) and pruned.prune_threshold > 1
    # Each word reaches the driver once with its full count: what is kept is exact.
    assert all(full.counts[w] == c for w, c in pruned.counts.items())
    assert all(c >= pruned.prune_threshold for c in pruned.counts.values())


def test_ray_engine_mines_the_same_terms(ray_local, corpora, tiny_tokenizer_dir, tmp_path):
    def mine(engine: str):
        cfg = MineConfig(slots=20, min_count=3, workers=1, engine=engine)
        return mine_terms(
            str(corpora["tiny_reviews.txt"]),
            str(corpora["wiki.txt"]),
            str(tiny_tokenizer_dir),
            cfg,
            out_dir=tmp_path / engine,
        )

    local, remote = mine("local"), mine("ray")

    def key(t):
        return (t.term, t.kind, t.tokens_saved, t.category_count, t.reference_count, t.specificity_z, t.score)

    assert [key(t) for t in remote.terms] == [key(t) for t in local.terms] and local.terms
    assert remote.estimated_gain == local.estimated_gain
    assert remote.stats["engine"] == "ray" and remote.stats["category_words"] == local.stats["category_words"]
    assert (tmp_path / "ray" / "terms.tsv").read_text(encoding="utf-8").splitlines()[0]


def test_worker_death_is_retried(ray_local, corpora, tmp_path):
    """A worker process killed mid-run: Ray reruns its task and the counts stay exact."""
    marker = tmp_path / "died-once"

    def keep(doc) -> bool:
        if not marker.exists():
            marker.write_text("x")
            os._exit(1)  # the worker process dies in the middle of a block
        return True

    spec = CorpusSpec(path=str(corpora["wiki.txt"]))
    counted = count_words_ray(spec, keep=keep)
    assert marker.exists()
    assert counted.counts == count_words(spec, workers=1).counts


def test_undecodable_file_has_the_local_message(ray_local, tmp_path):
    bad = tmp_path / "bad.txt"
    good = "좋은 영화였어요\n" * 6000  # more than the 64 KiB the encoding is detected from
    bad.write_bytes(good.encode("utf-8") + b"\xff\xfe broken\n")
    with pytest.raises(CorpusError) as local:
        count_words(str(bad), workers=1)
    with pytest.raises(CorpusError) as remote:
        count_words_ray(str(bad))
    assert remote.value.message == local.value.message
    assert str(bad) in remote.value.message and "cannot be decoded" in remote.value.message


def test_missing_local_path_fails_before_ray_starts(tmp_path, tiny_tokenizer_dir):
    cfg = MineConfig(engine="ray", slots=5)
    with pytest.raises(CorpusError, match="Reference corpus: Corpus path .* does not exist"):
        mine_terms(str(tmp_path / "a.txt"), str(tmp_path / "missing.txt"), str(tiny_tokenizer_dir), cfg)


def test_remote_path_without_a_filesystem():
    with pytest.raises(CorpusError, match="No filesystem can read 'foo://bucket/x.txt'"):
        distributed.check_readable("foo://bucket/x.txt")


def test_remote_path_without_credentials_is_bounded(monkeypatch):
    monkeypatch.setattr(distributed, "REMOTE_TIMEOUT_S", 8.0)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    started = time.perf_counter()
    with pytest.raises(CorpusError) as err:
        distributed.check_readable("s3://domainlm-no-such-bucket-7f3a/reviews.tsv")
    assert time.perf_counter() - started < 15
    assert "s3://domainlm-no-such-bucket-7f3a/reviews.tsv" in err.value.message
    assert "credentials" in err.value.hint


def test_unreachable_address_fails_fast(monkeypatch):
    monkeypatch.setattr(distributed, "CONNECT_TIMEOUT_S", 2.0)
    started = time.perf_counter()
    with pytest.raises(MiningError, match="Cannot reach the Ray cluster at 127.0.0.1:9"):
        with distributed.ray_session("127.0.0.1:9"):
            pass
    with pytest.raises(MiningError, match="not 'auto', HOST:PORT"):
        with distributed.ray_session("nowhere"):
            pass
    assert time.perf_counter() - started < 6


def test_unreachable_address_through_the_cli(cli, corpora, tiny_tokenizer_dir, tmp_path, monkeypatch):
    monkeypatch.setattr(distributed, "CONNECT_TIMEOUT_S", 2.0)
    result = cli(
        "mine-terms",
        "--corpus",
        corpora["tiny_reviews.txt"],
        "--reference",
        corpora["wiki.txt"],
        "--base",
        tiny_tokenizer_dir,
        "--slots",
        5,
        "--engine",
        "ray",
        "--ray-address",
        "127.0.0.1:9",
        "-o",
        tmp_path / "out",
    )
    assert result.exit_code == 2
    assert "Cannot reach the Ray cluster at 127.0.0.1:9" in " ".join(result.output.split())
    assert not (tmp_path / "out").exists()


def test_ray_not_installed(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(MiningError) as err:
        distributed.import_ray()
    assert 'pip install "domainlm[ray]"' in err.value.hint


def test_engine_option_is_checked(cli, corpora, tiny_tokenizer_dir, tmp_path):
    result = cli(
        "mine-terms",
        "--corpus",
        corpora["tiny_reviews.txt"],
        "--reference",
        corpora["wiki.txt"],
        "--base",
        tiny_tokenizer_dir,
        "--engine",
        "spark",
        "-o",
        tmp_path / "out",
    )
    # The choices are the option's (typer): the value is refused before anything is read.
    assert result.exit_code == 2 and "'spark' is not one of 'local', 'ray'" in shown(result.output)


def test_recipe_takes_the_engine():
    from domainlm.recipes.schema import Recipe

    fields = Recipe.model_fields["mine"].annotation.model_fields
    assert fields["engine"].default == "local" and "ray_address" in fields
    with pytest.raises(ValueError):
        MineConfig(engine="spark")
