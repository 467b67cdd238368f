"""Build the demo's embedded data (domainlm/demo/data/) from the project's shared Korean data.

A developer tool, shipped so that anyone can regenerate (and audit) the slice the demo runs on:

    python -m domainlm.demo.build_data --shared ../shared/data [--out domainlm/demo/data]

What it writes, all real text, nothing generated:
- cosmetics_reviews.tsv.gz: every review of reviews/naver_shopping_50k.tsv (Naver shopping reviews,
  bab2min/corpus, public domain) that the project's own router (domainlm.routing, the keyword lists
  of the shipped 화장품 / 식품 / 전자제품 / 반려동물 recipes) sends to cosmetics; columns id, rating
  (1, 2, 4, 5, or empty for unrated rows), text. The demo mines, adapts and measures on it, and its
  rated rows are the rating probe.
- other_reviews.txt.gz: a sample of the reviews routed to NO category: the tiny base reads them, as
  real bases read some web and review text, so that the demo's adaptation is about cosmetics, not
  about review language in general.
- general.txt.gz: general text for pretraining the tiny base, the mining reference and the replay:
  UD Korean sentences (CC BY-SA 4.0) and a spread sample of Korean Wikipedia paragraphs (CC BY-SA).
- general_eval.txt.gz: other UD Korean sentences (chosen by a hash, never in general.txt.gz), the
  text on which forgetting is measured.
- manifest.json (counts, sha256, sources), README.md (the licence note) and LICENSES/.

The output is deterministic: gzip headers carry no time or name, so the same shared data gives the
same bytes.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import os
import shutil
from pathlib import Path

from domainlm.corpus.files import open_binary
from domainlm.corpus.filters import heldout_fraction_of
from domainlm.corpus.spec import CorpusSpec

REVIEWS = "reviews/naver_shopping_50k.tsv"
UD = "general/ud_korean_sentences.txt"
WIKI = "general/kowiki_sample.txt.gz"
CATEGORY = "cosmetics"  # the recipe whose routed reviews the demo ships
OTHER_REVIEWS = 1500  # unrouted reviews for the tiny base
WIKI_EVERY = 25  # every 25th paragraph of the 49,499: ~2,000, spread over all the articles
WIKI_CHARS = (40, 600)  # skip stubs and very long paragraphs (the base reads 64-token windows)
GENERAL_EVAL_SHARE = 0.15  # UD sentences held back for the forgetting measure
SPLIT_SEED = "domainlm-demo"

LICENCE_FILES = {  # shared licences/<file> → LICENSES/<name>
    "bab2min-corpus-README-public-domain.md": "naver-shopping-bab2min-corpus-README.md",
    "UD_Korean-CC-BY-SA-4.0.txt": "UD_Korean-NOTICE.txt",
    "KorNLUDatasets-CC-BY-SA-4.0.txt": "CC-BY-SA-4.0.txt",  # the full CC BY-SA 4.0 legal code
}

DATA_DIR = Path(__file__).resolve().parent / "data"


def _write_gz(path: Path, lines: list[str]) -> None:
    buffer = io.BytesIO()
    # mtime=0 and no file name: rebuilding from the same shared data gives the same bytes.
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=0, compresslevel=9) as gz:
        gz.write("".join(line + "\n" for line in lines).encode("utf-8"))
    path.write_bytes(buffer.getvalue())


def _read_lines(path: Path) -> list[str]:
    stream, _ = open_binary(path)
    with stream:
        return [line.strip() for line in io.TextIOWrapper(stream, encoding="utf-8")]


def _one_line(text: str) -> str:
    return " ".join(text.split())


def route_reviews(shared: Path) -> tuple[list[dict], list[str]]:
    """(cosmetics rows with id/rating/text, unrouted review texts) by the shipped recipes' router."""
    from domainlm.corpus.rows import iter_rows
    from domainlm.routing import UNASSIGNED, router_from_recipes, routing_recipes

    router = router_from_recipes(routing_recipes())
    cosmetics, other = [], []
    for row in iter_rows(CorpusSpec(path=str(shared / REVIEWS), field="text", id_field="id")):
        text = _one_line(row["text"])
        if not text:
            continue
        bucket, _ = router.route(text)
        if bucket == CATEGORY:
            cosmetics.append({"id": row["id"], "rating": row.get("rating") or "", "text": text})
        elif bucket == UNASSIGNED:
            other.append(text)
    # A spread sample by hash, not the file's first rows.
    other.sort(key=lambda t: heldout_fraction_of(t, SPLIT_SEED))
    return cosmetics, other[:OTHER_REVIEWS]


def general_texts(shared: Path) -> tuple[list[str], list[str], dict]:
    """(general text, general evaluation text, counts): UD split by hash, plus Wikipedia paragraphs."""
    ud = [s for s in (_one_line(x) for x in _read_lines(shared / UD)) if s]
    ud_eval = [s for s in ud if heldout_fraction_of(s, SPLIT_SEED) < GENERAL_EVAL_SHARE]
    eval_set = set(ud_eval)
    ud_train = [s for s in ud if s not in eval_set]
    wiki = [
        p
        for i, p in enumerate(_one_line(x) for x in _read_lines(shared / WIKI))
        if i % WIKI_EVERY == 0 and WIKI_CHARS[0] <= len(p) <= WIKI_CHARS[1]
    ]
    return (
        ud_train + wiki,
        ud_eval,
        {"ud_sentences": len(ud_train), "wiki_paragraphs": len(wiki), "ud_eval_sentences": len(ud_eval)},
    )


def build_demo_data(shared: str | os.PathLike, out: str | os.PathLike = DATA_DIR) -> dict:
    """Write the demo data under `out` from the shared data root `shared`; returns the manifest."""
    shared, out = Path(shared), Path(out)
    missing = [p for p in (REVIEWS, UD, WIKI) if not (shared / p).exists()]
    if missing:
        from domainlm.errors import CorpusError

        raise CorpusError(
            f"The shared data root '{shared}' lacks {', '.join(missing)}.",
            "Pass the folder that holds reviews/ and general/ (e.g. ../shared/data).",
        )
    out.mkdir(parents=True, exist_ok=True)
    cosmetics, other = route_reviews(shared)
    general, general_eval, general_counts = general_texts(shared)
    buffer = ["id\trating\ttext"] + [f"{r['id']}\t{r['rating']}\t{r['text']}" for r in cosmetics]
    _write_gz(out / "cosmetics_reviews.tsv.gz", buffer)
    _write_gz(out / "other_reviews.txt.gz", other)
    _write_gz(out / "general.txt.gz", general)
    _write_gz(out / "general_eval.txt.gz", general_eval)
    licences = out / "LICENSES"
    licences.mkdir(exist_ok=True)
    for source, name in LICENCE_FILES.items():
        shutil.copyfile(shared / "licenses" / source, licences / name)
    ratings: dict[str, int] = {}
    for r in cosmetics:
        ratings[r["rating"] or "unrated"] = ratings.get(r["rating"] or "unrated", 0) + 1
    files = {}
    for name in ("cosmetics_reviews.tsv.gz", "other_reviews.txt.gz", "general.txt.gz", "general_eval.txt.gz"):
        data = (out / name).read_bytes()
        files[name] = {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    manifest = {
        "built_by": "python -m domainlm.demo.build_data --shared SHARED_DATA",
        "files": files,
        "counts": {
            "cosmetics_reviews": len(cosmetics),
            "ratings": dict(sorted(ratings.items())),
            "other_reviews": len(other),
            **general_counts,
        },
        "sources": {
            "cosmetics_reviews.tsv.gz": (
                f"{REVIEWS}, routed to '{CATEGORY}' by domainlm.routing with the shipped recipes' keywords"
            ),
            "other_reviews.txt.gz": f"{REVIEWS}, a hash-chosen sample of the reviews routed to no category",
            "general.txt.gz": f"{UD} (all but the evaluation share) + every {WIKI_EVERY}th paragraph of {WIKI}",
            "general_eval.txt.gz": f"{UD}, the sentences whose hash falls in the first {GENERAL_EVAL_SHARE:.0%}",
        },
    }
    (out / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    (out / "README.md").write_text(licence_note(manifest), encoding="utf-8")
    return manifest


def licence_note(manifest: dict) -> str:
    """README.md beside the data: what each file is, where it comes from, under which licence."""
    c, f = manifest["counts"], manifest["files"]
    kb = {name: f"{info['bytes'] / 1024:.0f} KB" for name, info in f.items()}
    r = c["ratings"]
    return f"""# Data of `domainlm demo`

Real Korean text, nothing generated, chosen from the project's shared data by
`python -m domainlm.demo.build_data --shared SHARED_DATA` (domainlm/demo/build_data.py; the same
shared data gives the same bytes, see the sha256 sums in manifest.json). The demo copies these files
under its output folder and reads them from there; it never reads the shared data.

These data files are NOT covered by the project's Apache-2.0 licence: each keeps its own licence below.

| file | size | content | source | licence |
|---|---|---|---|---|
| `cosmetics_reviews.tsv.gz` | {kb["cosmetics_reviews.tsv.gz"]} | {c["cosmetics_reviews"]:,} \
reviews with columns `id`, `rating`, `text`: ratings 1: {r.get("1", 0)}, 2: {r.get("2", 0)}, \
4: {r.get("4", 0)}, 5: {r.get("5", 0)}, unrated: {r.get("unrated", 0)} | Naver shopping \
reviews (shopping.naver.com, collected 2020) from bab2min/corpus `sentiment/naver_shopping.txt`, \
via the 50k subset `reviews/naver_shopping_50k.tsv`; the reviews that `domainlm.routing` \
sends to cosmetics with the keywords of the shipped recipes (화장품 against 식품, 전자제품, \
반려동물) | public domain (bab2min/corpus; its README is in `LICENSES/`) |
| `other_reviews.txt.gz` | {kb["other_reviews.txt.gz"]} | {c["other_reviews"]:,} \
reviews routed to no category (a sample chosen by a hash), text only; the tiny base \
reads them | same as above | public domain |
| `general.txt.gz` | {kb["general.txt.gz"]} | {c["ud_sentences"]:,} UD Korean sentences \
and {c["wiki_paragraphs"]:,} Korean Wikipedia paragraphs (every {WIKI_EVERY}th paragraph \
of the shared sample, {WIKI_CHARS[0]}–{WIKI_CHARS[1]} characters); the tiny base, \
the mining reference and the replay | Universal Dependencies UD_Korean-GSD and UD_Korean-Kaist \
(dev and test sentences); Korean Wikipedia (ko.wikipedia.org, WikiExtractor text \
via 97danielj/WordEmbedding) | CC BY-SA 4.0 (UD Korean); CC BY-SA (Wikipedia: 3.0, \
or 4.0 for text since 2023); this file as a whole: CC BY-SA 4.0 |
| `general_eval.txt.gz` | {kb["general_eval.txt.gz"]} | {c["ud_eval_sentences"]:,} \
other UD Korean sentences (hash-chosen, none of them in `general.txt.gz`); forgetting \
is measured on them | UD_Korean-GSD and UD_Korean-Kaist | CC BY-SA 4.0 |

Attribution: UD Korean GSD and Kaist treebanks, Universal Dependencies contributors
(https://universaldependencies.org); Korean Wikipedia contributors (https://ko.wikipedia.org; each
article's authors are in its history); Naver shopping reviews collected by bab2min
(https://github.com/bab2min/corpus). Changes made here: whitespace collapsed to single spaces,
sentences and paragraphs selected as described above, reviews routed by keywords; no text was edited.

`LICENSES/`: `CC-BY-SA-4.0.txt` (the licence's legal code), `UD_Korean-NOTICE.txt` (the treebanks'
licence notice), `naver-shopping-bab2min-corpus-README.md` (the corpus's own description).
"""


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Build domainlm/demo/data from the shared Korean data.")
    parser.add_argument(
        "--shared",
        default=os.environ.get("DOMAINLM_SHARED_DATA", "../shared/data"),
        help="shared data root (default: $DOMAINLM_SHARED_DATA or ../shared/data)",
    )
    parser.add_argument("--out", default=str(DATA_DIR), help="output folder (default: the package's demo data)")
    args = parser.parse_args(argv)
    manifest = build_demo_data(args.shared, args.out)
    print(json.dumps(manifest["counts"], ensure_ascii=False))
    for name, info in manifest["files"].items():
        print(f"{name}: {info['bytes']:,} bytes")


if __name__ == "__main__":
    main()
