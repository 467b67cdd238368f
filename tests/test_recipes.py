"""Recipes: every shipped one validates; overrides, data root, categories, and the CLI's messages."""

from __future__ import annotations

import pytest
import yaml

from domainlm.errors import ConfigError
from domainlm.recipes import (
    diff_recipes,
    find_recipe_path,
    list_recipes,
    load_recipe,
    new_recipe,
    resolve_category,
    shipped_recipes_dir,
)

SHIPPED = sorted(p for p in shipped_recipes_dir().glob("*.yaml"))
COMMERCE = {"화장품": "cosmetics", "식품": "food", "전자제품": "electronics", "반려동물": "pets"}


def test_the_shipped_recipes_are_found():
    names = {p.stem for p in SHIPPED}
    assert {"cosmetics", "food", "electronics", "pets", "movies", "demo", "tiny"} <= names


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_every_shipped_recipe_validates(path, tmp_path):
    recipe = load_recipe(path, data_dir=tmp_path)
    assert recipe.name == path.stem
    assert recipe.mine.slots == recipe.vocab.slots and recipe.train.init == recipe.vocab.init
    for spec in recipe.data.domain:
        assert spec.path.startswith(str(tmp_path))


def test_commerce_budgets_share_kykims_2000_slots():
    recipes = [resolve_category(c) for c in COMMERCE]
    assert {r.base for r in recipes} == {"kykim/bert-kor-base"}
    assert sum(r.vocab.slots for r in recipes) == 2000
    assert all(r.data.routing.keywords and r.data.routing.apply for r in recipes)


@pytest.mark.parametrize("korean,alias", sorted(COMMERCE.items()) + [("영화", "movies")])
def test_korean_name_and_alias_resolve_to_the_same_recipe(korean, alias):
    assert resolve_category(korean).name == resolve_category(alias).name == resolve_category(alias.upper()).name


def test_unknown_category_lists_the_known_ones():
    with pytest.raises(ConfigError) as e:
        resolve_category("가구")
    assert "Unknown category '가구'" in e.value.message and "화장품 (cosmetics, beauty, 뷰티)" in e.value.message


def test_overrides_are_typed_by_the_schema():
    r = load_recipe(
        "화장품",
        [
            "train.max_steps=7",
            "train.lr=0.001",
            "train.precision=fp32",
            "data.heldout.seed=0042",
            "data.domain.0.where.rating=5",
            "eval.tasks.0.max_train=10",
            "vocab.slots=12",
        ],
    )
    assert r.train.max_steps == 7 and r.train.lr == 0.001 and r.train.precision == "fp32"
    assert r.data.heldout.seed == "0042"  # a string field keeps the text as typed, not the int 42
    assert r.data.domain[0].where == {"rating": "5"}
    assert r.eval.tasks[0].max_train == 10
    assert r.vocab.slots == r.mine.slots == 12


def test_all_problems_are_reported_at_once_with_key_paths():
    with pytest.raises(ConfigError) as e:
        load_recipe("화장품", ["vocab.slot=5", "vocab.slots=many", "vocab.init=zero", "oops=1"])
    msg = e.value.message
    assert "(4 problems)" in msg
    assert (
        "--set vocab.slot=5: unknown key 'slot' under vocab (did you mean 'slots'?); allowed keys: slots, init, "
        "truncate" in msg
    )
    assert "--set oops=1: unknown key 'oops' under the top level" in msg
    assert "vocab.slots: Input should be a valid integer, unable to parse string as an integer (got 'many')" in msg
    assert "vocab.init: Input should be 'mean', 'random' or 'distill' (got 'zero')" in msg


def test_a_file_with_unknown_keys_and_conflicts(tmp_path):
    data = yaml.safe_load(find_recipe_path("tiny").read_text(encoding="utf-8"))
    data["vocab"]["slotz"] = 3
    data["mine"]["slots"] = 99
    data["data"]["domain"] = []
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        load_recipe(path)
    msg = e.value.message
    assert "vocab.slotz: unknown key (did you mean 'slots'?); allowed keys: slots, init, truncate" in msg
    assert "data.domain: at least one domain corpus is required" in msg


def test_budget_set_twice_differently_is_an_error():
    with pytest.raises(ConfigError, match=r"mine.slots \(9\) differs from vocab.slots \(20\)"):
        load_recipe("tiny", ["mine.slots=9"])


def test_paths_resolve_against_the_data_root(tmp_path, monkeypatch):
    (tmp_path / "base").mkdir()
    r = load_recipe("tiny", data_dir=tmp_path)
    assert r.data.domain[0].path == str(tmp_path / "demo" / "cosmetics_reviews.tsv.gz")
    assert r.base == str(tmp_path / "base")
    monkeypatch.setenv("DOMAINLM_DATA", str(tmp_path / "elsewhere"))
    r = load_recipe("영화", ["data.reference.0.path=hf:some/dataset"])
    assert r.data.domain[0].path.startswith(str(tmp_path / "elsewhere"))
    assert r.data.reference[0].path == "hf:some/dataset"
    assert r.base == "kykim/bert-kor-base"  # a hub name stays a hub name


def test_new_recipe_and_diff(tmp_path, monkeypatch):
    path = new_recipe("furniture", from_recipe="화장품", category="가구", aliases=["furniture"], out=tmp_path)
    r = load_recipe(path)
    assert (r.name, r.category) == ("furniture", "가구")
    monkeypatch.setenv("DOMAINLM_RECIPES", str(tmp_path))
    assert resolve_category("가구").name == "furniture"
    assert any(e.name == "furniture" for e in list_recipes())
    changed = dict((k, (a, b)) for k, a, b in diff_recipes(load_recipe("화장품"), r))
    assert changed["category"] == ("화장품", "가구")
    assert "vocab.slots" not in changed
    with pytest.raises(ConfigError, match="already exists"):
        new_recipe("furniture", from_recipe="화장품", out=tmp_path)


# ---------------------------------------------------------------- CLI (messages checked verbatim)


def test_cli_list_and_show(cli):
    result = cli("recipe", "list", "--json")
    assert result.exit_code == 0
    assert "화장품" in result.stdout and "movies" in result.stdout
    result = cli("recipe", "show", "cosmetics", "--set", "train.max_steps=11")
    assert result.exit_code == 0
    shown = yaml.safe_load(result.stdout)
    assert shown["train"]["max_steps"] == 11 and shown["category"] == "화장품"


def test_cli_validate_ok(cli):
    result = cli("recipe", "validate", "화장품", "movies")
    assert result.exit_code == 0, result.output
    assert "✓ 화장품: valid" in result.stdout


def test_cli_validate_check_data_lists_every_missing_corpus(cli, tmp_path, shared_data):
    # Under the shared data the shipped movies recipe finds its corpora; under an empty folder every one is listed.
    assert cli("recipe", "validate", "movies", "--check-data", "--data-dir", shared_data).exit_code == 0
    result = cli("recipe", "validate", "movies", "--check-data", "--data-dir", tmp_path)
    assert result.exit_code == 2
    assert "names corpora that do not exist under" in result.stderr and "data.domain.0: " in result.stderr
    assert "Pass --data-dir (or set DOMAINLM_DATA)" in result.stderr


def test_cli_unknown_key(cli):
    result = cli("recipe", "validate", "화장품", "--set", "vocab.slot=5")
    path = shipped_recipes_dir() / "cosmetics.yaml"
    assert result.exit_code == 2
    assert result.stderr == (
        f"Error: The recipe '{path}' is invalid (1 problem):\n"
        "  - --set vocab.slot=5: unknown key 'slot' under vocab (did you mean 'slots'?); allowed keys: slots, init, "
        "truncate\n"
        "Fix these keys in the recipe file or in --set; `domainlm recipe show NAME` prints every key, and "
        "`domainlm recipe validate FILE` checks a file.\n"
    )


def test_cli_wrong_type(cli):
    result = cli("recipe", "show", "food", "--set", "vocab.slots=many")
    path = shipped_recipes_dir() / "food.yaml"
    assert result.exit_code == 2
    assert result.stderr.splitlines()[:2] == [
        f"Error: The recipe '{path}' is invalid (1 problem):",
        "  - vocab.slots: Input should be a valid integer, unable to parse string as an integer (got 'many')",
    ]


def test_cli_unknown_category(cli):
    result = cli("recipe", "run", "가구")
    assert result.exit_code == 2
    assert result.stderr == (
        "Error: Unknown category '가구'. Known categories: 화장품 (cosmetics, beauty, 뷰티), 데모 (demo, 데모화장품), "
        "전자제품 (electronics, appliances, 가전), 식품 (food, grocery, 음식), 영화 (movies, movie, nsmc, 영화리뷰), "
        "반려동물 (pets, pet, 펫), 초소형 (tiny, ci).\n"
        "Run `domainlm recipe list`, pass a recipe file path, or create one with `domainlm recipe new NAME --from "
        "화장품`.\n"
    )


def test_cli_bad_override_syntax(cli):
    result = cli("recipe", "validate", "tiny", "--set", "train.max_steps")
    assert result.exit_code == 2
    assert "  - --set train.max_steps: expected KEY.PATH=VALUE, e.g. --set train.max_steps=200" in result.stderr


def test_cli_new_and_diff(cli, tmp_path):
    out = tmp_path / "garden.yaml"
    result = cli("recipe", "new", "garden", "--from", "반려동물", "--category", "원예", "-o", out)
    assert result.exit_code == 0, result.output
    result = cli("recipe", "diff", "pets", str(out), "--set", "train.max_steps=5")
    assert result.exit_code == 0
    assert "train.max_steps" in result.stdout and "원예" in result.stdout


@pytest.mark.parametrize("width", [80, 120])
def test_recipe_list_wraps_between_words(cli, monkeypatch, width):
    """At 80 columns and wider, no word of a description is cut (the table once printed `review s`, `an`)."""
    import re

    from domainlm.cli.common import console
    from domainlm.cli.recipe import short_description

    monkeypatch.setattr(console, "width", width)
    result = cli("recipe", "list")
    assert result.exit_code == 0, result.output
    rows: list[list[str]] = []
    for line in result.stdout.splitlines():
        cells = line.split("│")
        if len(cells) != 6:
            continue
        if cells[1].strip():
            rows.append([])
        rows[-1].append(cells[4].strip())
        assert len(line) <= width
    entries = {e.name: e for e in list_recipes()}
    assert len(rows) == len(entries)
    shown = [" ".join(part for part in row if part) for row in rows]
    expected = [short_description(e.description) for e in entries.values()]
    assert sorted(shown) == sorted(expected)  # the cells, joined, give back the text: nothing cut inside a word
    for text, e in zip(sorted(expected), sorted(entries.values(), key=lambda e: short_description(e.description))):
        words = set(re.split(r"\s+", " ".join(e.description.split())))
        assert all(w in words or w == "…" or w.rstrip(".:;") in {x.rstrip(".:;") for x in words} for w in text.split())


def test_adapt_request_decides_from_the_recipe_under_what_was_typed(shared_data):
    from domainlm.recipes.requests import adapt_request

    r = adapt_request(category="영화", data_dir=shared_data, max_steps=7)
    assert r.base == "kykim/bert-kor-base" and r.category == "영화"
    assert r.config.max_steps == 7 and r.config.init == r.recipe.vocab.init
    assert r.corpus == list(r.recipe.data.domain) and r.heldout_seed == r.recipe.data.heldout.seed
    typed = adapt_request(category="영화", data_dir=shared_data, corpus=["mine.txt"], field_name="body")
    assert [(s.path, s.field) for s in typed.corpus] == [("mine.txt", "body")]
    assert typed.config.heldout_fraction == typed.recipe.train.heldout_fraction  # typed corpus: training's own rule


def test_adapt_request_without_a_recipe_takes_set_overrides_and_says_what_is_missing():
    from domainlm.errors import ConfigError
    from domainlm.recipes.requests import adapt_request

    r = adapt_request(
        base="some/base", corpus=["a.txt"], overrides=["train.lora.r=4", "train.electra.generator_warmup_steps=5"]
    )
    assert r.config.lora.r == 4 and r.config.electra.generator_warmup_steps == 5
    assert any("No --terms" in n for n in r.notes)
    with pytest.raises(ConfigError, match="No base model"):
        adapt_request(corpus=["a.txt"])
    with pytest.raises(ConfigError, match=r"train\.lr"):
        adapt_request(base="b", corpus=["a.txt"], lr=-1.0)
