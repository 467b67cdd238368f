"""The built-in tasks: the seed's fine-tuning table on the shared data layout, in its order."""

from __future__ import annotations

from domainlm.tasks.schema import Task

_SHARED_NOTE = (
    "the shared data has no train split for this task: trained on a hash-split part of {file}, "
    "smaller than the published protocol"
)

BUILTIN_TASKS: dict[str, Task] = {
    t.name: t
    for t in (
        Task(
            name="nsmc",
            type="single",
            metric="accuracy",
            train="eval/nsmc_train_40k.tsv",
            test="eval/nsmc_test_10k.tsv",
            text_columns=["document"],
            label_column="label",
            label_map={"0": 0, "1": 1},
            epochs=5,
            source="NSMC samples (e9t/nsmc, CC0), shared data eval/",
        ),
        Task(
            name="hate-speech",
            type="single",
            metric="macro_f1",
            train="eval/hate_speech_train.tsv",
            test="eval/hate_speech_dev.tsv",
            text_columns=["comments"],
            label_column="hate",
            label_map={"none": 0, "offensive": 1, "hate": 2},
            epochs=10,
            source="kocohub/korean-hate-speech (CC BY-SA 4.0), shared data eval/",
            note="reported on the official dev set, as the seed's table; checkpoints chosen on a dev part "
            "carved from train",
        ),
        Task(
            name="question-pair",
            type="pair",
            metric="accuracy",
            train="eval/question_pair_train.tsv",
            dev="eval/question_pair_dev.tsv",
            test="eval/question_pair_test.tsv",
            text_columns=["question1", "question2"],
            label_column="is_duplicate",
            label_map={"0": 0, "1": 1},
            epochs=5,
            source="songys/Question_pair v2 (MIT), shared data eval/",
        ),
        Task(
            name="kornli",
            type="pair",
            metric="accuracy",
            train="eval/kornli_xnli_dev.tsv",
            test="eval/kornli_xnli_test.tsv",
            text_columns=["sentence1", "sentence2"],
            label_column="gold_label",
            label_map={"entailment": 0, "neutral": 1, "contradiction": 2},
            epochs=5,
            source="KorNLI (kakaobrain/KorNLUDatasets, XNLI part), shared data eval/",
            note=_SHARED_NOTE.format(file="kornli_xnli_dev.tsv"),
        ),
        Task(
            name="paws-x",
            type="pair",
            metric="accuracy",
            train="eval/pawsx_ko_dev.tsv",
            test="eval/pawsx_ko_test.tsv",
            text_columns=["sentence1", "sentence2"],
            label_column="label",
            label_map={"0": 0, "1": 1},
            epochs=5,
            source="PAWS-X Korean (google-research-datasets/paws), shared data eval/",
            note=_SHARED_NOTE.format(file="pawsx_ko_dev.tsv"),
        ),
        Task(
            name="klue-nli",
            type="pair",
            metric="accuracy",
            format="klue-json",
            train="eval/klue_nli_dev.json",
            text_columns=["premise", "hypothesis"],
            label_column="gold_label",
            label_map={"entailment": 0, "neutral": 1, "contradiction": 2},
            epochs=5,
            source="KLUE NLI dev set (klue-benchmark, CC BY-SA 4.0), shared data eval/",
            note=_SHARED_NOTE.format(file="klue_nli_dev.json") + "; test carved from it too",
        ),
        Task(
            name="korsts",
            type="regression",
            metric="spearman",
            train="eval/korsts_train.tsv",
            dev="eval/korsts_dev.tsv",
            test="eval/korsts_test.tsv",
            text_columns=["sentence1", "sentence2"],
            label_column="score",
            score_range=(0, 5),
            epochs=15,
            source="KorSTS (kakaobrain/KorNLUDatasets), shared data eval/",
        ),
        Task(
            name="klue-sts",
            type="regression",
            metric="pearson",
            format="klue-json",
            train="eval/klue_sts_dev.json",
            text_columns=["sentence1", "sentence2"],
            label_column="labels.label",
            score_range=(0, 5),
            epochs=15,
            source="KLUE STS dev set (klue-benchmark, CC BY-SA 4.0), shared data eval/",
            note=_SHARED_NOTE.format(file="klue_sts_dev.json") + "; test carved from it too",
        ),
        Task(
            name="klue-ner",
            type="tokens",
            metric="entity_f1",
            format="klue-ner",
            train="eval/klue_ner_dev.tsv",
            epochs=5,
            source="KLUE NER dev set (klue-benchmark, CC BY-SA 4.0), shared data eval/; it stands in for "
            "Naver NER, which may not be redistributed (pass --task a YAML with format naver-ner)",
            note=_SHARED_NOTE.format(file="klue_ner_dev.tsv") + "; test carved from it too; character-level "
            "entity F1 (seqeval)",
        ),
        Task(
            name="shopping-rating",
            type="single",
            metric="accuracy",
            train="reviews/naver_shopping_50k.tsv",
            text_columns=["text"],
            label_column="rating",
            label_map={"1": 0, "2": 0, "4": 1, "5": 1},
            ignore_labels=[""],
            epochs=5,
            source="Naver shopping reviews (bab2min/corpus, public domain), "
            "shared data reviews/; rated rows, 1–2 vs 4–5 stars",
            note="one file: test and dev carved from its rated rows by a hash",
        ),
    )
}

# The seed's table, in its order (KLUE-NER standing in for Naver NER), then the rest.
SUITE_ORDER = (
    "nsmc",
    "klue-ner",
    "paws-x",
    "kornli",
    "korsts",
    "question-pair",
    "hate-speech",
    "klue-nli",
    "klue-sts",
    "shopping-rating",
)


def known_tasks() -> list[str]:
    return list(SUITE_ORDER)
