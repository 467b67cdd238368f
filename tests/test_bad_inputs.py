"""Every bad input gets a clear answer (issue 24): the remaining cases of the review
../shared/reviews/reliability-and-security.md, one test (or more) each, named by its case (B…, P…).

Each test reproduces the review's input and checks the answer at its cause: the reader, the loader
or the validator every command goes through, so one fix answers every command.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from helpers.cli import shown
from helpers.tiny import TINY_TEXT

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
    assert "it names no path" in text or "The tokenizer path is empty" in text
    assert "it has:" not in text  # never the listing of the current folder


# ---------------------------------------------------------------- mining (P8, P9, P10, the --engine help)


def test_p8_a_reference_equal_to_the_corpus_is_warned_about(cli, corpus, tiny_tokenizer_dir, tmp_path):
    result = cli(
        "mine-terms",
        "--corpus",
        corpus,
        "--reference",
        corpus,
        "--base",
        tiny_tokenizer_dir,
        "--slots",
        5,
        "--workers",
        1,
        "--min-count",
        3,
        "-o",
        tmp_path / "out",
    )
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
    assert "domainlm[ray]" in shown(result.output).replace(" ", "")


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
    mined = cli(
        "mine-terms",
        "--corpus",
        long_corpus,
        "--reference",
        corpus,
        "--base",
        tiny_tokenizer_dir,
        "--slots",
        5,
        "--workers",
        1,
        "--min-count",
        3,
        "-o",
        tmp_path / "mine",
    )
    assert mined.exit_code == 0, mined.output
    assert f"Warning: Category corpus: {LONG_NOTE}" in shown(mined.output)


def test_p31_adapt_warns_alike(cli, long_corpus, tiny_mlm_dir, tmp_path):
    terms = tmp_path / "terms.txt"
    terms.write_text("수분크림\n", encoding="utf-8")
    result = cli(
        "adapt",
        "--base",
        tiny_mlm_dir,
        "--terms",
        terms,
        "--corpus",
        long_corpus,
        "--max-steps",
        1,
        "--batch-size",
        2,
        "--seq-len",
        32,
        "-o",
        tmp_path / "model",
    )
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
    from domainlm.tasks import load_task_file

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
    from test_threat_model import make_bundle

    from domainlm.recipes import dump_recipe, load_recipe

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


# ---------------------------------------------------------------- evaluation and fine-tuning (B12, P15, P16)


def test_b12_one_fine_tuning_seed_plots_without_error_bars(tiny_mlm_dir, filled_mlm_dir, eval_files, tmp_path):
    from domainlm.corpus.reader import CorpusSpec
    from domainlm.evaluation import EvalConfig, evaluate
    from domainlm.evaluation.config import SuiteConfig
    from domainlm.tasks import TaskSpec

    spec = TaskSpec(
        name="toy-sentiment",
        train=CorpusSpec(path=str(eval_files["task"]), field="text"),
        test=CorpusSpec(path=str(eval_files["task"]), field="text"),
        label_field="label",
        label_map={"0": 0, "1": 1},
        max_train=60,
        max_test=40,
        test_fraction=0.25,
    )
    config = EvalConfig(
        max_texts=20,
        bootstrap=100,
        tasks=[spec],
        suite=SuiteConfig(tasks=["toy-sentiment"], seeds=1, epochs=1, lr=1e-3),
    )
    report = evaluate(
        tiny_mlm_dir, filled_mlm_dir, tmp_path / "report", domain=eval_files["domain"], config=config, update_card=False
    )
    assert "fine-tuning toy-sentiment: accuracy" in [r.metric for r in report.rows]
    assert (tmp_path / "report" / "report.json").is_file()
    assert any(p.suffix == ".png" for p in (tmp_path / "report").iterdir())


def _sts_task(tmp_path, scores, test_scores=None):
    from domainlm.tasks import Task

    def write(name, values):
        path = tmp_path / name
        path.write_text(
            "s1\ts2\tscore\n" + "".join(f"문장 {i}\t다른 문장 {i}\t{s}\n" for i, s in enumerate(values)),
            encoding="utf-8",
        )
        return str(path)

    return Task(
        name="sts",
        type="regression",
        metric="spearman",
        train=write("train.tsv", scores),
        test=write("test.tsv", test_scores) if test_scores is not None else None,
        text_columns=["s1", "s2"],
        label_column="score",
    )


def test_p15_nan_labels_are_named_as_the_labels_not_the_learning_rate(tmp_path):
    from domainlm.errors import EvaluationError
    from domainlm.tasks import load_task_data

    with pytest.raises(EvaluationError) as e:
        load_task_data(_sts_task(tmp_path, ["nan"] * 40))
    assert "the score 'nan' is not a finite number" in e.value.message and "--lr" not in e.value.hint


def test_p16_constant_gold_scores_say_why_spearman_is_undefined(tmp_path):
    from domainlm.errors import EvaluationError
    from domainlm.tasks import load_task_data

    with pytest.raises(
        EvaluationError,
        match=r"all \d+ train examples have the same gold score \(3\).*Spearman is "
        "undefined when the gold scores do not vary",
    ):
        load_task_data(_sts_task(tmp_path, [3] * 40))
    data = load_task_data(_sts_task(tmp_path, [i % 5 for i in range(40)], test_scores=[2.5] * 10))
    with pytest.raises(EvaluationError, match="all 10 test examples have the same gold score"):
        data.load_test()


# ---------------------------------------------------------------- training (B13, B15, B25, P19-P23)

TINY_TRAIN = dict(
    max_steps=4,
    batch_size=4,
    seq_len=32,
    lr=2e-3,
    warmup_ratio=0.0,
    save_every=2,
    log_every=1,
    heldout_fraction=0.05,
    eval_documents=0,
    replay_ratio=0.0,
    seed=7,
)


def test_b13_a_checkpoint_dict_lacking_keys_cannot_be_read(cli, tiny_mlm_dir, tmp_path):
    import torch
    from helpers.training import tiny_corpus

    corpus = tiny_corpus(tmp_path)
    folder = tmp_path / "out.checkpoints" / "step-000002"
    folder.mkdir(parents=True)
    torch.save({"foo": 1}, folder / "state.pt")
    result = cli(
        "adapt",
        "--base",
        tiny_mlm_dir,
        "--corpus",
        corpus,
        "--max-steps",
        4,
        "--batch-size",
        4,
        "--seq-len",
        32,
        "-o",
        tmp_path / "out",
        "--resume",
    )
    assert result.exit_code == 2, result.output
    assert "is not a domainlm checkpoint ('step' missing" in shown(result.output)
    assert "KeyError" not in result.output and "Traceback" not in result.output


def test_b15_a_filled_tokenizer_from_another_vocabulary_is_refused(tiny_mlm_dir, tmp_path):
    from helpers.tiny import build_tiny_tokenizer
    from helpers.training import tiny_corpus, tiny_train_config

    from domainlm.errors import ModelError
    from domainlm.training import adapt
    from vocab_tools import fill_slots

    other = build_tiny_tokenizer(tmp_path / "other", TINY_TEXT * 5, vocab_size=300)
    filled = fill_slots(other, ["수분크림"], tmp_path / "filled").out_dir
    with pytest.raises(ModelError) as e:
        adapt(
            str(tiny_mlm_dir),
            tmp_path / "out",
            corpus=str(tiny_corpus(tmp_path)),
            filled_tokenizer=filled,
            config=tiny_train_config(TINY_TRAIN),
        )
    assert "was not filled from the vocabulary of" in e.value.message
    assert "fewer than the base's" in e.value.message or "hold other tokens" in e.value.message
    assert not (tmp_path / "out").exists()
    # The base's own tokenizer, filled, is accepted (the rule evaluate applies too).
    own = fill_slots(tiny_mlm_dir, ["수분크림"], tmp_path / "own").out_dir
    result = adapt(
        str(tiny_mlm_dir),
        tmp_path / "ok",
        corpus=str(tiny_corpus(tmp_path)),
        filled_tokenizer=own,
        config=tiny_train_config(TINY_TRAIN, max_steps=1),
    )
    assert result.steps == 1


def test_b25_resuming_with_another_max_steps_is_refused(tiny_mlm_dir, tmp_path):
    from helpers.training import Killed, kill_at, tiny_corpus, tiny_train_config

    from domainlm.errors import TrainingError
    from domainlm.training import adapt

    corpus = str(tiny_corpus(tmp_path))
    with pytest.raises(Killed):
        adapt(
            str(tiny_mlm_dir),
            tmp_path / "out",
            corpus=corpus,
            config=tiny_train_config(TINY_TRAIN, max_steps=6),
            on_step=kill_at(3),
        )
    with pytest.raises(TrainingError) as e:
        adapt(
            str(tiny_mlm_dir),
            tmp_path / "out",
            corpus=corpus,
            config=tiny_train_config(TINY_TRAIN, max_steps=4),
            resume=True,
        )
    assert "max_steps: 6 → 4" in e.value.message and "learning-rate schedule" in e.value.message
    resumed = adapt(
        str(tiny_mlm_dir),
        tmp_path / "out",
        corpus=corpus,
        config=tiny_train_config(TINY_TRAIN, max_steps=6),
        resume=True,
    )
    assert resumed.resumed_from == 2 and resumed.steps == 6


def test_p19_pretrain_takes_a_bare_vocab_txt(tmp_path, tiny_tokenizer_dir):
    from domainlm.modeling.loading import load_hf_tokenizer
    from vocab_tools.loading import load_tokenizer as read_vocab

    vocab = tmp_path / "vocab.txt"
    vocab.write_text("\n".join(read_vocab(tiny_tokenizer_dir).vocab) + "\n", encoding="utf-8")
    with pytest.warns(DomainLMWarning, match="bare vocab.txt"):
        tok = load_hf_tokenizer(vocab, option="--tokenizer")
    assert tok.is_fast and tok.mask_token == "[MASK]" and len(tok) == len(read_vocab(tiny_tokenizer_dir).vocab)
    assert tok.tokenize("수분크림") == load_hf_tokenizer(tiny_tokenizer_dir).tokenize("수분크림")
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(REVIEWS[:50]) + "\n", encoding="utf-8")
    with pytest.raises(VocabError, match="is not a vocabulary"):  # a corpus is no tokenizer
        load_hf_tokenizer(corpus, option="--tokenizer")


def test_p20_pretrain_on_an_empty_corpus_says_it_is_empty(cli, tiny_tokenizer_dir, tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("", encoding="utf-8")
    result = cli("pretrain", "-t", tiny_tokenizer_dir, "--corpus", empty, "-o", tmp_path / "m", "--max-steps", 1)
    assert result.exit_code == 2
    assert "No documents found in" in shown(result.output) and "the corpus is empty" in shown(result.output)
    emoji = tmp_path / "emoji.txt"
    emoji.write_text("😀😀\n🙂\n", encoding="utf-8")
    result = cli("pretrain", "-t", tiny_tokenizer_dir, "--corpus", emoji, "-o", tmp_path / "m", "--max-steps", 1)
    assert result.exit_code == 2 and "empty after normalisation" in shown(result.output)


def test_p21_p22_phased_needs_its_phases_and_they_set_the_steps(cli, tiny_mlm_dir, tmp_path):
    from domainlm.recipes.requests import train_settings
    from domainlm.training.engine import plan_phases

    with pytest.raises(Exception) as e:
        plan_phases(train_settings(None, mode="phased", max_steps=200))
    assert "trains the phases listed in train.phases" in e.value.message and "steps: 40" in e.value.hint
    phases = "train.phases=[{mode: new-rows, steps: 1}, {mode: full, steps: 1}]"
    # Phases without --max-steps: their steps are the run's (the default max_steps is no conflict).
    assert [p.steps for p in plan_phases(train_settings(None, [phases], mode="phased"))] == [1, 1]
    with pytest.raises(Exception, match=r"--max-steps 50 \(train.max_steps\) and train.phases \(1 \+ 1 = 2 steps\)"):
        plan_phases(train_settings(None, [phases], mode="phased", max_steps=50))
    plan_phases(train_settings(None, [phases], mode="phased", max_steps=2))
    result = cli("adapt", "--base", tiny_mlm_dir, "--corpus", tmp_path, "--mode", "phased", "-o", tmp_path / "o")
    assert result.exit_code == 2
    assert "phases" in shown(cli("adapt", "--help").output).split("--mode", 1)[1][:400]


def test_p23_demo_checks_its_settings_before_building_the_base(tmp_path, monkeypatch):
    import domainlm.demo.run as demo
    from domainlm.errors import ConfigError

    def never(*a, **k):
        raise AssertionError("the base was built before the settings were checked")

    monkeypatch.setattr(demo, "build_demo_base", never)
    with pytest.raises(ConfigError, match="unknown key 'nosuch' under train"):
        demo.run_demo(tmp_path / "demo", overrides=["train.nosuch=1"])
    assert not (tmp_path / "demo").exists()


# ---------------------------------------------------------------- outputs (B27)


def test_b27_an_output_that_is_a_link_to_a_folder_is_written_into_its_target(cli, corpus, tmp_path):
    target = tmp_path / "target"
    target.mkdir()
    link = tmp_path / "link2"
    link.symlink_to(target, target_is_directory=True)
    result = cli("vocab", "build", corpus, "--vocab-size", 200, "--unused", 5, "-o", link)
    assert result.exit_code == 0, result.output
    assert link.is_symlink() and (target / "vocab.txt").is_file()
    again = cli("vocab", "build", corpus, "--vocab-size", 200, "--unused", 5, "-o", link)  # its own output: replaced
    assert again.exit_code == 0 and link.is_symlink() and (target / "vocab.txt").is_file()
    broken = tmp_path / "broken"
    broken.symlink_to(tmp_path / "nowhere")
    result = cli("vocab", "build", corpus, "--vocab-size", 200, "--unused", 5, "-o", broken)
    assert result.exit_code == 2 and "symbolic link that leads nowhere" in shown(result.output)
    assert broken.is_symlink() and not (tmp_path / "nowhere").exists()
