"""GPU throughput and MFU of domainlm's training loop (one call, a few minutes).

A kykim-sized BERT (12 layers, hidden 768, 42,000 vocab) trained by `domainlm.training.engine.train`
with bf16 autocast, packed sequences, whole-eojeol masking and the MLM head at masked positions only.
Reports tokens/s after warm-up and MFU = model FLOPs per second / peak bf16 FLOP/s of the chip.

Model FLOPs per step (forward + backward = 3 × forward, 2 FLOPs per multiply-add):
  encoder matmuls 6 · N_layer_params · tokens, attention scores 12 · layers · seq · hidden · tokens,
  MLM head only at the masked positions 6 · (hidden² + hidden · vocab) · masked tokens.
Padding is never counted because packed sequences have none.

    python benchmarks/training_gpu.py [--steps 120] [--batch-size 128] [--seq-len 128] [--compile]
    python benchmarks/training_gpu.py --smoke     # tiny model on CPU: checks the script itself

Text: random tokens with random eojeol boundaries (throughput does not depend on the text, and a
device machine may not have ../shared/data). Writes benchmarks/results/training_gpu.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


class _Cycle:
    """An endless stream over a fixed list of packed sequences."""

    def __init__(self, sequences):
        self.sequences = sequences

    def __iter__(self):
        while True:
            yield from self.sequences


def synthetic_sequences(n: int, seq_len: int, vocab: int, seed: int):
    import numpy as np

    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        ids = rng.integers(5, vocab, size=seq_len)
        ids[0], ids[-1] = 2, 3
        starts = rng.random(seq_len) < 0.45
        starts[:2] = True
        out.append((ids.astype(np.int64), starts))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=120)
    parser.add_argument("--warmup-steps", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--seq-len", type=int, default=128)
    parser.add_argument("--layers", type=int, default=12)
    parser.add_argument("--hidden", type=int, default=768)
    parser.add_argument("--vocab", type=int, default=42_000)
    parser.add_argument("--compile", action="store_true")
    parser.add_argument("--peak-tflops", type=float, default=989.0, help="Peak dense bf16 TFLOP/s (H100/H200 SXM: 989)")
    parser.add_argument("--smoke", action="store_true", help="Tiny model on CPU, to check the script")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "training_gpu.json")
    args = parser.parse_args()
    if args.smoke:
        args.steps, args.warmup_steps, args.batch_size, args.seq_len, args.layers, args.hidden, args.vocab = (
            6,
            2,
            4,
            32,
            1,
            64,
            1000,
        )
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import BertConfig, BertForMaskedLM, BertTokenizerFast

    from domainlm.progress import set_progress_enabled
    from domainlm.training.config import TrainConfig
    from domainlm.training.engine import train

    if not torch.cuda.is_available() and not args.smoke:
        raise SystemExit("No CUDA device: run on a GPU machine, or pass --smoke to check the script on CPU.")
    set_progress_enabled(False)
    torch.backends.cuda.matmul.allow_tf32 = True
    vocab = {"[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3, "[MASK]": 4}
    vocab.update({f"t{i}": i for i in range(5, args.vocab)})
    backend = Tokenizer(models.WordPiece(vocab=vocab, unk_token="[UNK]"))
    backend.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok = BertTokenizerFast(
        tokenizer_object=backend,
        unk_token="[UNK]",
        sep_token="[SEP]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        mask_token="[MASK]",
    )
    needed = args.steps * args.batch_size
    sequences = synthetic_sequences(min(needed, 4096), args.seq_len, args.vocab, 0)
    heads = max(1, args.hidden // 64)
    torch.manual_seed(0)
    model = BertForMaskedLM(
        BertConfig(
            vocab_size=args.vocab,
            hidden_size=args.hidden,
            num_hidden_layers=args.layers,
            num_attention_heads=heads,
            intermediate_size=4 * args.hidden,
            max_position_embeddings=max(512, args.seq_len),
        )
    )
    layer_params = sum(p.numel() for n, p in model.named_parameters() if ".encoder.layer." in n)
    config = TrainConfig(
        max_steps=args.steps,
        batch_size=args.batch_size,
        seq_len=args.seq_len,
        lr=1e-4,
        warmup_ratio=0.05,
        save_every=10**6,
        log_every=10,
        heldout_fraction=0.0,
        eval_documents=0,
        bf16=True,
        compile=args.compile,
    )
    marks: dict[int, float] = {}

    def on_step(step, record):
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        marks[step] = time.perf_counter()

    with tempfile.TemporaryDirectory() as ckpt:
        outcome = train(
            build_model=lambda: model,
            tokenizer=tok,
            stream=_Cycle(sequences),
            config=config,
            ckpt_dir=Path(ckpt) / "c",
            slot_ids=[],
            on_step=on_step,
        )
    timed_steps = args.steps - args.warmup_steps
    seconds = marks[args.steps] - marks[args.warmup_steps]
    tokens = timed_steps * args.batch_size * args.seq_len
    tps = tokens / seconds
    masked_share = 0.15
    flops_per_token = (
        6 * layer_params
        + 12 * args.layers * args.seq_len * args.hidden
        + 6 * masked_share * (args.hidden * args.hidden + args.hidden * args.vocab)
    )
    achieved = flops_per_token * tps
    mfu = achieved / (args.peak_tflops * 1e12)
    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu (smoke)"
    result = {
        "benchmark": "training_throughput_gpu",
        "device": device,
        "setup": {
            "layers": args.layers,
            "hidden": args.hidden,
            "vocab": args.vocab,
            "batch_size": args.batch_size,
            "seq_len": args.seq_len,
            "steps": args.steps,
            "timed_steps": timed_steps,
            "bf16": True,
            "compile": args.compile,
        },
        "tokens_per_second": tps,
        "model_tflops_per_second": achieved / 1e12,
        "peak_tflops": args.peak_tflops,
        "mfu": mfu,
        "final_loss": outcome.final_loss,
        "peak_gpu_memory_gb": torch.cuda.max_memory_allocated() / 2**30 if torch.cuda.is_available() else None,
    }
    if not args.smoke:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    main()
