"""The recipe's `[screen]` section: every LLM-free filter's switch and thresholds.

`[screen.heuristics.<filter>]` holds one heuristic filter's `enabled` switch and its
thresholds; `[screen.dedup]` the dedup methods; `[screen.minhash]`, `[screen.semantic]` and
`[screen.decontam]` hold the near-duplicate, semantic-duplicate and contamination thresholds;
`[screen.code]` the code checks. The defaults are the tools' own
(tests/test_recipe.py checks that the default recipe builds the very same tool settings).
Core imports nothing of assay, so these are plain settings: assay/pipeline/screen/scoring.py
maps them onto the tools' config objects.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class _Filter(_Section):
    enabled: bool = Field(True, description="run this filter")


class EmptyOutput(_Filter):
    """Drops a response that is empty, whitespace, or a placeholder such as `<nooutput>` or `N/A`."""


class UrlOnlyInput(_Filter):
    """Drops a sample whose input is only a link (or an image, a blob) the model cannot open."""


class Refusal(_Filter):
    """Drops an answer that opens with a refusal or AI disclaimer, or a short one dominated by one."""


class MergedInstructions(_Filter):
    """Drops a sample that glues unrelated tasks together, or whose output runs on into another record."""


class Repetition(_Filter):
    """Drops a looping response: many repeated word 3-grams, or one sentence said again and again."""

    min_ngrams: int = Field(12, ge=1, description="fewer word 3-grams than this: too short to judge")
    max_ratio: float = Field(0.6, gt=0, le=1, description="share of duplicate 3-grams that drops (templated lists reach ~0.55)")
    max_sentence_repeats: int = Field(3, ge=2, description="a sentence said this often in a row drops")
    sentence_share: float = Field(0.66, gt=0, le=1, description="... or this often and over this share of all sentences")


class Truncated(_Filter):
    """Drops a response that stops mid-sentence, mid-list or mid-code."""

    min_words: int = Field(3, ge=1, description="shorter answers (\"New York\") may end on anything")


class WrongLanguage(_Filter):
    """Drops a response written in a different language from the instruction."""

    min_instruction_words: int = Field(5, ge=1, description="judged only when the instruction has this many words")
    min_response_words: int = Field(15, ge=1, description="... and the response this many")
    min_probability: float = Field(0.9, ge=0, le=1, description="both language guesses at least this sure")
    max_capitalised_share: float = Field(0.5, ge=0, le=1, description="above: a list of names, not prose; kept")
    english_share_floor: float = Field(0.12, ge=0, le=1, description="share of common English words above which both "
                                                                     "sides count as English without a detector")
    seed: int = Field(0, description="seed of the language detector")


class LengthOutlier(_Filter):
    """Drops a response far too short for a long-form request, or absurdly long."""

    long_form_min_words: int = Field(4, ge=1, description="\"explain/describe/write an essay\" answered in fewer words drops")
    max_response_words: int = Field(4000, ge=1, description="longer responses drop")
    max_response_chars: int = Field(40_000, ge=1, description="longer responses drop")


class HeuristicSettings(_Section):
    """The heuristic filters, most severe first: a sample failing several is dropped for the first."""

    empty_output: EmptyOutput = Field(default_factory=EmptyOutput)
    url_only_input: UrlOnlyInput = Field(default_factory=UrlOnlyInput)
    refusal: Refusal = Field(default_factory=Refusal)
    merged_instructions: MergedInstructions = Field(default_factory=MergedInstructions)
    repetition: Repetition = Field(default_factory=Repetition)
    truncated: Truncated = Field(default_factory=Truncated)
    wrong_language: WrongLanguage = Field(default_factory=WrongLanguage)
    length_outlier: LengthOutlier = Field(default_factory=LengthOutlier)

    def enabled(self) -> list[str]:
        """The names of the filters switched on, in order."""
        return [name for name in type(self).model_fields if getattr(self, name).enabled]


DedupMethod = Literal["exact", "minhash", "semantic"]


class DedupSettings(_Section):
    """Which duplicate finders run (`--dedup` overrides); the first to pair two samples describes the drop."""

    methods: list[DedupMethod] | None = Field(None, description="any of exact, minhash, semantic, in order; [] for "
                                                               "no dedup. Unset: the command's own (exact, minhash; "
                                                               "`assay expand`: exact, minhash, semantic)")

    @field_validator("methods")
    @classmethod
    def _each_once(cls, methods: list[str] | None) -> list[str] | None:
        if methods is not None and len(set(methods)) < len(methods):
            raise ValueError(f"methods = {methods} names a method twice")
        return methods


class MinHashSettings(_Section):
    """Near duplicates (`--dedup minhash`): Jaccard similarity of character shingles, found by MinHash-LSH."""

    threshold: float = Field(0.8, gt=0, le=1, description="shingle Jaccard at which two samples are duplicates")
    shingle_size: int = Field(3, ge=1, description="characters per shingle")
    permutations: int = Field(128, ge=16, description="MinHash permutations (more: finer estimates, slower)")
    bands: int | None = Field(None, ge=2, description="LSH bands (2 or more), each of permutations / bands rows; "
                                                      "must divide permutations (more bands: more candidates, "
                                                      "higher recall, slower). Unset: chosen from the threshold")
    edited_copies: bool = Field(True, description="also drop edited copies under the threshold (the three keys below)")
    edited_floor: float = Field(0.6, gt=0, le=1, description="an edited copy has at least this Jaccard ...")
    edited_ratio: float = Field(0.85, gt=0, le=1, description="... and this share of both texts' words in order ...")
    min_words_in_order: int = Field(20, ge=1, description="... and at least this many words in order")
    same_task: bool = Field(True, description="a pair counts only if it poses the same task (the four keys below); "
                                              "false: whole-text similarity alone")
    instruction_threshold: float = Field(0.8, gt=0, le=1, description="instructions, outside shared context, this "
                                                                      "alike (words in order) are the same task ...")
    instruction_floor: float = Field(0.5, ge=0, le=1, description="... or this alike ...")
    response_threshold: float = Field(0.8, gt=0, le=1, description="... with responses this alike")
    context_words: int = Field(25, ge=1, description="word runs this long that both prompts share are context, "
                                                     "set aside")

    @model_validator(mode="after")
    def _bands_divide_permutations(self) -> MinHashSettings:
        # LSH splits the signature into `bands` bands of equal rows; a remainder would be
        # permutations computed and never compared, so it is refused rather than dropped.
        if self.bands is not None and self.permutations % self.bands:
            raise ValueError(f"bands = {self.bands} must divide permutations = {self.permutations} "
                             "(each band holds permutations / bands rows)")
        return self


class SemanticSettings(_Section):
    """Semantic duplicates (`--dedup semantic`): cosine similarity of the embeddings."""

    threshold: float = Field(0.95, gt=0, le=1, description="cosine at which two samples are duplicates")
    neighbours: int = Field(10, ge=1, description="nearest neighbours checked per sample when the vectors live "
                                                  "in a session's store")
    same_task: bool = Field(True, description="a pair counts only if it poses the same task (the four keys below, "
                                              "by embedding cosine); false: whole-text similarity alone")
    instruction_threshold: float = Field(0.95, gt=0, le=1, description="instructions, outside shared context, this "
                                                                       "close are the same task ...")
    instruction_floor: float = Field(0.8, ge=0, le=1, description="... or this close ...")
    response_threshold: float = Field(0.9, gt=0, le=1, description="... with responses this close")
    context_words: int = Field(25, ge=1, description="word runs this long that both prompts share are context, "
                                                     "set aside")


class DecontamSettings(_Section):
    """Decontamination (`--decontam FILE`): n-gram overlap with a benchmark item, or a close embedding."""

    ngram: int = Field(13, ge=0, description="words per n-gram; 0 turns the n-gram method off")
    min_shared: int = Field(1, ge=1, description="n-grams a sample must share with an item")
    min_coverage: float = Field(0.0, ge=0, le=1, description="... and this share of the item's n-grams")
    min_item_tokens: int = Field(8, ge=1, description="benchmark items of fewer words are not matched by n-grams "
                                                "(items shorter than `ngram` are matched whole)")
    cosine_threshold: float = Field(0.9, gt=0, le=1, description="embedding cosine with an item that drops "
                                                                 "(needs embeddings: not with --no-embed)")
    embed_side: Literal["instruction", "text"] = Field("instruction", description="what is embedded: the user turns, "
                                                                                  "or the whole text")


CodeLanguage = Literal["python", "json", "yaml", "sql", "toml", "xml", "shell"]
CODE_LANGUAGES: tuple[CodeLanguage, ...] = ("python", "json", "yaml", "sql", "toml", "xml", "shell")


class CodeSettings(_Section):
    """Code checks (assay/tools/code_screen.py): code in a response that does not parse drops as
    `code_syntax:<language>`; with `execute`, self-contained Python that fails in the sandbox drops as
    `code_runtime:python`."""

    enabled: bool = Field(True, description="find the code in each response and parse it")
    languages: list[CodeLanguage] = Field(list(CODE_LANGUAGES), description="the languages checked (a block in any "
                                                                            "other is counted, never dropped)")
    execute: bool = Field(False, description="also run self-contained Python (standard library only) in a "
                                             "sandbox: no network, the limits below, a temporary folder")
    timeout: float = Field(5.0, gt=0, le=600, description="seconds a program may run (a timeout is not a drop)")
    memory: int = Field(512, ge=32, description="megabytes of address space a program may use")

    @field_validator("languages")
    @classmethod
    def _each_language_once(cls, languages: list[str]) -> list[str]:
        if len(set(languages)) < len(languages):
            raise ValueError(f"languages = {languages} names a language twice")
        return languages


class ScreenSettings(_Section):
    """The LLM-free screen: heuristic filters, dedup and decontamination (--decontam names the benchmarks)."""

    heuristics: HeuristicSettings = Field(default_factory=HeuristicSettings)
    dedup: DedupSettings = Field(default_factory=DedupSettings)
    minhash: MinHashSettings = Field(default_factory=MinHashSettings)
    semantic: SemanticSettings = Field(default_factory=SemanticSettings)
    decontam: DecontamSettings = Field(default_factory=DecontamSettings)
    code: CodeSettings = Field(default_factory=CodeSettings)
