"""Every bad input gets a clear answer (issue 24): the remaining cases of the review
../shared/reviews/reliability-and-security.md, one test (or more) each, named by its case (B…, P…).

Each test reproduces the review's input and checks the answer at its cause: the reader, the loader
or the validator every command goes through, so one fix answers every command.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from conftest import TINY_TEXT
from helpers.cli import shown

from domainlm.errors import CorpusError, DomainLMWarning
from vocab_tools.errors import VocabError

REVIEWS = [f"{TINY_TEXT[i % 7]} {['재밌게 봤어요', '가성비 최고', '수분크림은 촉촉'][i % 3]}" for i in range(900)]


@pytest.fixture
def corpus(tmp_path) -> Path:
    path = tmp_path / "good.txt"
    path.write_text("\n".join(REVIEWS) + "\n", encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("DOMAINLM_CACHE", str(tmp_path / "cache"))


# ---------------------------------------------------------------- vocabularies and terms (P5, P6, P7, P32)

def test_p5_a_corpus_is_not_a_vocabulary(cli, corpus, tiny_tokenizer_dir):
    result = cli("vocab", "info", corpus)
    assert result.exit_code == 2
    assert f"{corpus} is not a vocabulary: 900 of its 900 lines hold spaces" in shown(result.output)
    assert "Traceback" not in result.output
    # A real vocabulary, as a bare vocab.txt too, still loads.
    from vocab_tools.loading import load_tokenizer

    vocab = tiny_tokenizer_dir / "vocab.txt"
    if not vocab.exists():
        vocab = Path(str(corpus) + ".vocab.txt")
        vocab.write_text("\n".join(load_tokenizer(tiny_tokenizer_dir).vocab) + "\n", encoding="utf-8")
    assert len(load_tokenizer(vocab).vocab) > 100


def test_p6_a_corpus_passed_as_the_terms_file_is_refused(cli, corpus, tiny_tokenizer_dir, tmp_path):
    out = tmp_path / "filled"
    result = cli("vocab", "fill", tiny_tokenizer_dir, corpus, "-o", out)
    assert result.exit_code == 2, result.output
    text = shown(result.output)
    assert "900 of the 900 lines of good.txt are text, not a vocabulary term (900 contains whitespace" in text
    assert "It looks like a corpus, not a terms file" in text and not out.exists()
    # A terms list with a few bad lines is filled, the bad ones listed as rejected.
    terms = tmp_path / "terms.txt"
    terms.write_text("수분크림\n보습력\n##크림\n좋은 제품\n", encoding="utf-8")
    ok = cli("vocab", "fill", tiny_tokenizer_dir, terms, "-o", out)
    assert ok.exit_code == 0, ok.output
    assert "contains whitespace" in shown(ok.output)


def test_p7_terms_the_text_normalisation_never_leaves_are_rejected(cli, tiny_tokenizer_dir, tmp_path):
    terms = tmp_path / "terms_weird.txt"
    terms.write_text("수분크림\n😀\n보습력\nㅋㅋㅋㅋㅋ\n", encoding="utf-8")
    out = tmp_path / "filled"
    result = cli("vocab", "fill", tiny_tokenizer_dir, terms, "-o", out)
    assert result.exit_code == 0, result.output
    from vocab_tools.manifest import read_manifest

    filled = {e.term for e in read_manifest(out)}
    assert filled == {"수분크림", "보습력"}
    text = shown(result.output)
    assert "😀" in text and "not kept by the text normalisation (it becomes '')" in text
    assert "(it becomes 'ㅋㅋㅋ')" in text
    # vocab info --filled shows a blank category for untagged slots, not "None".
    info = cli("vocab", "info", out, "--filled")
    assert info.exit_code == 0 and "None" not in info.output


def test_p7_adapt_rejects_them_as_well(tiny_tokenizer_dir, tmp_path):
    """The library rule: `fill_slots(text_normalizer=...)`, which adapt and the recipe's fill pass."""
    from domainlm.corpus import Normalizer
    from vocab_tools import fill_slots

    result = fill_slots(tiny_tokenizer_dir, ["수분크림", "😀"], tmp_path / "f", text_normalizer=Normalizer())
    assert [e.term for e in result.filled] == ["수분크림"]
    assert result.rejected[0][0] == "😀"


@pytest.mark.parametrize("spec", ["=", "name=", " "])
def test_p32_an_empty_tokenizer_spec_is_named(cli, corpus, spec):
    result = cli("vocab", "measure", corpus, "-t", spec)
    assert result.exit_code == 2
    text = shown(result.output)
    assert "empty tokenizer spec" in text or "The tokenizer path is empty" in text
    assert "it has:" not in text  # never the listing of the current folder


# ---------------------------------------------------------------- mining (P8, P9, P10, the --engine help)

def test_p8_a_reference_equal_to_the_corpus_is_warned_about(cli, corpus, tiny_tokenizer_dir, tmp_path):
    result = cli("mine-terms", "--corpus", corpus, "--reference", corpus, "--base", tiny_tokenizer_dir,
                 "--slots", 5, "--workers", 1, "--min-count", 3, "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert "Warning: The category corpus and the reference corpus share 1 file(s)" in shown(result.output)


def test_p10_a_remote_path_without_ray_says_it_needs_ray(cli, corpus, tiny_tokenizer_dir):
    result = cli("mine-terms", "--corpus", "s3://bucket/x.txt", "--reference", corpus, "--base", tiny_tokenizer_dir)
    assert result.exit_code == 2
    text = shown(result.output)
    assert "'s3://bucket/x.txt' is a remote s3:// path" in text and "--engine ray" in text
    assert "does not exist" not in text
    with pytest.raises(CorpusError, match="remote gs:// path"):
        from domainlm.corpus import CorpusReader

        CorpusReader("gs://bucket/*.txt")


def test_help_never_loses_a_bracketed_word_to_rich_markup(cli):
    """`pip install "domainlm[ray]"` was shown as `pip install "domainlm"` (rich took [ray] for a tag)."""
    import typer

    from domainlm.cli.app import app

    def commands(group):
        for command in group.commands.values():
            yield from commands(command) if hasattr(command, "commands") else [command]

    tag = re.compile(r"(?<!\\)\[[a-z#/@][^\]\s]*\]")
    for command in commands(typer.main.get_command(app)):
        for text in [command.help or ""] + [getattr(p, "help", None) or "" for p in command.params]:
            assert not tag.search(text), (command.name, text)
    result = cli("mine-terms", "--help")
    assert 'domainlm[ray]' in shown(result.output).replace(" ", "")


# ---------------------------------------------------------------- reading corpora (P30, P31)

def test_p30_split_categories_on_an_empty_corpus_is_an_error(cli, tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("", encoding="utf-8")
    result = cli("split-categories", empty, "-o", tmp_path / "split")
    assert result.exit_code == 2
    assert "the corpus is empty" in shown(result.output) and not (tmp_path / "split").exists()


LONG_NOTE = "1 line was skipped for being longer than 1 MiB, the limit of one document"


@pytest.fixture
def long_corpus(tmp_path) -> Path:
    path = tmp_path / "long.txt"
    lines = REVIEWS[:450] + ["가나다 " * 300_000] + REVIEWS[450:]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_p31_the_reader_warns_about_a_skipped_long_line(long_corpus):
    from domainlm.corpus import CorpusReader

    with pytest.warns(DomainLMWarning, match=LONG_NOTE):
        assert len(list(CorpusReader(long_corpus))) == 900
    reader = iter(CorpusReader(long_corpus))
    for _ in range(460):
        next(reader)
    with pytest.warns(DomainLMWarning, match=LONG_NOTE):  # stopped early: what was read so far is said
        reader.close()


def test_p31_vocab_build_and_mine_terms_warn_alike(cli, long_corpus, tiny_tokenizer_dir, corpus, tmp_path):
    built = cli("vocab", "build", long_corpus, "--vocab-size", 300, "--unused", 10, "-o", tmp_path / "vocab")
    assert built.exit_code == 0, built.output
    assert f"Warning: {LONG_NOTE}" in shown(built.output)
    mined = cli("mine-terms", "--corpus", long_corpus, "--reference", corpus, "--base", tiny_tokenizer_dir,
                "--slots", 5, "--workers", 1, "--min-count", 3, "-o", tmp_path / "mine")
    assert mined.exit_code == 0, mined.output
    assert f"Warning: Category corpus: {LONG_NOTE}" in shown(mined.output)


def test_p31_adapt_warns_alike(cli, long_corpus, tiny_mlm_dir, tmp_path):
    terms = tmp_path / "terms.txt"
    terms.write_text("수분크림\n", encoding="utf-8")
    result = cli("adapt", "--base", tiny_mlm_dir, "--terms", terms, "--corpus", long_corpus, "--max-steps", 1,
                 "--batch-size", 2, "--seq-len", 32, "-o", tmp_path / "model")
    assert result.exit_code == 0, result.output
    assert f"Warning: {LONG_NOTE}" in shown(result.output)


def test_p2_decomposed_hangul_is_counted_composed_and_named(cli, tmp_path):
    import unicodedata

    nfd = tmp_path / "nfd.txt"
    nfd.write_text("\n".join(unicodedata.normalize("NFD", t) for t in REVIEWS[:50]) + "\n", encoding="utf-8")
    from domainlm.corpus.stats import corpus_stats

    stats = corpus_stats(str(nfd))
    assert stats.hangul_share > 0.9
    assert any("50 documents hold Hangul in decomposed form" in w for w in stats.warnings)
    # A lone jamo used as a symbol (ᆢ) is not decomposed Hangul: no warning for it.
    symbol = tmp_path / "symbol.txt"
    symbol.write_text("잘 쓰고 있어ㅇᆢ\n좋아요\n", encoding="utf-8")
    assert corpus_stats(str(symbol)).warnings == []
    result = cli("corpus", "stats", nfd)
    assert result.exit_code == 0 and "decomposed form" in shown(result.output)


# ---------------------------------------------------------------- recipes and YAML (P28, P29)

def test_p28_a_key_given_twice_is_refused(cli, tmp_path):
    from domainlm.errors import ConfigError
    from domainlm.recipes import dump_recipe, load_recipe

    text = dump_recipe(load_recipe("tiny", data_dir=tmp_path))
    dup = tmp_path / "dupkey.yaml"
    dup.write_text(text + "name: other\n", encoding="utf-8")
    result = cli("recipe", "validate", dup)
    assert result.exit_code == 2
    assert "found duplicate key 'name' (first at line" in shown(result.output)
    with pytest.raises(ConfigError, match="duplicate key 'max_steps'"):
        load_recipe(load_recipe("tiny", data_dir=tmp_path), overrides=["train={max_steps: 1, max_steps: 2}"])
    # Anchors and merge keys (`<<: *a`, then a key of its own) are not duplicates.
    from domainlm.io import load_yaml

    assert load_yaml("a: &x {b: 1}\nc: {<<: *x, b: 2}\n") == {"a": {"b": 1}, "c": {"b": 2}}


def test_p28_task_files_refuse_duplicate_keys_too(tmp_path):
    from domainlm.errors import DomainLMError
    from domainlm.finetune.tasks import load_task_file

    task = tmp_path / "task.yaml"
    task.write_text("name: a\nname: b\n", encoding="utf-8")
    with pytest.raises(DomainLMError, match="duplicate key 'name'"):
        load_task_file(task)


def test_p29_unreadable_recipes_and_a_shadowed_category_are_warned_about(cli, tmp_path, monkeypatch):
    from domainlm.recipes.registry import shipped_recipes_dir

    mine = tmp_path / "recipes"
    mine.mkdir()
    (mine / "pyobj.yaml").write_text('!!python/object/apply:os.system ["true"]\n', encoding="utf-8")
    (mine / "notmapping.yaml").write_text("- a\n", encoding="utf-8")
    (mine / "empty.yaml").write_text("", encoding="utf-8")
    (mine / "wrongtype.yaml").write_text("name: 5\ncategory: x\n", encoding="utf-8")
    (mine / "badutf8.yaml").write_bytes("name: 화장품\n".encode("cp949"))
    shipped = (shipped_recipes_dir() / "cosmetics.yaml").read_text(encoding="utf-8")
    (mine / "mycos.yaml").write_text(re.sub(r"(?m)^name: .*$", "name: mycos", shipped), encoding="utf-8")
    monkeypatch.setenv("DOMAINLM_RECIPES", str(mine))
    result = cli("recipe", "list")
    assert result.exit_code == 0, result.output
    text = shown(result.output)
    for name in ("pyobj", "notmapping", "empty", "wrongtype", "badutf8"):
        assert f"Warning: The recipe file '{mine / name}.yaml'" in text, name
    assert "it is skipped" in text
    assert "(mycos) and" in text and "(cosmetics) both answer to" in text and "'화장품'" in text
    show = cli("recipe", "show", "화장품")
    assert show.exit_code == 0 and "that name finds 'mycos'" in shown(show.output)


# ---------------------------------------------------------------- recipe bundles (B7, B8, P25, P26, P27)
# B7 and B8 (a name ".", "" or 123; !!python/object, non-UTF-8 recipe.yaml, invalid bundle.json) are
# tested in test_threat_model.py (test_b7_…, test_b8_…).

def _bundle(tmp_path, **kwargs) -> Path:
    from domainlm.recipes import dump_recipe, load_recipe
    from test_threat_model import make_bundle

    recipe = dump_recipe(load_recipe("tiny", data_dir=tmp_path), portable=True).encode("utf-8")
    return make_bundle(tmp_path / "b.tar.gz", recipe, **kwargs)


def test_p25_a_full_temporary_folder_is_a_no_space_message(tmp_path, monkeypatch):
    import errno
    import tarfile

    from domainlm.pipeline.bundle import BundleError, import_bundle

    bundle = _bundle(tmp_path)

    def full(self, *a, **k):
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "tmp" / "x"))

    monkeypatch.setattr(tarfile.TarFile, "extractall", full)
    with pytest.raises(BundleError) as e:
        import_bundle(bundle, tmp_path / "out", check_base=False)
    assert "no space left on the device in the temporary folder" in e.value.message
    assert "not a readable" not in e.value.message and "TMPDIR" in e.value.hint
    assert not (tmp_path / "out").exists()


def test_p26_two_top_level_folders_are_named_as_such(tmp_path, cli):
    import io
    import tarfile

    bundle = _bundle(tmp_path)
    with tarfile.open(tmp_path / "two.tar.gz", "w:gz") as out, tarfile.open(bundle) as src:
        for m in src.getmembers():
            out.addfile(m, src.extractfile(m))
        extra = tarfile.TarInfo("other/terms.tsv")
        extra.size = 4
        out.addfile(extra, io.BytesIO(b"term"))
    result = cli("recipe", "import", tmp_path / "two.tar.gz", "--no-check-base", "-o", tmp_path / "out")
    assert result.exit_code == 2
    text = shown(result.output)
    assert "its entries are not all in one folder ('tiny/' and 'other/')" in text
    assert "no bundle.json" not in text


def test_p27_no_document_claims_a_bundle_is_authenticated(cli):
    repo = Path(__file__).resolve().parents[1]
    for doc in ("README.md", "recipes/README.md"):
        text = (repo / doc).read_text(encoding="utf-8")
        assert "tamper" not in text.lower(), doc
        assert "integrity-checked, not authenticated" in " ".join(text.split()), doc
    assert "self-attested" in (repo / "docs" / "THREAT_MODEL.md").read_text(encoding="utf-8")
    assert "integrity-checked, not authenticated" in shown(cli("recipe", "import", "--help").output)
