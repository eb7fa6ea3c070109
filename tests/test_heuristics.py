"""Heuristic filters: each defect kind is caught, and the look-alike legit answers are kept."""

from __future__ import annotations

import json

import pytest

from assay.core.formats import record_to_sample
from assay.core.records import Message, Sample
from assay.tools.heuristics import (
    FILTERS,
    HeuristicConfig,
    HeuristicScreen,
    LanguageGuesser,
    empty_output,
    length_outlier,
    merged_instructions,
    refusal,
    repetition,
    screen_heuristics,
    truncated,
    url_only_input,
    wrong_language,
)
from tests.conftest import EXAMPLES

CONFIG = HeuristicConfig()


def chat(instruction: str, response: str) -> Sample:
    return Sample.create([Message(role="user", content=instruction), Message(role="assistant", content=response)])


def alpaca(instruction: str, given: str, output: str) -> Sample:
    return record_to_sample({"instruction": instruction, "input": given, "output": output}, "alpaca", source="t:1")


def reason(check, sample: Sample) -> str | None:
    verdict = check(sample, CONFIG)
    assert verdict.keep == (verdict.reason is None)
    return verdict.reason


LONG_FRENCH = (
    "La photosynthèse est le processus par lequel les plantes vertes utilisent la lumière du soleil "
    "pour fabriquer leur nourriture à partir du dioxyde de carbone et de l'eau, en libérant de l'oxygène."
)


@pytest.mark.parametrize(
    "output", ["", "   \n", "<noinput>", "<no output>", "<nooutput>", "N/A", "None", "-", "...", "No Output", "<output audio>"]
)
def test_empty_output_drops_blanks_and_placeholders(output: str) -> None:
    assert reason(empty_output, chat("Write a short poem about the ocean.", output)) == "empty_output"


@pytest.mark.parametrize(
    ("instruction", "output"),
    [("What is the capital of France?", "Paris."), ("Which of these numbers are prime: 4, 6, 8?", "None"),
     ("What is 2 - 2?", "0"), ("Is a tomato a vegetable?", "No"),
     ("Draw a smiley face in ASCII.", ":-)"), ("Write an HTML line break.", "<br>")],
)  # fmt: skip
def test_empty_output_keeps_short_real_answers(instruction: str, output: str) -> None:
    assert reason(empty_output, chat(instruction, output)) is None


@pytest.mark.parametrize(
    "output",
    [
        "Fighting broke out at Lexington in 1775, and the following year the",
        "Heat the oil. Add the onion and cook until soft. Then add the garlic and",
        "Warning signs include chest pain, pain in the arm or jaw, and shortness of",
        "The three main causes are: 1. water runoff from heavy rain, 2. the",
        "```python\ndef reverse_words(sentence):\n    return ' '.join(",
        "Steps:\n1. Preheat the oven.\n2.",
        "The word is derived from the name of the Roman goddess of the dawn,",
        "Simmer for ten minutes.\nIf you like it spicy, add a pinch of chili and",
    ],
)
def test_truncated_drops_cut_answers(output: str) -> None:
    assert reason(truncated, chat("Answer the question.", output)) == "truncated"


@pytest.mark.parametrize(
    "output",
    [
        "Paris",
        "The answer is 42",
        "```python\ndef add(a, b):\n    return a + b\n```",
        "1. Listen to their feelings\n2. Offer to help someone with a task they are struggling with",
        "Subject: jar\nVerb: sat\nArticle: the",
        "Java, Python, Go, C++",
        "Thanks for reaching out about the role. I am happy where I am.\n\nBest regards,",
        "Email: \nName:",
        "x = f(a, b)",
        "def swap(a, b):\n    return b, a",
        "Your new password: yG2{x8g1Qp",
        "Notes: B A G G A B G A",
    ],
)
def test_truncated_keeps_legit_endings(output: str) -> None:
    assert reason(truncated, chat("Answer the question.", output)) is None


def test_merged_instructions_drops_glued_tasks_and_run_on_records() -> None:
    glued = chat("1. Name a yellow fruit. 2. Translate 'cat' into French. 3. What is 9 times 7?", "1. Banana\n2. Chat\n3. 63")
    run_on = chat("Give two renewable energy sources.", "Solar and wind.\n\n2. Instruction: Write a haiku.\n2. Output: ...")
    hashed = chat("Rewrite in the past tense.", "She walked home.\n###\nInstruction: List five foods.\nOutput: 1. Oats")
    for sample in (glued, run_on, hashed):
        assert reason(merged_instructions, sample) == "merged_instructions"
    assert merged_instructions(glued, CONFIG).scores["numbered_tasks"] == 3.0


@pytest.mark.parametrize(
    ("instruction", "output"),
    [
        ("Rank these by size:\n1. Mars\n2. Earth\n3. Jupiter", "Jupiter, Earth, Mars."),
        ("1. Read the paragraph below. 2. Summarize it in one sentence.", "The paragraph argues for longer naps."),
        ("Write a test case for add().", "Input: 2, 3\nOutput: 5"),
        ("Write an example instruction for a language model.", "Instruction: Summarize the text.\nInput: a news story"),
    ],
)
def test_merged_instructions_keeps_single_tasks(instruction: str, output: str) -> None:
    assert reason(merged_instructions, chat(instruction, output)) is None


@pytest.mark.parametrize(
    ("instruction", "given"),
    [
        ("Summarize the article at the link.", "https://example.com/article/123"),
        ("Classify the sentiment of the review.", "Review URL: http://reviews.example.com/item/88123"),
        ("Describe this photo.", "![photo](https://example.org/cat.jpg)"),
        ("Identify the use of sounds in the film clip.", "<video clip>"),
        ("What does this image show?", "data:image/png;base64," + "iVBORw0KGgoAAAANSUhEUgAAAAEAAAAB" * 6),
    ],
)
def test_url_only_input_drops_unreadable_inputs(instruction: str, given: str) -> None:
    assert reason(url_only_input, alpaca(instruction, given, "Some answer.")) == "url_only_input"


def test_url_only_input_drops_link_inside_the_instruction() -> None:
    sample = chat("Summarize the following article: https://news.example.com/2020/story", "The article says ...")
    assert reason(url_only_input, sample) == "url_only_input"
    joined = chat("Summarize the article.\n\nhttps://news.example.com/2020/story", "The article says ...")
    assert reason(url_only_input, joined) == "url_only_input"  # a chat turn's last paragraph is its input


@pytest.mark.parametrize(
    ("instruction", "given"),
    [
        ("Generate the HTML code to create a link.", "https://www.example.com"),
        ("Extract the domain name from the URL.", "https://docs.python.org/3/library/re.html"),
        ("Normalize the following URL.", "HTTP://Example.COM/a/../b/"),
        ("Summarize the text.", "The web site https://example.com sells shoes and has grown fast since 2010."),
        ("Write a short bio.", ""),
    ],
)
def test_url_only_input_keeps_urls_used_as_data(instruction: str, given: str) -> None:
    assert reason(url_only_input, alpaca(instruction, given, "Some answer.")) is None


@pytest.mark.parametrize(
    ("instruction", "output"),
    [
        ("Give me a recipe for banana bread.", "I'm sorry, but I can't help with that."),
        ("Write a motivational message.", "I'm sorry, but as an AI language model I am not able to write personal messages."),
        ("Tell me a fun fact about octopuses.", "As an AI language model, I do not have personal experiences."),
        ("Create a flow chart of the process.", "This task cannot be performed by a GPT model as it requires a chart."),
        ("What's your favorite team?", "As a Large Language Model (LLM), I don't have a favorite team."),
    ],
)
def test_refusal_drops_refusals(instruction: str, output: str) -> None:
    verdict = refusal(chat(instruction, output), CONFIG)
    assert verdict.reason == "refusal" and verdict.scores["refusal"] == 1.0


@pytest.mark.parametrize(
    ("instruction", "output"),
    [
        ("My dog died last week.", "I'm sorry to hear that. Here are some tips that may help you grieve: ..."),
        ("Write a text declining a party invitation.", "I'm sorry, but I can't make it on Saturday. Have fun!"),
        ("Rewrite the dialogue to be more polite.", "- Agent: I'm sorry, but we are unable to fulfill your request."),
        ("What is a language model?", "A language model is a system that predicts the next word; it cannot see."),
        ("Explain tone deafness.", "Tone deafness is when a person is unable to recognize pitch."),
    ],
)
def test_refusal_keeps_apologies_and_topics(instruction: str, output: str) -> None:
    assert reason(refusal, chat(instruction, output)) is None


def test_repetition_drops_loops_and_reports_the_ratio() -> None:
    loop = chat("Describe a sunset.", "The sun sinks and the sky turns orange" + " and the sky turns orange" * 20)
    verdict = repetition(loop, CONFIG)
    assert verdict.reason == "repetition" and verdict.scores["repetition_ratio"] > 0.8
    said_again = chat("Study habits?", "Make a study schedule. " * 4 + "Sleep well. Eat breakfast.")
    assert reason(repetition, said_again) == "repetition"
    scattered = chat("Study habits?", "Make a study schedule. Sleep well. " * 4)
    assert reason(repetition, scattered) == "repetition"


@pytest.mark.parametrize(
    "output",
    [
        "A rainbow forms when sunlight is refracted, reflected and dispersed inside raindrops, "
        "so each colour leaves at a slightly different angle and you see a band of colours.",
        "T T T T F F F F T T T T F F F F T T F F T T F F T F T F T F T F",
        "<tr><td>1</td></tr>\n<tr><td>2</td></tr>\n<tr><td>3</td></tr>\n<tr><td>4</td></tr>",
        'if won:\n    print("You win!")\nelif lost:\n    print("You win!")\nelse:\n    print("You win!")',
        "Chorus: we rise again.\nVerse about the road and the rain and the long way home.\n"
        "Chorus: we rise again.\nVerse about the town and the lights and the friends we made.\n"
        "Chorus: we rise again.\nBridge about the sea and the sky and what we leave behind.",
        "Rain, rain, go away.\nCome again another day.\nRain, rain, go away.\nLittle children want to play.\n"
        "Rain, rain, go away.",
    ],
)
def test_repetition_keeps_varied_text_tables_and_songs(output: str) -> None:
    assert reason(repetition, chat("Write something.", output)) is None


def test_length_outlier_drops_too_short_and_absurdly_long() -> None:
    assert reason(length_outlier, chat("Explain how vaccines train the immune system.", "Antibodies.")) == "length_outlier"
    huge = chat("Say hi.", "hi " * (CONFIG.max_response_words + 1))
    assert reason(length_outlier, huge) == "length_outlier"
    assert length_outlier(huge, CONFIG).scores["response_words"] == CONFIG.max_response_words + 1


@pytest.mark.parametrize(
    ("instruction", "output"),
    [
        ("Describe the colour of the sky in one word.", "Blue."),
        ("Analyze the sentence and identify its type.", "Declarative."),
        ("What is the capital of France?", "Paris."),
    ],
)
def test_length_outlier_keeps_short_answers_to_short_questions(instruction: str, output: str) -> None:
    assert reason(length_outlier, chat(instruction, output)) is None


def test_length_outlier_thresholds_are_parameters() -> None:
    strict = HeuristicConfig(max_response_words=3)
    assert length_outlier(chat("Say hi.", "hi there my friend"), strict).reason == "length_outlier"


def test_wrong_language_drops_an_answer_in_another_language() -> None:
    sample = chat("Explain how photosynthesis works in green plants.", LONG_FRENCH)
    verdict = wrong_language(sample, CONFIG)
    assert verdict.reason == "wrong_language" and verdict.scores["language_match"] == 0.0


def test_wrong_language_drops_an_answer_in_another_script() -> None:
    chinese = "光合作用是绿色植物利用阳光把二氧化碳和水转化为葡萄糖并释放氧气的过程，这个过程主要发生在叶绿体中。"
    sample = chat("Explain how photosynthesis works in green plants.", chinese)
    assert reason(wrong_language, sample) == "wrong_language"


@pytest.mark.parametrize(
    ("instruction", "output"),
    [
        ("Translate into French: Photosynthesis is how plants make food from light.", LONG_FRENCH),
        ("Explique comment fonctionne la photosynthèse chez les plantes vertes.", LONG_FRENCH),
        ("Explain photosynthesis.", LONG_FRENCH),  # instruction too short to judge
        ("Name ten restaurants in Montreal with great reviews.", "1. Joe Beef\n2. L'Express\n3. Les 400 Coups\n"
         "4. Festival Saveurs et Saisons\n5. La Chronique\n6. Plats du Chef\n7. La Banquise\n8. La Habanera"),
        ("Explain how photosynthesis works in green plants.",
         "Plants capture light with chlorophyll and use its energy to turn carbon dioxide and water into sugar."),
    ],
)  # fmt: skip
def test_wrong_language_keeps_translations_same_language_and_names(instruction: str, output: str) -> None:
    assert reason(wrong_language, chat(instruction, output)) is None


def test_language_guesser_is_repeatable_with_a_seed() -> None:
    text = "Ceci est une phrase assez courte, mais elle reste en français."
    first = LanguageGuesser(seed=7).guess(text)
    assert first is not None and first[0] == "fr"
    assert LanguageGuesser(seed=7).guess(text) == first


def test_screen_reports_the_most_severe_reason_and_merges_scores() -> None:
    looping_and_cut = chat("Describe a sunset in one sentence.", "The sky turns orange and" * 20 + " the")
    clean = chat("What is the capital of France?", "Paris.")
    verdicts = HeuristicScreen()([looping_and_cut, clean])
    assert verdicts[0].reason == "repetition" and not verdicts[0].keep
    assert verdicts[1].keep and verdicts[1].reason is None
    expected = {"response_chars", "repetition_ratio", "max_sentence_repeats", "unclosed_brackets", "refusal",
                "numbered_tasks", "input_urls", "response_words", "instruction_words"}  # fmt: skip
    assert expected <= set(verdicts[1].scores)
    assert screen_heuristics([clean]) == [verdicts[1]]


def test_screen_can_run_a_subset_and_rejects_unknown_names() -> None:
    only = HeuristicScreen(only=["truncated"])
    assert only([chat("Q?", "")])[0].keep  # empty output is not this subset's business
    with pytest.raises(ValueError, match="unknown heuristic"):
        HeuristicScreen(only=["spelling"])
    assert list(FILTERS)[0] == "empty_output"


def test_screen_finds_the_planted_defects_of_the_examples() -> None:
    key = json.loads((EXAMPLES / "defects.json").read_text())["defects"]
    lines = (EXAMPLES / "pool.jsonl").read_text().splitlines()
    samples = [record_to_sample(json.loads(line), "alpaca", source=f"pool:{i}") for i, line in enumerate(lines, 1)]
    verdicts = HeuristicScreen()(samples)
    planted = {d["line"]: d["kind"] for d in key}
    ours = {"empty_output", "truncated", "merged_instructions", "url_only_input", "refusal", "repetition"}
    found = [line for line, kind in planted.items() if kind in ours and verdicts[line - 1].reason == kind]
    assert len(found) >= 0.9 * sum(1 for kind in planted.values() if kind in ours)
    false_positives = [n for n in range(1, len(lines) + 1) if n not in planted and not verdicts[n - 1].keep]
    assert len(false_positives) <= 3
