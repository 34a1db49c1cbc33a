"""Hybrid retrieval on small corpora where the right order is known: real Chroma, real BM25."""

from __future__ import annotations

import itertools
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import KeywordEmbedder, write

from rag.config import Settings
from rag.pipeline import Pipeline
from rag.retrieve import OVERLAP
from rag.types import Chunk


def dump(path: Path, *stories: tuple[str, str, str], day: str = "2023-10-01") -> Path:
    """(url tail, source, body) stories published on `day`, as JSON Lines."""
    records = [
        {
            "title": f"Story {tail}",
            "url": f"https://x.example/{tail}",
            "source": source,
            "published_at": day,
            "body": body,
        }
        for tail, source, body in stories
    ]
    return write(path, "\n".join(json.dumps(r) for r in records))


def found(pipeline: Pipeline, question: str, k: int = 10) -> list[str]:
    return [p.chunk.article_id.rsplit("/", 1)[1] for p in pipeline.search(question, k=k).passages]


def bm25_ids(pipeline: Pipeline) -> list[str]:
    return sorted([c.id for c in pipeline.index.chunks])


def chroma_ids(pipeline: Pipeline) -> list[str]:
    return sorted(chunk.id for chunk in pipeline.store.everything()[0])


def test_bm25_stays_in_step_with_adds_changes_and_removals(
    settings: Settings, tmp_path: Path
) -> None:
    pipeline = Pipeline(
        settings.model_copy(update={"retriever": "bm25"}), embedder=KeywordEmbedder(["x"])
    )
    news = dump(
        tmp_path / "a.jsonl",
        ("1", "Post", "Harbour bridge closed."),
        ("2", "Post", "Library prize."),
    )
    pipeline.ingest([news])
    assert bm25_ids(pipeline) == chroma_ids(pipeline) and found(pipeline, "harbour") == ["1"]

    dump(news, ("1", "Post", "Ferry service ends."), ("2", "Post", "Library prize."))
    pipeline.ingest([news])
    assert found(pipeline, "harbour") == [] and found(pipeline, "ferry") == ["1"]

    pipeline.ingest([dump(tmp_path / "b.jsonl", ("3", "Wire", "Ferry strike called."))])
    assert sorted(found(pipeline, "ferry")) == ["1", "3"]

    pipeline.remove(["https://x.example/1"])
    assert found(pipeline, "ferry") == ["3"]
    assert bm25_ids(pipeline) == chroma_ids(pipeline)


def test_a_stale_or_lost_bm25_index_is_rebuilt_on_the_next_search(
    settings: Settings, tmp_path: Path
) -> None:
    bm25_only = settings.model_copy(update={"retriever": "bm25"})
    pipeline = Pipeline(bm25_only, embedder=KeywordEmbedder(["x"]))
    pipeline.ingest([dump(tmp_path / "a.jsonl", ("1", "Post", "Harbour bridge closed."))])
    shutil.rmtree(settings.data_dir / "search")  # as if a crash hit between the two writes
    assert found(Pipeline(bm25_only, embedder=KeywordEmbedder(["x"])), "harbour") == ["1"]
    # Another process's ingest bumps the generation: this pipeline notices on its next search.
    other = Pipeline(bm25_only, embedder=KeywordEmbedder(["x"]))
    other.ingest([dump(tmp_path / "b.jsonl", ("2", "Wire", "Harbour ferry."))])
    assert sorted(found(pipeline, "harbour")) == ["1", "2"]


FUSION = [
    ("both", "Post", "London and Paris talks."),
    ("rare", "Post", "Zebra zebra zebra crossing in London."),
    ("paris", "Post", "Paris only."),
]


@pytest.mark.parametrize(
    ("retriever", "weight", "expected"),
    [
        ("bm25", 0.7, "rare"),  # the rare word, three times, wins BM25
        ("dense", 0.7, "both"),  # both keywords: the closest vector
        ("hybrid", 0.95, "rare"),
        ("hybrid", 0.3, "both"),
    ],
)
def test_fusion_weighs_bm25_against_dense_as_set(
    settings: Settings, tmp_path: Path, retriever: str, weight: float, expected: str
) -> None:
    tuned = settings.model_copy(update={"retriever": retriever, "bm25_weight": weight})
    pipeline = Pipeline(tuned, embedder=KeywordEmbedder(["london", "paris"]))
    pipeline.ingest([dump(tmp_path / "a.jsonl", *FUSION)])
    assert found(pipeline, "London Paris zebra")[0] == expected


def test_hybrid_passages_say_which_retriever_found_them(settings: Settings, tmp_path: Path) -> None:
    pipeline = Pipeline(settings, embedder=KeywordEmbedder(["london", "paris"]))
    pipeline.ingest([dump(tmp_path / "a.jsonl", *FUSION)])
    labels = {
        p.chunk.article_id.rsplit("/", 1)[1]: p.found_by
        for p in pipeline.search("zebra crossing", k=3).passages
    }
    assert labels == {"rare": "bm25+dense", "both": "dense", "paris": "dense"}


TALKS = "London talks on the harbour treaty open in the old town hall with nine ministers."


def test_one_article_gives_at_most_its_share_and_copies_collapse(
    settings: Settings, tmp_path: Path
) -> None:
    small = settings.model_copy(
        update={"chunk_tokens": 16, "chunk_overlap": 0, "max_per_article": 2}
    )
    pipeline = Pipeline(small, embedder=KeywordEmbedder(["london"]))
    long = " ".join(  # sentences of their own words, so that no two chunks are near-copies
        "London " + " ".join(f"w{n}x{m}" for m in range(6)) + "." for n in range(8)
    )
    pipeline.ingest(
        [
            dump(
                tmp_path / "a.jsonl",
                ("long", "Post", long),
                ("copy1", "Post", TALKS),
                ("copy2", "Wire", TALKS + " Updated."),  # a near-copy, by another outlet
                ("other", "Wire", "London weather."),
            )
        ]
    )
    assert pipeline.store.count() > 4
    got = found(pipeline, "London talks", k=10)
    assert got.count("long") == 2
    assert sorted(set(got)) == ["copy1", "long", "other"] or sorted(set(got)) == [
        "copy2",
        "long",
        "other",
    ]


def test_each_outlet_a_question_names_gets_its_own_search(
    settings: Settings, tmp_path: Path
) -> None:
    pipeline = Pipeline(settings, embedder=KeywordEmbedder(["bridge", "strike"]))
    distractors = [
        (f"d{n}", "Gazette", f"Bridge bridge repairs, bridge works {n}.") for n in range(6)
    ]
    pipeline.ingest(
        [
            dump(
                tmp_path / "a.jsonl",
                ("alpha", "Alpha Times", "The bridge repairs finished early."),
                ("beta", "Beta Post", "The metro strike ended on Friday."),
                *distractors,
            )
        ]
    )
    question = "Did Alpha Times report the bridge repairs, and Beta Post the metro strike?"
    result = pipeline.search(question, k=2)
    assert sorted(found(pipeline, question, k=2)) == ["alpha", "beta"]
    assert result.notes == ("Sources named in the question: Alpha Times, Beta Post",)


def test_each_claim_of_a_question_finds_its_own_report(settings: Settings, tmp_path: Path) -> None:
    pipeline = Pipeline(settings, embedder=KeywordEmbedder(["zebra"]))  # dense: no opinion
    # Reports with every word of the question, in one long sentence: the whole question's
    # best matches, but no claim's.
    distractors = [
        (
            f"d{n}",
            "Post",
            f"Somebody rebuilt a harbour bridge, opened a new metro line downtown and cut "
            f"ferry fares for pensioners, said a{n} of b{n} to c{n} in d{n} after e{n}.",
        )
        for n in range(6)
    ]
    pipeline.ingest(
        [
            dump(
                tmp_path / "a.jsonl",
                *distractors,
                ("metro", "Post", "Acme opened the new metro line downtown."),
                ("ferry", "Post", "Acme cut ferry fares for pensioners."),
            )
        ]
    )
    question = (
        "Which firm rebuilt the harbour bridge, opened the new metro line downtown and cut "
        "ferry fares for pensioners?"
    )
    assert {"metro", "ferry"} <= set(found(pipeline, question, k=4))


def test_passages_come_best_first_by_their_merged_score_labelled_by_their_best_search(
    settings: Settings, tmp_path: Path
) -> None:
    pipeline = Pipeline(settings, embedder=KeywordEmbedder(["bridge"]))
    pipeline.ingest(
        [
            dump(
                tmp_path / "a.jsonl",
                ("bridge", "Post", "The bridge repairs finished early, the bridge reopened."),
                ("metro", "Post", "The metro strike ended on Friday after talks."),
                ("ferry", "Post", "Ferry fares for pensioners were cut in half."),
                ("mixed", "Post", "Bridge works and a metro strike and ferry fares."),
            )
        ]
    )
    question = (
        "Did the bridge repairs finish early, did the metro strike end on Friday, "
        "and were ferry fares for pensioners cut?"
    )
    passages = pipeline.search(question, k=4).passages
    scores = [p.score for p in passages]
    assert scores == sorted(scores, reverse=True)
    by_story = {p.chunk.article_id.rsplit("/", 1)[1]: p.found_by for p in passages}
    # Each claim's own report is its first hit; the whole question ranks others first.
    assert "claim" in by_story["metro"] and "claim" in by_story["ferry"]


def shared(a: Chunk, b: Chunk) -> float:
    """The share of the shorter chunk's text that two chunks of one article both hold."""
    common = min(a.char_end, b.char_end) - max(a.char_start, b.char_start)
    return max(common, 0) / min(len(a.text), len(b.text))


def test_passages_of_one_article_do_not_repeat_each_other(
    settings: Settings, tmp_path: Path
) -> None:
    overlapping = settings.model_copy(
        update={"chunk_tokens": 16, "chunk_overlap": 12, "max_per_article": 3}
    )
    pipeline = Pipeline(overlapping, embedder=KeywordEmbedder(["london"]))
    body = " ".join(f"London talk w{n}." for n in range(20))
    pipeline.ingest([dump(tmp_path / "a.jsonl", ("long", "Post", body))])
    chunks = pipeline.index.chunks
    assert any(shared(a, b) > OVERLAP for a, b in itertools.pairwise(chunks))
    got = [p.chunk for p in pipeline.search("London talk", k=10).passages]
    assert len(got) == 3
    assert all(shared(a, b) <= OVERLAP for a in got for b in got if a is not b)


def test_a_report_the_question_singles_out_by_outlet_and_day_gives_more_passages(
    settings: Settings, tmp_path: Path
) -> None:
    one_each = settings.model_copy(
        update={"chunk_tokens": 16, "chunk_overlap": 0, "max_per_article": 1}
    )
    pipeline = Pipeline(one_each, embedder=KeywordEmbedder(["bridge"]))
    stories = [
        (
            "named",
            "Post",
            "2023-10-05",
            "Rivets rusted on the pier. Cables sagged at the gate. "
            "Paint peeled from the rails. Lamps failed at night. Bolts fell out.",
        ),
        (
            "other",
            "Post",
            "2023-10-01",
            "Voters queued at dawn. Ballots ran short by noon. "
            "Counting lasted all night. Turnout hit a record. Polls closed late.",
        ),
        (
            "later",
            "Wire",
            "2023-10-20",
            "Storms flooded the valley. Farmers lost their crops. "
            "Roads closed for days. Schools stayed shut. Rivers burst banks.",
        ),
    ]
    pipeline.ingest(
        [
            dump(tmp_path / f"{tail}.jsonl", (tail, source, body), day=day)
            for tail, source, day, body in stories
        ]
    )
    assert all(c.ordinal < 2 for c in pipeline.index.chunks)  # two chunks a story
    assert len(pipeline.index.chunks) == 6
    question = (
        "Did the Post report published on October 5, 2023 differ from the Wire report "
        "published on October 20, 2023?"
    )
    got = found(pipeline, question)
    # The only Post report of that day, and the only Wire one: twice max_per_article each.
    assert got.count("named") == 2 and got.count("later") == 2 and got.count("other") <= 1
    # Without the days, no report is singled out.
    assert sorted(found(pipeline, "Did the Post differ from the Wire?")) == [
        "later",
        "named",
        "other",
    ]


def test_a_chunk_is_also_scored_by_its_best_sentence(settings: Settings, tmp_path: Path) -> None:
    pipeline = Pipeline(settings, embedder=KeywordEmbedder(["x"]))
    together = "The ferry strike ended at dawn. " + " ".join(f"w{n}." for n in range(30))
    apart = "A ferry sailed. Workers went on strike. Dawn came."
    pipeline.ingest(
        [dump(tmp_path / "a.jsonl", ("together", "Post", together), ("apart", "Post", apart))]
    )
    ids = [c.article_id.rsplit("/", 1)[1] for c in pipeline.index.chunks]
    by_chunk = dict(zip(ids, pipeline.index.bm25("ferry strike dawn"), strict=True))
    every = np.arange(len(ids))
    by_sentence = dict(
        zip(ids, pipeline.index.sentence_bm25("ferry strike dawn", every), strict=True)
    )
    one = pipeline.index.sentence_bm25("ferry strike dawn", np.array([ids.index("apart")]))
    assert one.tolist() == [by_sentence["apart"]]
    assert by_chunk["apart"] > by_chunk["together"]  # the shorter chunk, words and all
    assert by_sentence["together"] > by_sentence["apart"]  # but its words are never together


def test_of_two_chunks_with_the_same_words_the_one_holding_them_in_one_sentence_wins(
    settings: Settings, tmp_path: Path
) -> None:
    pipeline = Pipeline(
        settings.model_copy(update={"retriever": "bm25"}), embedder=KeywordEmbedder(["x"])
    )
    pipeline.ingest(
        [
            dump(
                tmp_path / "a.jsonl",
                # The same query words and lengths, so the same chunk BM25, and words of their
                # own, not to be near-copies; "apart" is indexed first.
                (
                    "apart",
                    "Post",
                    "The ferry waited outside. Crowds ended a strike. "
                    "Buses ran late at dawn. Gulls cried.",
                ),
                (
                    "together",
                    "Post",
                    "The ferry strike ended at dawn. Crowds waited outside. "
                    "Buses ran late. Rain fell.",
                ),
            )
        ]
    )
    scores = pipeline.index.bm25("ferry strike dawn")
    assert scores[0] == pytest.approx(scores[1])
    assert found(pipeline, "ferry strike dawn", k=2) == ["together", "apart"]


def test_a_search_index_laid_out_by_an_older_version_is_rebuilt(
    settings: Settings, tmp_path: Path
) -> None:
    pipeline = Pipeline(settings, embedder=KeywordEmbedder(["x"]))
    pipeline.ingest([dump(tmp_path / "a.jsonl", ("1", "Post", "Harbour bridge closed."))])
    meta = settings.data_dir / "search" / "meta.json"
    old = {"generation": json.loads(meta.read_text())["generation"]}  # no layout: version 1
    meta.write_text(json.dumps(old))
    shutil.rmtree(settings.data_dir / "search" / "sentences")
    assert found(Pipeline(settings, embedder=KeywordEmbedder(["x"])), "harbour") == ["1"]
    assert json.loads(meta.read_text()) != old
