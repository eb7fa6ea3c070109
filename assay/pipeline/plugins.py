"""Plugins: filters, scorers, selectors and judges from other installed packages, found by their entry points.

A package adds one by declaring an entry point in its pyproject.toml, e.g.

    [project.entry-points."assay.filters"]
    blocklist = "my_package:Blocklist"

and a recipe names it (`[plugins] filters = ["blocklist"]`, settings under
`[plugins.settings.blocklist]`). The protocols are in assay/core/assessment.py (filters,
scorers) and assay/tools/selection/base.py (selectors). The registry lives in the services
layer because plugins are used by the screen (tools' stages) and by selection alike.

Agent plugins (group assay.judges, recipe `[plugins] judge = "NAME"`): the factory(**settings)
returns an object with `async def judge(self, ctx, sample, rubric) -> LLMResult[JudgeVerdict]`,
the same contract as assay/agents/judge.py's `judge_sample(ctx, sample, rubric)`. It must call
the model through `ctx` (an AgentContext: `ctx.gateway.complete(...)`, the `ask` helper in
assay/agents/base.py, or `judge_sample` itself) so the trace, the cache and the budget apply.
`judge_function` resolves it once per run; unset, the built-in `judge_sample` judges.

Failures, decided once for all plugins:
- A name nothing installs, a plugin that fails to import, or a factory that refuses its
  settings is an AssayError (one line, exit 2) before any work is done.
- A filter or scorer that raises (or answers in the wrong shape) while screening drops the
  samples it failed on with the reason `plugin_error:NAME` and the error as the detail: the run
  goes on, and the drops are in the output and the trace like any other. The failing batch is
  retried one sample at a time first, so one bad record costs only itself.
- A judge plugin that raises is treated like the built-in judge failing on that sample.
- A selector that raises or breaks the shared rules is an AssayError naming it: a selection
  cannot be half made (`assay run` stops there, resumable).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import Any, Literal

from assay.core.assessment import Assessment, drop
from assay.core.config import PluginSettings
from assay.core.errors import AssayError
from assay.core.records import Sample
from assay.tools.screen import Stage

JudgeFunction = Callable[[Any, Sample, Any], Awaitable[Any]]  # (ctx, sample, rubric) -> LLMResult[JudgeVerdict]
Kind = Literal["filter", "scorer", "selector", "judge"]
GROUPS: dict[Kind, str] = {"filter": "assay.filters", "scorer": "assay.scorers", "selector": "assay.selectors",
                           "judge": "assay.judges"}
ERROR_REASON = "plugin_error"


def installed(kind: Kind) -> dict[str, EntryPoint]:
    """The plugins of one kind that installed packages register, by name."""
    found: dict[str, EntryPoint] = {}
    for point in entry_points(group=GROUPS[kind]):
        if point.name in found and found[point.name].value != point.value:
            raise AssayError(f"two installed packages register the {kind} plugin {point.name!r} "
                             f"({found[point.name].value} and {point.value}); uninstall one")
        found[point.name] = point
    return found


def load(kind: Kind, name: str, settings: Mapping[str, Any]) -> Any:
    """Construct the plugin `name`: its factory called with `settings` as keyword arguments."""
    points = installed(kind)
    if name not in points:
        have = ", ".join(sorted(points)) or "none"
        raise AssayError(f"unknown {kind} plugin {name!r}: installed {kind} plugins are {have} "
                         f"(entry point group {GROUPS[kind]})")
    try:
        factory = points[name].load()
    except Exception as err:  # any import-time failure of someone else's package: name it, exit 2
        raise AssayError(f"{kind} plugin {name!r} ({points[name].value}) failed to load: {_describe(err)}") from err
    try:
        plugin = factory(**settings)
    except Exception as err:
        raise AssayError(f"{kind} plugin {name!r} refused its settings [plugins.settings.{name}] "
                         f"{dict(settings)}: {_describe(err)}") from err
    if kind == "judge":
        if not callable(getattr(plugin, "judge", None)):
            raise AssayError(f"judge plugin {name!r}: its factory returned {type(plugin).__name__}, "
                             "which has no async judge(ctx, sample, rubric) method")
    elif not callable(plugin):
        raise AssayError(f"{kind} plugin {name!r}: its factory returned {type(plugin).__name__}, not a callable")
    return plugin


def screen_stages(plugins: PluginSettings) -> list[Stage]:
    """The recipe's filter plugins, then its scorer plugins, as screening stages (constructed now)."""
    stages = []
    for kind, names in (("filter", plugins.filters), ("scorer", plugins.scorers)):
        for name in names:
            plugin = load(kind, name, plugins.settings.get(name, {}))  # type: ignore[arg-type]
            check = _filter_verdicts if kind == "filter" else _scorer_verdicts
            stages.append(Stage(f"{kind}:{name}", _Guarded(name, plugin, check)))
    return stages


def check_plugins(plugins: PluginSettings, selector: str | None = None) -> None:
    """Construct every plugin the recipe names (and a plugin selector), so a bad one fails before any work."""
    screen_stages(plugins)
    judge_function(plugins)
    if selector is not None and not is_builtin_selector(selector):
        load_selector(selector, plugins)


def judge_function(plugins: PluginSettings, *, code_criterion: bool = False) -> JudgeFunction:
    """The judge to call as `await judge(ctx, sample, rubric)`: the recipe's judge plugin, else the built-in one.

    Resolve it once per run (constructing the plugin); an unknown or broken plugin is an AssayError.
    With `code_criterion` (the recipe's `[judge] code_criterion`), a sample whose response holds
    code is judged on the rubric plus `code_correctness` (pipeline/code_rubric.py).
    """
    if plugins.judge is None:
        from assay.agents.judge import judge_sample

        judge: JudgeFunction = judge_sample
    else:
        judge = load("judge", plugins.judge, plugins.settings.get(plugins.judge, {})).judge
    if not code_criterion:
        return judge
    from assay.pipeline.code_rubric import with_code_criterion

    return with_code_criterion(judge)  # type: ignore[no-any-return]


def is_builtin_selector(method: str) -> bool:
    """Whether `method` is one of assay's own selection methods."""
    from assay.tools.selection import METHODS

    return method in METHODS


def selector_names() -> list[str]:
    """Every selection method: the built-in ones, then the installed selector plugins."""
    from assay.tools.selection import METHODS

    return [*METHODS, *sorted(set(installed("selector")) - set(METHODS))]


@dataclass(frozen=True)
class PluginSelector:
    """A constructed selector plugin and its name."""

    name: str
    run: Any

    @property
    def needs_vectors(self) -> bool:
        """Whether it asked for the samples' embeddings (`needs_vectors = True`)."""
        return bool(getattr(self.run, "needs_vectors", False))

    def select(self, pool: Any, n: int, *, constraints: Any = None, seed: int = 0) -> Any:
        """Its `Selection` of `n` from `pool`, checked against the shared rules; an AssayError naming it on failure."""
        from assay.tools.selection.base import Constraints
        from assay.tools.selection.external import run_selector

        try:
            return run_selector(self.name, self.run, pool, n, constraints=constraints or Constraints(), seed=seed)
        except Exception as err:  # a selection cannot be half made: stop, naming the plugin
            raise AssayError(f"selector plugin {self.name!r} failed: {_describe(err)}") from err


def load_selector(name: str, plugins: PluginSettings) -> PluginSelector:
    """The selector plugin `name`, constructed with its recipe settings."""
    return PluginSelector(name, load("selector", name, plugins.settings.get(name, {})))


class _Guarded:
    """A filter or scorer whose failures become `plugin_error:NAME` drops of the samples they hit."""

    def __init__(self, name: str, plugin: Callable[[Sequence[Sample]], Any],
                 check: Callable[[Any, int], list[Assessment]]) -> None:
        self.name, self.plugin, self.check = name, plugin, check

    def __call__(self, batch: Sequence[Sample]) -> list[Assessment]:
        try:
            return self.check(self.plugin(list(batch)), len(batch))
        except Exception:  # retried sample by sample: only the samples it fails on are dropped, each with the error
            return [self._one(sample) for sample in batch]

    def _one(self, sample: Sample) -> Assessment:
        try:
            return self.check(self.plugin([sample]), 1)[0]
        except Exception as err:  # recorded as the sample's drop reason and detail, never ignored
            return drop(f"{ERROR_REASON}:{self.name}", _describe(err))


def _filter_verdicts(answer: Any, expected: int) -> list[Assessment]:
    verdicts = _as_list(answer, expected)
    for verdict in verdicts:
        if not isinstance(verdict, Assessment):
            raise TypeError(f"a filter returns Assessment objects, got {type(verdict).__name__}")
    return verdicts


def _scorer_verdicts(answer: Any, expected: int) -> list[Assessment]:
    verdicts = []
    for scores in _as_list(answer, expected):
        if not isinstance(scores, Mapping):
            raise TypeError(f"a scorer returns a mapping of score name to number per sample, got {type(scores).__name__}")
        checked = {}
        for key, value in scores.items():
            if not isinstance(key, str) or isinstance(value, bool) or not isinstance(value, numbers.Real) \
                    or not math.isfinite(value):
                raise ValueError(f"score {key!r} = {value!r}: a score is a finite number under a string name")
            checked[key] = float(value)
        verdicts.append(Assessment(scores=checked))
    return verdicts


def _as_list(answer: Any, expected: int) -> list[Any]:
    answer = list(answer)
    if len(answer) != expected:
        raise ValueError(f"returned {len(answer)} results for {expected} samples")
    return answer


def _describe(err: BaseException) -> str:
    return f"{type(err).__name__}: {err}"
