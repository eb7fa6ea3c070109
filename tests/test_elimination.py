"""Evol-Instruct's elimination rules: each drops what the paper drops and keeps the near misses."""

from __future__ import annotations

import pytest

from assay.agents.elimination import (
    EliminationScreen,
    content_words,
    copied_template_words,
    eliminate_instruction,
    eliminate_response,
    no_new_information,
    only_punctuation_and_stop_words,
    struggling_response,
)
from assay.core.records import Message, Sample

PARENT = "Write a SQL query that lists customers."


def test_content_words_fold_case_accents_and_skip_stop_words() -> None:
    assert content_words("The Café and THE cafe, of course!") == {"cafe", "course"}


@pytest.mark.parametrize("evolved", [
    PARENT,
    "write a sql query that lists customers",  # case and punctuation only
    "Lists customers: write that SQL query.",  # reordered
    "Write a query that lists customers.",  # a word removed is no gain either
    "Please write for me a SQL query that lists the customers.",  # only stop words added
])
def test_no_information_gain_is_eliminated(evolved: str) -> None:
    verdict = no_new_information(evolved, PARENT)
    assert not verdict.keep and verdict.reason == "elimination:no_new_information"


def test_one_new_content_word_is_information() -> None:
    verdict = no_new_information("Write a SQL query that lists customers by orders.", PARENT)
    assert verdict.keep and verdict.scores == {"new_content_words": 1.0}


@pytest.mark.parametrize("instruction", [
    "Rewritten Prompt: write a SQL query with a join.",
    "As in the #Given Prompt#, debug this query.",
    "Here is the created prompt about joins.",
    'Debug the query <data name="instruction"> select 1',
    "Seed instruction: fix the join.",
])
def test_copied_template_words_are_eliminated(instruction: str) -> None:
    verdict = copied_template_words(instruction)
    assert not verdict.keep and verdict.reason == "elimination:copied_template"


def test_the_words_prompt_or_given_alone_are_not_template_copies() -> None:
    assert copied_template_words("Given a prompt for a password, validate it in SQL.").keep


@pytest.mark.parametrize("response", ["", "   ", "...!?", "It is what it is, and that is that.", "—"])
def test_punctuation_and_stop_words_only_is_empty(response: str) -> None:
    verdict = only_punctuation_and_stop_words(response, "response")
    assert not verdict.keep and verdict.reason == "elimination:empty_response"


@pytest.mark.parametrize("response", ["No.", "42", "Yes, it is."])
def test_short_real_answers_are_not_empty(response: str) -> None:
    assert only_punctuation_and_stop_words(response, "response").keep


def test_short_sorry_is_a_struggle_and_long_sorry_is_not() -> None:
    short = "I'm sorry, but I cannot write that query without the schema."
    assert struggling_response(short).reason == "elimination:sorry_short"
    long = "Sorry for the long answer. " + " ".join(["The join drops rows whose key is null."] * 10)
    assert len(long.split()) >= 80 and struggling_response(long).keep
    assert struggling_response("The query is correct; no apology needed.").keep


def test_instruction_rules_run_cheapest_first_and_name_the_first_failure() -> None:
    assert eliminate_instruction("?!", PARENT).reason == "elimination:empty_instruction"
    assert eliminate_instruction("Given prompt: lists customers", PARENT).reason == "elimination:copied_template"
    assert eliminate_instruction(PARENT.upper(), PARENT).reason == "elimination:no_new_information"
    assert eliminate_instruction("Write a SQL query that lists customers by region.", PARENT).keep


def test_response_rules() -> None:
    assert eliminate_response("").reason == "elimination:empty_response"
    assert eliminate_response("Sorry, I can't.").reason == "elimination:sorry_short"
    assert eliminate_response("SELECT name FROM customers;").keep


def test_screen_checks_each_sample_against_its_parent() -> None:
    parent = Sample.create([Message(role="user", content=PARENT), Message(role="assistant", content="SELECT * FROM c;")])

    def child(instruction: str, response: str, parents: tuple[str, ...] = (parent.id,)) -> Sample:
        return Sample.create([Message(role="user", content=instruction), Message(role="assistant", content=response)],
                             parent_ids=parents, op="synth")

    batch = [
        child("Write a SQL query that lists customers and their orders.", "SELECT c.name, o.id FROM c JOIN o;"),
        child(PARENT, "SELECT name FROM c;"),
        child("List customers by region in SQL.", "Sorry, no."),
        child(PARENT, "SELECT name FROM c;", parents=("unknown",)),  # no parent to compare: only parent-free rules
    ]
    verdicts = EliminationScreen({parent.id: parent.instruction})(batch)
    assert [v.reason for v in verdicts] == [None, "elimination:no_new_information", "elimination:sorry_short", None]
