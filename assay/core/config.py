"""Configuration: targets, budgets, models per agent role, LLM and store settings, the screen's
filters and thresholds (assay.core.recipe_screen), plugins.

Sources, later winning: defaults, a TOML recipe file, the environment (ASSAY_MODEL, and
ASSAY_<SECTION>__<KEY> such as ASSAY_BUDGET__MAX_USD=5), then command-line flags. They are
layered in assay.core.config_sources (`load_config`); this module holds only the models.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.dataclasses import dataclass as checked_dataclass

from assay.core.recipe_cues import CueSettings
from assay.core.recipe_rubric import RubricSettings
from assay.core.recipe_screen import ScreenSettings
from assay.core.recipe_tokens import TokenSettings

AgentRole = Literal["judge", "decomposer", "rewriter", "synthesizer", "planner", "rubric_editor"]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class Targets(_Section):
    """What a curated dataset must reach."""

    size: int | None = Field(None, ge=1, description="samples in the final dataset")
    min_mean_quality: float | None = Field(None, ge=1, le=5, description="mean judge score (1-5)")
    quality_floor: float | None = Field(None, ge=1, le=5, description="no selected sample scores below this")
    coverage: float | None = Field(None, ge=0, le=1, description="share of clusters or named topics covered")
    topics: list[str] = Field(default_factory=list, description="topics the data must cover")
    max_duplicate_rate: float | None = Field(None, ge=0, le=1)
    zero_contamination: bool = True


class Budget(_Section):
    """Limits on what a session may spend."""

    max_calls: int | None = Field(None, ge=0)
    max_tokens: int | None = Field(None, ge=0)
    max_usd: float | None = Field(None, ge=0)
    max_rounds: int = Field(5, ge=1)


class Models(_Section):
    """Which model each agent role uses; unset roles use `default` (None = the embedded model)."""

    default: str | None = None
    judge: str | None = None
    decomposer: str | None = None
    rewriter: str | None = None
    synthesizer: str | None = None
    planner: str | None = None
    rubric_editor: str | None = None  # unset: the judge's model (the editor writes the judge's rubric)

    def for_role(self, role: AgentRole) -> str | None:
        """The configured model name for an agent role (the rubric editor falls back to the judge's)."""
        return getattr(self, role) or (self.judge if role == "rubric_editor" else None) or self.default


class LLMSettings(_Section):
    """How models are called."""

    concurrency: int = Field(8, ge=1, le=1024)
    timeout_s: float = Field(120.0, gt=0)
    max_attempts: int = Field(5, ge=1)
    cache: bool = True
    api_base: str | None = None
    structured_output: Literal["auto", "json_schema", "json_object", "prompt"] = "auto"
    temperature: float = Field(0.0, ge=0, le=2)
    seed: int = 0
    # US dollars per 1,000 tokens, for every model: needed for a USD budget on a model litellm
    # cannot price (self-hosted, new), and overrides litellm's price when given.
    price_per_1k_input: float | None = Field(None, ge=0)
    price_per_1k_output: float | None = Field(None, ge=0)
    # Where the calls are sent from. The cache, the budget and the trace stay in this process
    # either way, so a session's results do not depend on it.
    engine: Literal["local", "ray"] = Field("local", description="local: calls go out from this process; ray: "
                                                                 "from async Ray actors (`--engine ray`)")
    ray_address: str | None = Field(None, description='with engine = "ray": "auto" or HOST:PORT of a running Ray '
                                                      'cluster; unset: a local Ray started for the command')
    ray_actors: int = Field(2, ge=1, le=1024, description='with engine = "ray": actors that send the calls; '
                                                          "llm.concurrency is shared among them")


class StoreSettings(_Section):
    """Where samples and vectors live."""

    chroma_url: str | None = None
    embedding_model: str | None = Field(None, description="path or name; default: the bundled all-MiniLM-L6-v2")
    embedding_batch_size: int = Field(256, ge=1)
    embedding_cache: str | None = Field(None, description='folder of the shared embedding cache, or "off"; '
                                                          'default: $ASSAY_HOME/embeddings')
    device: str | None = None
    max_record_mb: float = Field(16.0, gt=0)
    ingest_batch: int = Field(2000, ge=1, description="records read, embedded and stored per transaction by an ingest")
    # With the Ray engine ([llm] engine = "ray", `--engine ray`) texts are embedded on Ray actors.
    embedding_ray_actors: int | None = Field(None, ge=1, le=1024, description='with engine = "ray": embedding '
                                             "actors; default: as many as the cluster's GPUs hold, else one per node")
    embedding_ray_gpus: float | None = Field(None, ge=0, description='with engine = "ray": GPUs per embedding actor '
                                             "(Ray's num_gpus); default: 1 when the cluster has GPUs, else 0")


CRITERION_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


@checked_dataclass(frozen=True, config=ConfigDict(extra="forbid"))
class Criterion:
    """One rubric criterion the judge scores from 1 to 5; the name is snake_case."""

    name: str
    description: str

    def __post_init__(self) -> None:
        if not CRITERION_NAME.match(self.name):
            raise ValueError(f"criterion name {self.name!r} must be snake_case (a-z, 0-9, _)")
        if not self.description.strip():
            raise ValueError(f"criterion {self.name!r} needs a description")


DEFAULT_CRITERIA = (
    Criterion("accuracy", "Facts, numbers, code and reasoning in the response are correct."),
    Criterion("helpfulness", "The response gives the user what they need: complete, specific and useful, without padding."),
    Criterion("instruction_following", "The response does what the instruction asks and respects every constraint it sets "
              "(format, length, audience, language)."),
    Criterion("clarity", "The response is well organised, easy to read and free of language errors."),
    Criterion("safety", "The response avoids harmful or dangerous content, and does not refuse a harmless request."),
)
# Added to the rubric for a sample whose response holds code (assay/pipeline/code_rubric.py).
CODE_CRITERION = Criterion("code_correctness", "The code in the response is correct: it parses, would run without "
                           "errors, uses functions and libraries that exist, and does what the instruction asks.")


class JudgeSettings(_Section):
    """The judge's rubric: `[[judge.rubric]]` tables with a name and a description each."""

    rubric: tuple[Criterion, ...] = Field(DEFAULT_CRITERIA, min_length=1, max_length=12)
    # A judge or rewrite call that still fails after the gateway's retries (llm.max_attempts)
    # is tried again in a later pass; after this many failed passes the sample is left unjudged.
    max_attempts: int = Field(3, ge=1, description="failed judging (or repair) passes a sample gets")
    code_criterion: bool = Field(True, description="add the code_correctness criterion to the rubric when a sample's "
                                                   "response holds code")

    @field_validator("rubric")
    @classmethod
    def _distinct_names(cls, rubric: tuple[Criterion, ...]) -> tuple[Criterion, ...]:
        names = [c.name for c in rubric]
        if len(set(names)) != len(names):
            raise ValueError(f"criterion names repeat: {', '.join(names)}")
        return rubric


class TagSettings(_Section):
    """Skill tags for MIG selection: `assay run --select mig` tags the samples it selects among."""

    enabled: bool = Field(True, description="tag the candidates before MIG selection (one LLM call each); "
                                            "false (or --no-tags): MIG selects on cluster labels")
    max_tags: int = Field(5, ge=1, le=10, description="skill tags per sample at most")


class PluginSettings(_Section):
    """Plugins from installed packages (entry point groups assay.filters, assay.scorers, assay.selectors, assay.judges).

    Filters, then scorers, run in the order listed, after the built-in screening stages; a
    selector plugin is named by `--method` / `--select`; a judge plugin (`judge`) replaces the
    built-in pointwise judge everywhere it is called. `[plugins.settings.NAME]` holds the
    keyword arguments the plugin NAME is constructed with (see assay/pipeline/plugins.py).
    """

    filters: list[str] = Field(default_factory=list, description="filter plugins to run, in order")
    scorers: list[str] = Field(default_factory=list, description="scorer plugins to run, in order")
    judge: str | None = Field(default=None, description="judge plugin replacing the built-in judge (none: built-in)")
    settings: dict[str, dict[str, Any]] = Field(default_factory=dict, description="per plugin: its settings")


class Config(_Section):
    """Everything a session is configured with."""

    targets: Targets = Field(default_factory=Targets)
    budget: Budget = Field(default_factory=Budget)
    models: Models = Field(default_factory=Models)
    llm: LLMSettings = Field(default_factory=LLMSettings)
    store: StoreSettings = Field(default_factory=StoreSettings)
    judge: JudgeSettings = Field(default_factory=JudgeSettings)
    tags: TagSettings = Field(default_factory=TagSettings)
    screen: ScreenSettings = Field(default_factory=ScreenSettings)
    cues: CueSettings = Field(default_factory=CueSettings)
    tokens: TokenSettings = Field(default_factory=TokenSettings)
    rubric: RubricSettings = Field(default_factory=RubricSettings)
    plugins: PluginSettings = Field(default_factory=PluginSettings)
    dry_run: bool = False
