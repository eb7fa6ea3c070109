"""Dedup: exact, MinHash-LSH and semantic duplicates, clustering, and which sample is kept."""

from __future__ import annotations

import numpy as np
import pytest

from assay.core.records import Message, Sample
from assay.tools.dedup import (
    Dedup,
    DuplicatePair,
    EditedCopyRule,
    cluster_duplicates,
    dedup,
    minhash_pairs,
    normalize_text,
    semantic_pairs,
)
from assay.tools.dedup_task import TaskRule


def sample(question: str, answer: str, **scores: float) -> Sample:
    return Sample.create([Message(role="user", content=question), Message(role="assistant", content=answer)],
                         source="t", scores=scores)


ESSAY_Q = "Explain why the sky looks blue during the day and red at sunset."
ESSAY_A = ("Sunlight is made of many colours. When it passes through the atmosphere, the short blue "
           "wavelengths are scattered by air molecules far more than the long red ones, so blue light "
           "reaches our eyes from every direction of the sky. At sunset the light travels through much "
           "more air, most of the blue is scattered away before it arrives, and the remaining reds and "
           "oranges dominate the colour of the sky near the horizon.")
# Four words changed out of about 85: a light edit.
ESSAY_EDITED = (ESSAY_A.replace("many colours", "several colours").replace("far more", "much more")
                .replace("every direction", "all directions"))
TEMPLATE = [
    sample("Identify which instrument is string or percussion: Ikembe, Cimbalom",
           "Cimbalom is string, Ikembe is percussion."),
    sample("Identify which instrument is string or percussion: Xylorimba, Cimbalom",
           "Cimbalom is string, Xylorimba is percussion."),
    sample("Identify which instrument is string or percussion: Tifa, Pipa", "Pipa is string, Tifa is percussion."),
]


def unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def test_normalisation_folds_case_width_whitespace_and_end_punctuation() -> None:
    assert normalize_text("  Ｈｅｌｌｏ,\n\tWORLD!!  ") == "hello, world"
    assert normalize_text("«Quoted.»") == "quoted"
    assert normalize_text("a.b") == "a.b"


def test_exact_copies_with_other_case_and_whitespace_collapse_onto_the_first() -> None:
    original = sample("What is the capital of France?", "The capital of France is Paris.")
    variant = sample("what is the  capital of\nFRANCE", "  The capital of France is Paris")
    other = sample("What is the capital of Spain?", "The capital of Spain is Madrid.")
    result = dedup([original, other, variant], methods=("exact",))
    assert [a.keep for a in result.assessments] == [True, True, False]
    assert result.assessments[2].reason == f"duplicate_of:{original.id}"
    assert result.assessments[2].detail == "exact similarity 1.00"
    (cluster,) = result.clusters
    assert (cluster.kept, cluster.dropped, cluster.methods) == (0, (2,), ("exact",))


def test_exact_keeps_turns_apart() -> None:
    # The same words split differently between instruction and response are not one sample.
    first = sample("Name a colour. Blue", "Red")
    second = sample("Name a colour.", "Blue Red")
    assert all(a.keep for a in dedup([first, second], methods=("exact",)).assessments)


def test_minhash_catches_an_edited_copy_but_not_samples_sharing_a_template() -> None:
    original, edited = sample(ESSAY_Q, ESSAY_A), sample(ESSAY_Q, ESSAY_EDITED)
    batch = [original, *TEMPLATE, edited]
    result = dedup(batch, methods=("minhash",))
    assert [a.keep for a in result.assessments] == [True, True, True, True, False]
    dropped = result.assessments[4]
    assert dropped.reason == f"duplicate_of:{original.id}" and dropped.detail.startswith("minhash similarity 0.")
    assert 0.8 <= dropped.scores["dup_similarity"] < 1.0


# Eight long words changed out of 74: the Jaccard of character 3-grams falls to about 0.73.
HEAVY_EDITS = [("Sunlight", "Daylight"), ("passes", "journeys"), ("atmosphere", "stratosphere"),
               ("wavelengths", "frequencies"), ("molecules", "particles"), ("direction", "quarter"),
               ("travels", "journeys"), ("remaining", "leftover")]
ESSAY_HEAVILY_EDITED = ESSAY_A
for _old, _new in HEAVY_EDITS:
    ESSAY_HEAVILY_EDITED = ESSAY_HEAVILY_EDITED.replace(_old, _new)


def test_a_heavily_edited_long_copy_is_caught_by_the_words_in_order() -> None:
    original, edited = sample(ESSAY_Q, ESSAY_A), sample(ESSAY_Q, ESSAY_HEAVILY_EDITED)
    assert [(p.first, p.second) for p in minhash_pairs([original, edited], edited=None)] == []
    (pair,) = minhash_pairs([original, edited])
    assert (pair.first, pair.second) == (0, 1) and 0.6 <= pair.similarity < 0.8


def test_short_template_siblings_stay_apart_however_close_their_words() -> None:
    short_a = "Is a yard an imperial or a metric measurement? A yard is imperial."
    short_b = "Is a foot an imperial or a metric measurement? A foot is imperial."
    rule = EditedCopyRule()
    assert not rule.holds(short_a, short_b, similarity=0.75)  # under min_words_in_order shared words
    assert rule.holds(ESSAY_A, ESSAY_HEAVILY_EDITED, similarity=0.7)
    assert not rule.holds(ESSAY_A, ESSAY_HEAVILY_EDITED, similarity=0.5)  # below the floor
    assert minhash_pairs([*TEMPLATE, sample(short_a, "yes"), sample(short_b, "yes")]) == []


def test_minhash_seed_changes_the_sketch_not_the_verdict() -> None:
    batch = [sample(ESSAY_Q, ESSAY_A), *TEMPLATE, sample(ESSAY_Q, ESSAY_EDITED)]
    runs = [minhash_pairs(batch, seed=seed) for seed in (1, 2, 3)]
    assert all([(p.first, p.second) for p in run] == [(0, 4)] for run in runs)
    assert minhash_pairs(batch, seed=7) == minhash_pairs(batch, seed=7)


def test_semantic_pairs_by_blocks_match_the_full_matrix() -> None:
    rng = np.random.default_rng(0)
    base = unit(rng.normal(size=(6, 16)))
    vectors = unit(np.concatenate([base, base[[0, 3, 3]] + 0.05 * rng.normal(size=(3, 16))]))
    full = vectors @ vectors.T
    expected = [(i, j) for i in range(9) for j in range(i + 1, 9) if full[i, j] >= 0.95]
    assert len(expected) >= 3  # the noisy copies and the pair of copies of row 3
    for block_size in (2, 4, 100):
        pairs = semantic_pairs(vectors, threshold=0.95, block_size=block_size)
        assert [(p.first, p.second) for p in pairs] == expected
        assert all(p.method == "semantic" and p.similarity == pytest.approx(full[p.first, p.second]) for p in pairs)


def test_semantic_with_given_vectors_drops_the_paraphrase() -> None:
    batch = [sample("q1", "a1"), sample("q2", "a2"), sample("q1 reworded", "a1 reworded")]
    vectors = unit(np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.97, 0.1, 0.0]]))
    result = dedup(batch, methods=("semantic",), vectors=vectors, semantic_task=None)
    assert [a.keep for a in result.assessments] == [True, True, False]
    assert result.assessments[2].reason == f"duplicate_of:{batch[0].id}"
    assert result.assessments[2].detail == f"semantic similarity {vectors[0] @ vectors[2]:.2f}"
    looser = dedup(batch, methods=("semantic",), vectors=vectors, semantic_threshold=0.999, semantic_task=None)
    assert all(a.keep for a in looser.assessments)


def test_semantic_with_real_minilm_embeddings_catches_a_paraphrase() -> None:
    from assay.session.embeddings import Embedder

    batch = [
        sample("How do I reverse a list in Python?",
               "Use my_list.reverse() to reverse it in place, or my_list[::-1] to get a reversed copy."),
        sample("How do I sort a list in Python?",
               "Use my_list.sort() to sort it in place, or sorted(my_list) to get a sorted copy."),
        sample("Give me a recipe for pancakes.", "Mix flour, eggs and milk, then fry spoonfuls in a hot buttered pan."),
        sample("How can I reverse a Python list?",
               "Call my_list.reverse() to reverse it in place, or use my_list[::-1] for a reversed copy."),
    ]
    tool = Dedup(methods=("semantic",), embedder=Embedder())
    assert [a.keep for a in tool(batch)] == [True, True, True, False]
    assert tool.last_result.clusters[0].dropped_ids == (batch[3].id,)


class VectorsByText:
    """An embedder that hands out fixed vectors: the store's add() calls it."""

    def __init__(self, vectors: dict[str, np.ndarray]) -> None:
        self.vectors = vectors

    def encode(self, texts, *, on_batch=None) -> np.ndarray:
        return np.stack([self.vectors[t] for t in texts])


def test_semantic_through_the_store_index_agrees_with_the_matrix(session, tmp_path) -> None:
    from assay.session.store import Store, chroma_client

    rng = np.random.default_rng(1)
    base = unit(rng.normal(size=(8, 32)))
    vectors = unit(np.concatenate([base, base[[2, 5]] + 0.04 * rng.normal(size=(2, 32))]))
    batch = [sample(f"question {i}", f"answer {i}") for i in range(10)]
    store = Store(session.samples, VectorsByText({s.text(): v for s, v in zip(batch, vectors, strict=True)}),
                  chroma_client(tmp_path, None), "dedup-test")
    store.add(batch)
    from_matrix = dedup(batch, methods=("semantic",), vectors=vectors, semantic_task=None)
    from_store = dedup(batch, methods=("semantic",), store=store, semantic_task=None)
    assert [a.reason for a in from_store.assessments] == [a.reason for a in from_matrix.assessments]
    assert [(p.first, p.second) for p in from_store.pairs] == [(2, 8), (5, 9)]
    assert from_store.pairs[0].similarity == pytest.approx(float(vectors[2] @ vectors[8]), abs=1e-4)


def test_best_scored_sample_is_kept_and_unscored_ones_rank_last() -> None:
    low = sample("What is 2 + 2?", "4", quality=2.0)
    unscored = sample("what is 2 + 2", "4.")
    high = sample("WHAT IS 2 + 2?", "4", quality=4.5)
    result = dedup([low, unscored, high], methods=("exact",), score_key="quality")
    assert [a.keep for a in result.assessments] == [False, False, True]
    assert {a.reason for a in result.assessments[:2]} == {f"duplicate_of:{high.id}"}
    assert result.assessments[2].scores == {"dup_cluster_size": 3.0}
    tied = dedup([sample("Hi", "Hello", quality=3.0), sample("hi", "hello", quality=3.0)], ("exact",),
                 score_key="quality")
    assert [a.keep for a in tied.assessments] == [True, False]


def test_methods_chain_into_one_cluster_and_the_drop_names_the_link() -> None:
    original = sample(ESSAY_Q, ESSAY_A)
    shouted = sample(ESSAY_Q.upper(), ESSAY_A.upper())
    edited = sample(ESSAY_Q, ESSAY_EDITED)
    unrelated = sample("q", "a")
    vectors = unit(np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]]))
    # edited ~ unrelated only semantically; the chain original - edited - unrelated is one cluster.
    result = dedup([original, shouted, edited, unrelated], vectors=vectors, semantic_task=None)
    (cluster,) = result.clusters
    assert cluster.kept == 0 and cluster.dropped == (1, 2, 3)
    assert cluster.methods == ("exact", "minhash", "semantic")
    assert result.assessments[1].detail == "exact similarity 1.00"
    assert result.assessments[3].detail == f"semantic similarity 1.00 via {edited.id}"
    assert result.assessments[3].reason == f"duplicate_of:{original.id}"


def test_clusters_are_the_connected_components_of_the_pairs() -> None:
    rng = np.random.default_rng(5)
    batch = [sample(f"q{i}", "a") for i in range(40)]
    edges = {tuple(sorted(map(int, rng.choice(40, 2, replace=False)))) for _ in range(30)}
    pairs = [DuplicatePair(a, b, "exact", 1.0) for a, b in sorted(edges, key=lambda e: -e[1])]  # any order
    groups = {i: {i} for i in range(40)}  # the reference: merge the groups each pair joins
    for a, b in edges:
        joined = groups[a] | groups[b]
        for member in joined:
            groups[member] = joined
    expected = sorted({tuple(sorted(g)) for g in groups.values() if len(g) > 1})
    result = cluster_duplicates(batch, pairs)
    assert sorted((c.kept, *c.dropped) for c in result.clusters) == expected  # the earliest is kept
    assert [a.keep for a in result.assessments] == [not any(i in g[1:] for g in expected) for i in range(40)]
    assert cluster_duplicates(batch, []).clusters == []


def test_the_same_sample_twice_is_a_duplicate_in_every_method() -> None:
    once = sample(ESSAY_Q, ESSAY_A)
    batch = [once, sample("q", "a"), once]
    vectors = unit(np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]]))
    for methods in (("exact",), ("minhash",), ("semantic",)):
        result = dedup(batch, methods, vectors)
        assert [a.keep for a in result.assessments] == [True, True, False], methods


def test_results_are_deterministic() -> None:
    batch = [sample(ESSAY_Q, ESSAY_A), *TEMPLATE, sample(ESSAY_Q, ESSAY_EDITED), sample(ESSAY_Q.lower(), ESSAY_A)]
    vectors = unit(np.random.default_rng(3).normal(size=(len(batch), 8)))
    first, second = dedup(batch, vectors=vectors), dedup(batch, vectors=vectors)
    assert first == second and len(first.clusters) == 1


def test_bad_arguments_are_refused() -> None:
    batch = [sample("a", "b"), sample("c", "d")]
    with pytest.raises(ValueError, match="unknown dedup methods"):
        dedup(batch, methods=("fuzzy",))
    with pytest.raises(ValueError, match="needs `vectors`"):
        dedup(batch, methods=("semantic",))
    with pytest.raises(ValueError, match="3 vectors for 2 samples"):
        dedup(batch, methods=("semantic",), vectors=np.eye(3, dtype=np.float32))
    with pytest.raises(ValueError, match="store or an embedder"):
        Dedup(methods=("semantic",))


def test_pairs_record_positions_in_order() -> None:
    batch = [sample("x", "y"), sample("X", "Y"), sample("x ", "y ")]
    assert dedup(batch, ("exact",)).pairs == [DuplicatePair(0, 1, "exact", 1.0), DuplicatePair(0, 2, "exact", 1.0)]


PASSAGE = ("Carbonara is an Italian pasta dish from Rome made with eggs, hard cheese, cured pork and black "
           "pepper. The dish took its modern form and name in the middle of the 20th century. The cheese is "
           "usually Pecorino Romano, Parmigiano-Reggiano, or a combination of the two. Spaghetti is the most "
           "common pasta, but fettuccine, rigatoni, linguine, or bucatini are also used. Normally guanciale "
           "or pancetta are used for the meat component, but lardons of smoked bacon are a common substitute "
           "outside Italy.")


def over_passage(question: str, answer: str) -> Sample:
    """An Alpaca record with an input, as intake shapes it: instruction, blank line, passage."""
    return sample(f"{question}\n\n{PASSAGE}", answer)


def test_different_questions_over_one_passage_are_both_kept() -> None:
    pork = over_passage("List the types of cured pork that can be used to make carbonara. Separate them with a comma.",
                        "Guanciale, pancetta, lardons, smoked bacon")
    pasta = over_passage("List the types of pasta that can be used to make carbonara",
                         "Spaghetti, fettuccine, rigatoni, linguine, bucatini")
    cheese = over_passage("Which cheeses go into carbonara?", "Pecorino Romano, Parmigiano-Reggiano, or both.")
    batch = [pork, pasta, cheese]
    # The passage carries the whole texts over the threshold: whole-text MinHash pairs them all.
    assert len(minhash_pairs(batch, task=None)) == 3
    assert minhash_pairs(batch) == []
    assert all(a.keep for a in dedup(batch, ("exact", "minhash")).assessments)


def test_the_same_question_reworded_over_one_passage_is_a_duplicate() -> None:
    asked = over_passage("List the types of pasta that can be used to make carbonara.",
                         "Spaghetti, fettuccine, rigatoni, linguine, bucatini")
    reworded = over_passage("Which types of pasta can be used for carbonara?",
                            "Spaghetti, fettuccine, rigatoni, linguine, bucatini")
    instruction, response = TaskRule().similarities(asked, reworded)
    assert 0.5 <= instruction < 0.8 and response == 1.0  # the matching answer settles the looser instruction
    result = dedup([asked, reworded], ("minhash",))
    assert [a.keep for a in result.assessments] == [True, False]
    assert result.assessments[1].reason == f"duplicate_of:{asked.id}"


def test_a_shared_list_inside_the_instruction_is_context_too() -> None:
    countries = ", ".join(["Afghanistan", "Albania", "Algeria", "Andorra", "Angola", "Argentina", "Armenia",
                           "Australia", "Austria", "Azerbaijan", "Bahamas", "Bahrain", "Bangladesh", "Barbados",
                           "Belarus", "Belgium", "Belize", "Benin", "Bhutan", "Bolivia", "Botswana", "Brazil",
                           "Brunei", "Bulgaria", "Burundi", "Cambodia", "Cameroon", "Canada", "Chad", "Chile",
                           "China", "Colombia", "Comoros", "Croatia", "Cuba", "Cyprus", "Denmark",
                           "Djibouti", "Dominica", "Ecuador", "Egypt", "Eritrea", "Estonia", "Eswatini", "Ethiopia",
                           "Fiji", "Finland", "France", "Gabon", "Gambia", "Georgia", "Germany", "Ghana", "Greece",
                           "Grenada", "Guatemala", "Guinea", "Guyana", "Haiti", "Honduras", "Hungary", "Iceland",
                           "India", "Indonesia", "Iran", "Iraq", "Ireland", "Israel", "Italy", "Jamaica", "Japan"])
    communist = sample(f"Are they communist countries: {countries}", "China and Cuba.")
    football = sample(f"Tell me if any of these countries have won the football world cup: {countries}",
                      "Argentina and Brazil have won it.")
    assert len(minhash_pairs([communist, football], task=None)) == 1
    assert minhash_pairs([communist, football]) == []
    retyped = sample(f"Are these communist countries: {countries}", "China and Cuba.")
    assert [(p.first, p.second) for p in minhash_pairs([communist, football, retyped])] == [(0, 2)]


def test_identical_prompts_with_a_changed_short_answer_stay_duplicates() -> None:
    # Planted copies in the eval change one number, sometimes the whole answer: the prompt is the same task.
    first = over_passage("How many kinds of pasta does the passage name?", "5")
    second = over_passage("How many kinds of pasta does the passage name?", "6")
    assert TaskRule().similarities(first, second) == (1.0, 0.0)
    assert [(p.first, p.second) for p in minhash_pairs([first, second])] == [(0, 1)]


def test_semantic_keeps_different_questions_over_one_passage_with_real_minilm() -> None:
    from assay.session.embeddings import Embedder

    pork = over_passage("List the types of cured pork that can be used to make carbonara.",
                        "Guanciale, pancetta, lardons, smoked bacon")
    cheese = over_passage("Which cheeses go into carbonara?", "Pecorino Romano, Parmigiano-Reggiano, or both.")
    reworded = over_passage("Which kinds of cured pork can go into a carbonara?",
                            "Guanciale, pancetta, lardons, smoked bacon")
    embedder = Embedder()
    batch = [pork, cheese, reworded]
    vectors = embedder.encode([s.text() for s in batch])
    # The passage carries the whole texts together: by whole-text cosine all three are one cluster.
    assert min(float(vectors[i] @ vectors[j]) for i, j in ((0, 1), (0, 2), (1, 2))) >= 0.9
    whole = dedup(batch, ("semantic",), vectors, semantic_threshold=0.9, semantic_task=None)
    assert [a.keep for a in whole.assessments] == [True, False, False]
    aware = dedup(batch, ("semantic",), vectors, semantic_threshold=0.9, embedder=embedder)
    assert [a.keep for a in aware.assessments] == [True, True, False]
    assert aware.assessments[2].reason == f"duplicate_of:{pork.id}"


def test_the_semantic_task_check_needs_an_embedder_for_parts_that_differ() -> None:
    batch = [sample("q1", "a1"), sample("q1 reworded", "a1 reworded")]
    vectors = unit(np.array([[1.0, 0.0], [1.0, 0.01]]))
    with pytest.raises(ValueError, match="pass an `embedder`"):
        dedup(batch, ("semantic",), vectors)
