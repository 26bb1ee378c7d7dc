"""The options of the runner's experiments: what every run shares, and each experiment's own on top.

Every experiment that writes a run directory takes :class:`RunOptions`; one with settings of its own subclasses
it (``PassKOptions`` adds k and a temperature, and so on) and adds its argparse arguments next to the fields.
All of a run's options are written to its ``run.json``.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sleeptime.errors import InvalidInputError
from sleeptime.experimental import SAMPLE_MERGES

#: The smallest output-token cap of --budget-mode cap (the answer node gets half the cap: see evals.capped).
MIN_CAP = 2
DATASET_CHOICES = ("gsm-base", "gsm-p1", "gsm-p2", "aime", "tiny")


def parse_int_list(text: str) -> list[int]:
    """``"0,1,4"`` -> ``[0, 1, 4]``."""
    return [int(x) for x in text.split(",") if x.strip()]


def parse_shard(text: str | None) -> tuple[int, int]:
    """``"i/n"`` (1 <= i <= n) -> (i, n); None -> (1, 1), the whole run."""
    if not text:
        return 1, 1
    m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
    if m is None or not 1 <= int(m.group(1)) <= int(m.group(2)):
        raise argparse.ArgumentTypeError(f"--shard takes i/n with 1 <= i <= n, like 2/3; got {text!r}")
    return int(m.group(1)), int(m.group(2))


@dataclass(frozen=True)
class SleepSetting:
    """How much sleep-time compute: k parallel learned contexts, each up to `rounds` rethink rounds; and
    ``questions`` > 0: that many predicted questions the sleep model then works step by step at verbosity level 4
    (``sleeptime.experimental.LEVEL4``; 0: the run's own --n-questions and --question-work)."""

    samples: int
    rounds: int
    questions: int = 0

    @property
    def label(self) -> str:
        return f"k{self.samples}-r{self.rounds}" + (f"-q{self.questions}" if self.questions else "")


def parse_settings(text: str) -> list[SleepSetting]:
    """``"k1-r1,k4-r1,k1-r2,k1-r1-q2"`` -> the sleep settings those labels name."""
    out: list[SleepSetting] = []
    for label in (t.strip() for t in text.split(",") if t.strip()):
        m = re.fullmatch(r"k(\d+)-r(\d+)(?:-q(\d+))?", label)
        if m is None or int(m.group(1)) < 1 or int(m.group(2)) < 1:
            raise argparse.ArgumentTypeError(f"a sleep setting is k<samples>-r<rounds>[-q<questions>], like "
                                             f"k2-r1 or k1-r1-q2; got {label!r}")
        out.append(SleepSetting(int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)))
    return out


@dataclass
class RunOptions:
    """What every runner experiment is told."""

    experiment: str
    out: str
    dataset: str = "gsm-p2"
    data_dir: str | None = None
    limit: int | None = None
    seed: int = 0
    split_rule: str = "sentence"
    model: str = "embedded:qwen2.5-coder-0.5b"
    sleep_model: str | None = None
    base_url: str | None = None
    budgets: list[int] = field(default_factory=lambda: [0, 1, 2, 3, 4])
    sleep_budgets: list[int] | None = None
    """The budgets the sleep and oracle modes answer at (None: all of ``budgets``); test-time only answers at
    every one of ``budgets``, so its curve spans them for the equal-accuracy ratio."""
    concurrency: int = 1
    max_rounds: int = 1
    samples: int = 1
    sample_merge: str = "concat"
    """How k samples merge, by name (``sleeptime.experimental.SAMPLE_MERGES``): ``majority``, the paper's
    ``concat`` or ``reconcile``. A name, not the strategy: run settings are hashed and recorded as JSON."""
    rethink: str = "rewrite"
    """What rounds 2.. do, by name (``sleeptime.experimental.RETHINKS``): ``rewrite`` (up to --max-rounds, until
    the model says it is done) or ``extend`` (exactly --max-rounds rounds, each checking and extending the last)."""
    question_work: str = "short"
    """How the sleep model answers its predicted questions (``sleeptime.experimental.QUESTION_WORK``): ``short``
    (in the predict call) or ``level4`` (each worked step by step in its own call)."""
    sampling: str = "temperature"
    """What makes k samples differ, by name (``sleeptime.experimental.SAMPLINGS``): ``temperature`` (samples 1..
    drawn again at the sample temperature) or ``views`` (each with its own focus line, at the sleep temperature)."""
    n_questions: int = 1
    verify: str = "off"
    verified: bool = False
    """Also answer with serve_predicted=True (mode "sleep+verified": verified predicted answers first)."""
    oracle: bool = False
    """Also answer from the gold intermediate values of the worked solution as notes (mode "oracle"; it holds the
    final answer in most problems)."""
    oracle_intermediate: bool = False
    """Also answer from the gold intermediate values without the final answer (mode "oracle-intermediate")."""
    max_tokens_sleep: int = 768
    max_tokens_wake: int = 384
    reasoning_effort: str | None = None
    """Passed to a reasoning wake model (``openai:`` specs); None leaves the model's default."""
    sleep_reasoning_effort: str | None = None
    budget_mode: str = "levels"
    """``levels``: budgets are the paper's verbosity prompts (0-4). ``cap``: budgets are hard output-token caps
    (see :mod:`evals.capped`)."""
    weight: float = 10.0
    """Price of a test-time token in sleep tokens (cost per query in every run's tables)."""
    embeddings: str = "embedded:minilm"
    progress: bool = True
    shard: tuple[int, int] = (1, 1)
    """(i, n): run only every n-th item from the i-th, so n processes (one per core) share one run directory."""

    @property
    def wake_spec(self) -> str:
        return self.model

    @property
    def sleep_spec(self) -> str:
        return self.sleep_model or self.model

    def validate(self) -> None:
        """Refuse options no run could use, naming the problem (raises InvalidInputError)."""
        if self.budget_mode not in ("levels", "cap"):
            raise InvalidInputError(f"budget_mode must be 'levels' or 'cap', got {self.budget_mode!r}")
        if not self.budgets:
            raise InvalidInputError("no budgets given")
        if self.budget_mode == "cap" and min(self.budgets) < MIN_CAP:
            raise InvalidInputError(f"--budget-mode cap takes output-token caps >= {MIN_CAP} (e.g. 16,32,64,128,256), "
                                    f"got {self.budgets}")
        if self.sleep_budgets is not None and not set(self.sleep_budgets) <= set(self.budgets):
            raise InvalidInputError(f"--sleep-budgets {self.sleep_budgets} must be among --budgets {self.budgets}")
        if self.budget_mode == "levels" and not set(self.budgets) <= {0, 1, 2, 3, 4}:
            raise InvalidInputError(f"budget levels are 0-4, got {self.budgets} (token caps need --budget-mode cap)")

    @property
    def answer_budgets(self) -> list[int]:
        """The budgets the sleep and oracle modes answer at."""
        return list(self.sleep_budgets) if self.sleep_budgets is not None else list(self.budgets)

    def sleep_settings(self) -> list[SleepSetting]:
        """The sleep settings each example is slept with (one, unless the experiment scales them)."""
        return [SleepSetting(self.samples, self.max_rounds)]

    @classmethod
    def add_arguments(cls, p: argparse.ArgumentParser) -> None:
        """The arguments every runner experiment takes; subclasses add their own after these."""
        p.add_argument("--out", required=True, help="run directory (records.jsonl, run.json, summary, figures)")
        p.add_argument("--dataset", default="gsm-p2", choices=DATASET_CHOICES)
        p.add_argument("--data-dir", default=None, help="folder laid out like ../shared/data")
        p.add_argument("--limit", type=int, default=None)
        p.add_argument("--seed", type=int, default=0)
        p.add_argument("--split-rule", default="sentence", choices=["sentence", "paper"])
        p.add_argument("--model", default="embedded:qwen2.5-coder-0.5b", help="test-time (wake) model spec")
        p.add_argument("--sleep-model", default=None, help="sleep model spec (default: --model)")
        p.add_argument("--base-url", default=None, help="OpenAI-compatible server for openai: specs")
        p.add_argument("--budgets", type=parse_int_list, default=[0, 1, 2, 3, 4], help="e.g. 0,1,4")
        p.add_argument("--sleep-budgets", type=parse_int_list, default=None, help="the budgets the sleep and oracle "
                       "modes answer at (default: all of --budgets; test-time only answers at every one)")
        p.add_argument("--concurrency", type=int, default=1, help="examples in flight (embedded models "
                       "serialise calls, so >1 only helps with a server)")
        p.add_argument("--max-rounds", type=int, default=1)
        p.add_argument("--samples", type=int, default=1, help="k learned contexts per sleep")
        p.add_argument("--sample-merge", default="concat", choices=sorted(SAMPLE_MERGES),
                       help="how k samples merge: values most samples computed, the paper's concatenation, "
                       "reconcile (agreement kept once by value, disagreements labelled or, k >= 3, by majority), or "
                       "medoid (the one sample whose numbers agree most with the others')")
        p.add_argument("--rethink", default="rewrite", choices=["rewrite", "extend"],
                       help="rounds 2..: rewrite the notes until the model says done, or run exactly --max-rounds "
                       "rounds, each checking and extending the last round's notes")
        p.add_argument("--question-work", default="short", choices=["short", "level4"],
                       help="the sleep model's answers to its predicted questions: short, in the predict call, or "
                       "each worked step by step at verbosity level 4 in its own call")
        p.add_argument("--sampling", default="temperature", choices=["temperature", "views"],
                       help="what makes k samples differ: samples 1.. drawn again at the sample temperature, or "
                       "each with its own focus (forward totals, each item in turn, likely questions) greedily")
        p.add_argument("--n-questions", type=int, default=1, help="predicted questions per sleep")
        p.add_argument("--verify", default="off", choices=["off", "format", "model"])
        p.add_argument("--verified", action="store_true",
                       help="also answer with verified predicted answers served first (mode sleep+verified)")
        p.add_argument("--oracle", action="store_true", help="also answer from the gold intermediate values of the "
                       "instance's worked solution as notes (mode oracle, which holds the final answer in most "
                       "problems; gsm-base, gsm-p1, gsm-p2)")
        p.add_argument("--oracle-intermediate", action="store_true", help="also answer from the gold "
                       "intermediate values with every value equal to the final answer left out (mode "
                       "oracle-intermediate)")
        p.add_argument("--max-tokens-sleep", type=int, default=768)
        p.add_argument("--max-tokens-wake", type=int, default=384)
        p.add_argument("--reasoning-effort", default=None, help="reasoning effort of a reasoning wake model "
                       "(e.g. low, medium, high; openai: specs)")
        p.add_argument("--sleep-reasoning-effort", default=None, help="the same for the sleep model")
        p.add_argument("--budget-mode", default="levels", choices=["levels", "cap"],
                       help="levels: --budgets are the paper's verbosity prompts 0-4 (default); cap: --budgets are "
                       "hard output-token caps, e.g. 16,32,64,128,256, then 'The answer is' forced")
        p.add_argument("--weight", type=float, default=10.0, help="price of a test-time token in sleep tokens")
        p.add_argument("--embeddings", default="embedded:minilm")
        p.add_argument("--no-progress", dest="progress", action="store_false")
        p.add_argument("--shard", type=parse_shard, default=(1, 1), metavar="I/N",
                       help="run every N-th example from the I-th; N processes with 1/N..N/N (one per core) append "
                       "to the same --out, each example written by one of them")


@dataclass
class PassKOptions(RunOptions):
    k: int = 5
    temperature: float = 0.7

    @classmethod
    def add_arguments(cls, p: argparse.ArgumentParser) -> None:
        super().add_arguments(p)
        p.add_argument("--k", type=int, default=5)
        p.add_argument("--temperature", type=float, default=0.7)


@dataclass
class ScalingOptions(RunOptions):
    scale_samples: list[int] = field(default_factory=lambda: [1, 2, 5])
    scale_rounds: list[int] = field(default_factory=lambda: [1, 3])
    scale_settings: list[SleepSetting] | None = None
    """Named settings (``--scale-settings k1-r1,k2-r1,k1-r2,k1-r1-q2``) instead of the samples x rounds grid."""
    notes_from: str | None = None
    """A run directory whose recorded sleeps are replayed instead of sleeping (``evals.replay``): another wake
    model answers from the same notes."""

    def sleep_settings(self) -> list[SleepSetting]:
        if self.scale_settings:
            return list(self.scale_settings)
        return [SleepSetting(k, r) for r in self.scale_rounds for k in self.scale_samples]

    @classmethod
    def add_arguments(cls, p: argparse.ArgumentParser) -> None:
        super().add_arguments(p)
        p.add_argument("--scale-samples", type=parse_int_list, default=[1, 2, 5])
        p.add_argument("--scale-rounds", type=parse_int_list, default=[1, 3])
        p.add_argument("--scale-settings", type=parse_settings, default=None, help="sleep settings by label instead "
                       "of the samples x rounds grid: k<samples>-r<rounds>[-q<questions>], comma-separated; -qN: N "
                       "predicted questions the sleep model works step by step at level 4")
        p.add_argument("--notes-from", default=None, metavar="DIR", help="replay the sleeps run DIR recorded (its "
                       "notes, predicted questions and sleep tokens) instead of sleeping, so --model answers from "
                       "the notes DIR's sleep model wrote; --sleep-model should name that model; with another "
                       "--sample-merge than DIR's, k > 1 sleeps merge DIR's recorded samples again by it")


@dataclass
class AmortizationOptions(RunOptions):
    queries: int = 10
    """Questions per context: the original and queries - 1 generated ones whose gold checked out."""
    mq_model: str | None = None
    cache_dir: str | None = None
    mq_unchecked: bool = False
    """The paper's recipe: the generator's own answers as gold, unchecked (flagged in every record)."""
    mq_steps: bool = False
    """Questions about the worked answer's intermediate results, gold from the template (:mod:`evals.mqsteps`)."""
    mq_spare: int = 2
    mq_calls: int = 3

    def validate(self) -> None:
        super().validate()
        if self.queries < 1 or self.mq_spare < 0 or self.mq_calls < 1:
            raise InvalidInputError(f"--queries and --mq-calls must be >= 1 and --mq-spare >= 0, got {self.queries}, "
                                    f"{self.mq_calls} and {self.mq_spare}")
        if self.mq_steps and self.mq_unchecked:
            raise InvalidInputError("--mq-steps and --mq-unchecked are two ways to get gold: pass one")

    @classmethod
    def add_arguments(cls, p: argparse.ArgumentParser) -> None:
        super().add_arguments(p)
        p.add_argument("--queries", type=int, default=10, help="questions per context: the original and queries-1 "
                       "generated ones with checked gold; contexts with fewer are skipped and counted")
        p.add_argument("--mq-model", default=None, help="model that generates the extra questions")
        p.add_argument("--cache-dir", default=None, help="multi-query cache (default .sleeptime/evals-cache)")
        p.add_argument("--mq-unchecked", action="store_true", help="keep the generator's own '#### <number>' as "
                       "gold unchecked (the paper's recipe; needed for gsm-p2, which has no instance variables)")
        p.add_argument("--mq-steps", action="store_true", help="ask for questions about the worked answer's "
                       "intermediate results, gold from the template (one call per step, the model computes "
                       "nothing; --mq-spare and --mq-calls do not apply; gsm-base, gsm-p1)")
        p.add_argument("--mq-spare", type=int, default=2, help="questions asked for beyond those missing (some are "
                       "dropped)")
        p.add_argument("--mq-calls", type=int, default=3, help="generation calls per context at most (malformed "
                       "replies and too few kept questions are asked again)")


@dataclass
class PredictabilityOptions(RunOptions):
    lp_model: str | None = None
    lp_n_ctx: int = 1024
    bins: int = 5
    from_run: str | None = None

    @classmethod
    def add_arguments(cls, p: argparse.ArgumentParser) -> None:
        super().add_arguments(p)
        p.add_argument("--lp-model", default=None, help="local model for log p(q|c) (default: --model)")
        p.add_argument("--lp-n-ctx", type=int, default=1024)
        p.add_argument("--bins", type=int, default=5)
        p.add_argument("--from-run", default=None, help="reuse a pareto run's answers instead of answering")


@dataclass
class ContextOnlyOptions(RunOptions):
    guesses: int = 1
    temperature: float = 0.7

    @classmethod
    def add_arguments(cls, p: argparse.ArgumentParser) -> None:
        super().add_arguments(p)
        p.add_argument("--guesses", type=int, default=1)
        p.add_argument("--temperature", type=float, default=0.7)


OptionsT = TypeVar("OptionsT", bound=RunOptions)


def options_from(cls: type[OptionsT], experiment: str, args: argparse.Namespace) -> OptionsT:
    """The options of ``cls`` from parsed arguments (arguments it has no field for are ignored)."""
    names = {f.name for f in dataclasses.fields(cls)}
    values: dict[str, Any] = {k: v for k, v in vars(args).items() if k in names and k != "experiment"}
    return cls(experiment=experiment, **values)


def expect(opts: RunOptions, cls: type[OptionsT]) -> OptionsT:
    """``opts`` as the experiment's own options type; a task handed another experiment's options fails here."""
    if not isinstance(opts, cls):
        raise TypeError(f"{opts.experiment} needs {cls.__name__}, got {type(opts).__name__}")
    return opts
