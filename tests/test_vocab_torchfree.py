"""vocab_tools must work without torch, transformers, pydantic or domainlm (it is a standalone layer)."""

from __future__ import annotations

import json
import subprocess
import sys


def test_vocab_tools_imports_and_runs_without_heavy_modules(tiny_tokenizer_dir, tmp_path):
    code = f"""
import json, sys
import vocab_tools
from vocab_tools import build_vocab, fill_slots, unfill_slots, inspect_tokenizer, measure, compare, read_terms, Term
tok = {str(tiny_tokenizer_dir)!r}
inspect_tokenizer(tok)
r = fill_slots(tok, [Term("보습크림"), "##뽀송"], {str(tmp_path / "f")!r}, contexts=["보습크림 좋아요"])
measure(["보습크림 좋아요"], {{"a": tok, "b": r.out_dir}})
compare(["보습크림 좋아요"], {{"a": tok}})
unfill_slots(r.out_dir)
build_vocab(["보습크림 좋아요 정말"] * 20, {str(tmp_path / "b")!r}, vocab_size=60, unused=3, min_frequency=1)
heavy = [m for m in ("torch", "transformers", "pydantic", "domainlm", "rich", "typer", "numpy") if m in sys.modules]
print(json.dumps(heavy))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
