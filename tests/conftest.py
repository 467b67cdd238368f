"""Shared fixtures. Tiny inputs are built here; real data is read from ../shared/data."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True, scope="session")
def _caches_in_temp(tmp_path_factory):
    """Tests write only to temporary folders: the reference-count cache included."""
    mp = pytest.MonkeyPatch()
    mp.setenv("DOMAINLM_CACHE", str(tmp_path_factory.mktemp("domainlm_cache")))
    yield
    mp.undo()


def shared_data_dir() -> Path:
    return Path(os.environ.get("DOMAINLM_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    path = shared_data_dir()
    if not path.exists():
        pytest.skip(f"shared data not found at {path} (set DOMAINLM_SHARED_DATA)")
    return path


@pytest.fixture
def cli():
    """Invoke the CLI in-process; returns typer's Result (exit_code, stdout, stderr, output)."""
    from typer.testing import CliRunner

    from domainlm.cli.app import app

    runner = CliRunner()

    def invoke(*args: str, input: str | None = None):
        return runner.invoke(app, [str(a) for a in args], input=input)

    return invoke


# ---------------------------------------------------------------- tiny tokenizer and model
# Built once per session with `tokenizers` and `transformers` directly, so every area can test
# against them without depending on another area's code.

TINY_TEXT = [
    "이 크림 발림성 정말 좋아요 보습력도 최고",
    "수분크림은 가성비 최고 재구매각 입니다",
    "향이 너무 좋고 흡수도 빨라요 ㅋㅋ",
    "배송 빠르고 포장도 꼼꼼해요 만족합니다",
    "존맛 과자 또 시킬게요 ㅠㅠ 맛있어요",
    "영화 정말 재밌게 봤어요 배우 연기 최고",
    "스토리가 지루하고 연출이 별로였다",
    "대한민국의 수도는 서울이며 인구가 많다",
    "이 제품은 전자제품 중에서 배터리가 오래 간다",
    "강아지 사료 기호성이 좋아서 잘 먹어요",
]

TINY_UNUSED = 50


def build_tiny_tokenizer(out_dir: Path, texts: list[str], vocab_size: int = 400, unused: int = TINY_UNUSED) -> Path:
    """A BERT WordPiece tokenizer dir: [PAD] [UNK] [CLS] [SEP] [MASK] at 0-4, then [unusedN] slots."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import BertTokenizerFast

    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + [f"[unused{i}]" for i in range(unused)]
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]", max_input_chars_per_word=100))
    tok.normalizer = normalizers.BertNormalizer(
        clean_text=True, handle_chinese_chars=True, strip_accents=False, lowercase=True
    )
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece(prefix="##")
    trainer = trainers.WordPieceTrainer(
        vocab_size=vocab_size + len(specials),
        special_tokens=specials,
        min_frequency=1,
        continuing_subword_prefix="##",
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", 2), ("[SEP]", 3)]
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    fast = BertTokenizerFast(
        tokenizer_object=tok,
        do_lower_case=True,
        strip_accents=False,
        tokenize_chinese_chars=True,
        unk_token="[UNK]",
        sep_token="[SEP]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        mask_token="[MASK]",
    )
    fast.save_pretrained(str(out_dir))
    return out_dir


def _tiny_corpus_texts(shared: Path | None) -> list[str]:
    texts = list(TINY_TEXT)
    if shared is not None and (shared / "reviews" / "naver_shopping_50k.tsv").exists():
        with open(shared / "reviews" / "naver_shopping_50k.tsv", encoding="utf-8") as fh:
            next(fh)
            for i, line in enumerate(fh):
                if i >= 3000:
                    break
                texts.append(line.rstrip("\n").split("\t")[-1])
    return texts


@pytest.fixture(scope="session")
def tiny_tokenizer_dir(tmp_path_factory) -> Path:
    """A ~1,000-piece WordPiece tokenizer with 50 [unusedN] slots at ids 5-54."""
    shared = shared_data_dir()
    texts = _tiny_corpus_texts(shared if shared.exists() else None)
    return build_tiny_tokenizer(tmp_path_factory.mktemp("tiny_tok"), texts, vocab_size=1000)


@pytest.fixture(scope="session")
def tiny_mlm_dir(tiny_tokenizer_dir, tmp_path_factory) -> Path:
    """A randomly initialised 2-layer BertForMaskedLM (hidden 32) saved with its tokenizer."""
    import shutil

    import torch
    from transformers import AutoTokenizer, BertConfig, BertForMaskedLM

    tok = AutoTokenizer.from_pretrained(str(tiny_tokenizer_dir))
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(tok),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
    )
    model = BertForMaskedLM(config)
    out = tmp_path_factory.mktemp("tiny_mlm")
    model.save_pretrained(str(out))
    for f in tiny_tokenizer_dir.iterdir():
        shutil.copy(f, out / f.name)
    return out


# ---------------------------------------------------------------- evaluation inputs


@pytest.fixture(scope="session")
def filled_mlm_dir(tiny_mlm_dir, tmp_path_factory) -> Path:
    """`tiny_mlm_dir` with some [unusedN] slots filled by terms (the 'after' side of an evaluation)."""
    from helpers.evaluation import build_filled_model

    return build_filled_model(tiny_mlm_dir, tmp_path_factory.mktemp("filled") / "after")


@pytest.fixture(scope="session")
def eval_files(tmp_path_factory) -> dict[str, Path]:
    """Small held-out, general and labelled task files for evaluation tests."""
    from helpers.evaluation import build_eval_files

    return build_eval_files(tmp_path_factory.mktemp("evaldata"))


# ---------------------------------------------------------------- no quiet skips in CI
# In CI the shared data is always there, so a skip means a test silently did not run (the
# WordPiece-equals-Rust contract once did). `.ci/run` sets DOMAINLM_FAIL_ON_SKIP=1: any skip fails.
_skipped: list[str] = []


def pytest_runtest_logreport(report):
    if report.skipped and not hasattr(report, "wasxfail"):
        _skipped.append(report.nodeid)


def pytest_sessionfinish(session, exitstatus):
    if _skipped and os.environ.get("DOMAINLM_FAIL_ON_SKIP") == "1":
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.ensure_newline()
            reporter.write_line(
                f"{len(_skipped)} test(s) skipped, and CI allows none (DOMAINLM_FAIL_ON_SKIP=1): "
                + ", ".join(_skipped[:10]),
                red=True,
                bold=True,
            )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
