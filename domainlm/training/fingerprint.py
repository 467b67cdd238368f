"""What a training run was fed, in a form a checkpoint keeps and a resume compares.

`--resume` with another corpus, terms file or base would continue one training on the data of
another: the loss curve and the saved model would belong to neither run. Each input is recorded as
`{"shown": what a person recognises (file names), "digest": its content}`; a resume is refused when
a digest differs, and the message shows the two `shown` values. Digests are of content, not of
paths, so the same files under another folder still resume. Files are hashed by
`domainlm.io.hash_file`, as the recipe runner's stage fingerprints are: small files whole, a big one
by its size, first and last MiB and 64 sampled blocks (a 30 GB corpus costs a few MB of reads).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from pathlib import Path

from domainlm.io import hash_file


def _files_digest(files: Iterable[Path], root: Path | None = None) -> str:
    h = hashlib.sha256()
    for f in files:
        name = f.relative_to(root).as_posix() if root is not None else ""
        h.update(f"{name}={hash_file(f)}\n".encode())
    return h.hexdigest()[:16]


def corpus_entry(specs) -> dict:
    """The files the corpus specs read (names shown), their content and the reading settings."""
    from domainlm.corpus.reader import expand_paths

    shown, h = [], hashlib.sha256()
    for spec in specs:
        path = getattr(spec, "path", spec)
        settings = spec.model_dump(mode="json", exclude={"path"}) if hasattr(spec, "model_dump") else {}
        h.update(json.dumps(settings, sort_keys=True).encode())
        try:
            files = expand_paths(path)
        except Exception:
            files = []
        if files:
            h.update(_files_digest(files).encode())
            shown.append(
                ", ".join(f.name for f in files[:3]) + (f" (+{len(files) - 3} files)" if len(files) > 3 else "")
            )
        else:  # a datasets name (hf:NAME): only its spelling is known here
            h.update(str(path).encode())
            shown.append(str(path))
    return {"shown": "; ".join(shown) or "none", "digest": h.hexdigest()[:16]}


def folder_entry(path, files: Iterable[str] | None = None) -> dict:
    """A local model or tokenizer folder by its content (`files` only, when given); a hub id by name."""
    p = Path(str(path)).expanduser()
    if p.is_dir():
        chosen = (
            sorted(p / f for f in files if (p / f).is_file())
            if files is not None
            else sorted(f for f in p.rglob("*") if f.is_file() and not f.name.startswith("."))
        )
        return {"shown": p.name or str(path), "digest": _files_digest(chosen, p)}
    return {"shown": str(path), "digest": "name:" + str(path)}


def terms_entry(terms, term_list) -> dict:
    """The terms by their text (a rewritten file with the same terms still resumes)."""
    shown = Path(terms).name if isinstance(terms, (str, os.PathLike)) else f"{len(term_list)} terms"
    text = "\n".join(f"{t.term}\t{t.kind}" for t in term_list)
    return {"shown": shown, "digest": hashlib.sha256(text.encode()).hexdigest()[:16]}


def describe_differences(saved: dict | None, now: dict | None) -> list[str]:
    """'corpus: a.txt → b.txt' for each input whose content differs (old checkpoints: none)."""
    if not saved or not now:
        return []
    out = []
    for key in now:
        if key not in saved or saved[key] is None or now[key] is None:
            if saved.get(key) != now.get(key) and (saved.get(key) or now.get(key)) is not None:
                out.append(f"{key}: {_shown(saved.get(key))} → {_shown(now.get(key))}")
            continue
        if saved[key]["digest"] != now[key]["digest"]:
            if saved[key]["shown"] == now[key]["shown"]:
                out.append(f"{key}: '{now[key]['shown']}' has other content than when the checkpoint was written")
            else:
                out.append(f"{key}: '{saved[key]['shown']}' → '{now[key]['shown']}'")
    return out


def _shown(entry) -> str:
    return f"'{entry['shown']}'" if entry else "none"
