"""The YAML configuration shared by `l1ml offline train|select|search|cascade`, validated on load.

Every key is optional except `data.path` and `data.label`; docs/offline.md lists them all. Relative
paths are resolved against the directory of the config file, so a config and its table can move
together.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field, replace
from enum import Enum
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import yaml

from l1ml.errors import InputFileError, L1MLError


class ToyKind(Enum):
    """Which toy table `l1ml offline toy` generates."""

    FEATURES = "features"
    MULTIBACKGROUND = "multibackground"


class NegativeWeights(Enum):
    """How negative physics weights enter the training loss (metrics always use the signed weights)."""

    ABS = "abs"  # |w|: bounded loss, the usual choice; shapes where negative weights cluster are biased
    KEEP = "keep"  # signed w: unbiased in expectation, but a flexible network can chase single events
    DROP = "drop"  # weight 0 in the loss; the remaining weights are renormalised per class


class Activation(Enum):
    """Hidden-layer nonlinearity of the MLP."""

    RELU = "relu"
    ELU = "elu"
    SILU = "silu"
    TANH = "tanh"
    LEAKY_RELU = "leaky_relu"


class LogMode(Enum):
    """Which columns get a log transform before standardisation."""

    AUTO = "auto"  # strictly positive and skewed beyond prep.skew_threshold
    NONE = "none"
    LIST = "list"  # exactly the columns listed in prep.log


class Correlation(Enum):
    """Correlation coefficient used to cluster features."""

    SPEARMAN = "spearman"
    PEARSON = "pearson"


class Linkage(Enum):
    """Hierarchical-clustering linkage (scipy.cluster.hierarchy.linkage method)."""

    AVERAGE = "average"
    COMPLETE = "complete"
    SINGLE = "single"


class SamplerKind(Enum):
    """Optuna sampler for the hyperparameter search."""

    TPE = "tpe"
    RANDOM = "random"


class PrunerKind(Enum):
    """Optuna pruner stopping unpromising trials early (epochs are the resource)."""

    HYPERBAND = "hyperband"
    MEDIAN = "median"
    NONE = "none"


class SearchMetric(Enum):
    """What a search trial optimises, measured on the validation split."""

    VAL_LOSS = "val_loss"  # minimised
    VAL_AUC = "val_auc"  # maximised


@dataclass(frozen=True)
class SplitConfig:
    """Fractions of the train/validation/test splits, stratified by process."""

    train: float = 0.6
    validation: float = 0.2
    test: float = 0.2
    seed: int = 0


@dataclass(frozen=True)
class DataConfig:
    """Where the table is and what its columns mean."""

    path: Path
    label: str
    tree: str | None = None
    features: tuple[str, ...] | None = None
    weight: str | None = None
    signal: str | None = None
    backgrounds: tuple[str, ...] | None = None
    classes: tuple[str, ...] | None = None
    negative_weights: NegativeWeights = NegativeWeights.ABS
    split: SplitConfig = field(default_factory=SplitConfig)


@dataclass(frozen=True)
class PrepConfig:
    """Input preparation: optional log transform, then standardisation fitted on the training split."""

    log_mode: LogMode = LogMode.AUTO
    log_columns: tuple[str, ...] = ()
    no_log: tuple[str, ...] = ()
    skew_threshold: float = 1.0


@dataclass(frozen=True)
class ModelConfig:
    """MLP architecture."""

    layers: int = 2
    width: int = 64
    dropout: float = 0.1
    activation: Activation = Activation.RELU


@dataclass(frozen=True)
class TrainConfig:
    """Optimiser and early-stopping settings."""

    epochs: int = 100
    batch_size: int = 512
    learning_rate: float = 1e-3
    l2: float = 1e-5
    patience: int = 10
    seed: int = 0
    threads: int = 1  # small MLPs train fastest on one thread; more only pays for wide networks


@dataclass(frozen=True)
class BaselineConfig:
    """LightGBM baseline trained next to the network by `train`."""

    enabled: bool = True
    n_estimators: int = 500
    learning_rate: float = 0.05
    num_leaves: int = 31
    early_stopping: int = 30


@dataclass(frozen=True)
class SelectionConfig:
    """Permutation importance and correlation clustering for `select`."""

    correlation: Correlation = Correlation.SPEARMAN
    linkage: Linkage = Linkage.AVERAGE
    threshold: float = 0.2
    scan: tuple[float, ...] = (0.0, 0.1, 0.2, 0.4, 0.6, 0.8, 0.9)
    repeats: int = 5
    seed: int = 0


@dataclass(frozen=True)
class SearchSpace:
    """Ranges the search samples from; numeric ranges are inclusive [low, high]."""

    layers: tuple[int, int] = (1, 4)
    width: tuple[int, int] = (8, 256)
    dropout: tuple[float, float] = (0.0, 0.5)
    activation: tuple[Activation, ...] = (Activation.RELU, Activation.ELU, Activation.SILU, Activation.TANH)
    learning_rate: tuple[float, float] = (1e-4, 1e-2)
    l2: tuple[float, float] = (1e-7, 1e-2)


@dataclass(frozen=True)
class SearchConfig:
    """Optuna study settings for `search`."""

    n_trials: int = 30
    timeout: float | None = None
    sampler: SamplerKind = SamplerKind.TPE
    pruner: PrunerKind = PrunerKind.HYPERBAND
    storage: str | None = None
    study_name: str = "offline"
    seed: int | None = None
    metric: SearchMetric = SearchMetric.VAL_LOSS
    min_epochs: int = 1
    space: SearchSpace = field(default_factory=SearchSpace)


@dataclass(frozen=True)
class CascadeConfig:
    """Sub-networks per background, then a super-network on their outputs."""

    use_inputs: bool = False
    super_model: ModelConfig = field(default_factory=lambda: ModelConfig(layers=1, width=16, dropout=0.0))
    compare_single: bool = True


@dataclass(frozen=True)
class Config:
    """The whole offline configuration."""

    source: Path
    data: DataConfig
    prep: PrepConfig = field(default_factory=PrepConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    baseline: BaselineConfig = field(default_factory=BaselineConfig)
    selection: SelectionConfig = field(default_factory=SelectionConfig)
    search: SearchConfig = field(default_factory=SearchConfig)
    cascade: CascadeConfig = field(default_factory=CascadeConfig)
    output: Path | None = None

    def with_data_path(self, path: Path) -> Config:
        """Return a copy reading another table (the CLI's --data)."""
        return replace(self, data=replace(self.data, path=path))


E = TypeVar("E", bound=Enum)


class _Section:
    """One mapping of the YAML file; typed getters raise errors that name the file and the key."""

    def __init__(self, raw: Any, where: str, source: Path):
        self.where = where
        self.source = source
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            self.fail(where or "the top level", f"must be a mapping of keys, got {type(raw).__name__}")
        self.raw: dict[str, Any] = raw
        self.used: set[str] = set()

    def fail(self, key: str, msg: str) -> NoReturn:
        raise L1MLError(f"{self.source}: {key} {msg}")

    def key(self, name: str) -> str:
        return f"{self.where}.{name}" if self.where else name

    def has(self, name: str) -> bool:
        return self.raw.get(name) is not None

    def value(self, name: str, default: Any = None) -> Any:
        self.used.add(name)
        value = self.raw.get(name)
        return default if value is None else value

    def section(self, name: str) -> _Section:
        return _Section(self.value(name), self.key(name), self.source)

    def string(self, name: str, default: str | None = None) -> str | None:
        value = self.value(name, default)
        if value is not None and not isinstance(value, (str, int, float, bool)):
            self.fail(self.key(name), f"must be a single value, got {value!r}")
        return None if value is None else str(value)

    def boolean(self, name: str, default: bool) -> bool:
        value = self.value(name, default)
        if not isinstance(value, bool):
            self.fail(self.key(name), f"must be true or false, got {value!r}")
        return value

    def integer(self, name: str, default: int | None, low: int | None = None) -> int | None:
        value = self.value(name, default)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(self.key(name), f"must be an integer, got {value!r}")
        if low is not None and value < low:
            self.fail(self.key(name), f"must be at least {low}, got {value}")
        return value

    def number(
        self, name: str, default: float | None, low: float | None = None, high: float | None = None
    ) -> float | None:
        value = self.value(name, default)
        if value is None:
            return None
        return self._check_number(self.key(name), value, low, high)

    def _check_number(self, key: str, value: Any, low: float | None, high: float | None) -> float:
        # YAML 1.1 reads "1e-3" (no dot) as a string; accept it rather than surprise the user.
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                self.fail(key, f"must be a number, got {value!r}")
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.fail(key, f"must be a number, got {value!r}")
        if (low is not None and value < low) or (high is not None and value > high):
            self.fail(key, f"must lie in [{low}, {high}], got {value}")
        return float(value)

    def names(self, name: str, allow_empty: bool = False) -> tuple[str, ...] | None:
        value = self.value(name)
        if value is None:
            return None
        if not isinstance(value, list) or (not value and not allow_empty):
            self.fail(self.key(name), f"must be a non-empty list, got {value!r}")
        names = tuple(str(v) for v in value)
        if len(set(names)) != len(names):
            self.fail(self.key(name), f"lists an entry twice: {list(names)}")
        return names

    def choice(self, name: str, kind: type[E], default: E) -> E:
        value = self.value(name, default.value)
        return self._check_choice(self.key(name), value, kind)

    def _check_choice(self, key: str, value: Any, kind: type[E]) -> E:
        try:
            return kind(str(value).lower())
        except ValueError:
            allowed = ", ".join(k.value for k in kind)
            self.fail(key, f"must be one of {allowed}; got {value!r}")

    def interval(
        self, name: str, default: tuple[float, float], low: float | None = None, high: float | None = None
    ) -> tuple[float, float]:
        value = self.value(name, list(default))
        key = self.key(name)
        if not isinstance(value, list) or len(value) != 2:
            self.fail(key, f"must be a list [low, high], got {value!r}")
        a, b = (self._check_number(key, v, low, high) for v in value)
        if a > b:
            self.fail(key, f"has low > high: {value}")
        return a, b

    def int_interval(self, name: str, default: tuple[int, int], low: int) -> tuple[int, int]:
        a, b = self.interval(name, (float(default[0]), float(default[1])), low=low)
        if a != int(a) or b != int(b):
            self.fail(self.key(name), f"must hold two integers, got [{a}, {b}]")
        return int(a), int(b)

    def finish(self) -> None:
        """Reject keys nobody read; a typo should not silently fall back to a default."""
        for name in self.raw:
            if name not in self.used:
                close = difflib.get_close_matches(str(name), sorted(self.used), n=1)
                hint = (
                    f"; did you mean '{close[0]}'?"
                    if close
                    else f"; known keys: {', '.join(sorted(self.used))}"
                )
                self.fail(self.key(str(name)), f"is not a known key{hint}")


def _split(s: _Section) -> SplitConfig:
    split = SplitConfig(
        train=s.number("train", 0.6, 0.0, 1.0),
        validation=s.number("validation", 0.2, 0.0, 1.0),
        test=s.number("test", 0.2, 0.0, 1.0),
        seed=s.integer("seed", 0),
    )
    total = split.train + split.validation + split.test
    if abs(total - 1.0) > 1e-6 or min(split.train, split.validation, split.test) <= 0:
        s.fail(s.where, f"fractions must be positive and sum to 1, got {total:g}")
    s.finish()
    return split


def _data(s: _Section) -> DataConfig:
    path = s.string("path")
    label = s.string("label")
    if path is None:
        s.fail(s.key("path"), "is required: the Parquet, CSV or ROOT table to read")
    if label is None:
        s.fail(s.key("label"), "is required: the column holding the class of each event")
    base = s.source.parent
    data = DataConfig(
        path=(base / str(path)).resolve(),
        label=str(label),
        tree=s.string("tree"),
        features=s.names("features"),
        weight=s.string("weight"),
        signal=s.string("signal"),
        backgrounds=s.names("backgrounds"),
        classes=s.names("classes"),
        negative_weights=s.choice("negative_weights", NegativeWeights, NegativeWeights.ABS),
        split=_split(s.section("split")),
    )
    if data.classes is not None and data.signal is not None:
        s.fail(s.key("classes"), "is for multi-class training; remove it or remove data.signal")
    if data.backgrounds is not None and data.signal is None:
        s.fail(s.key("backgrounds"), "needs data.signal (the class the backgrounds are separated from)")
    s.finish()
    return data


def _prep(s: _Section) -> PrepConfig:
    raw = s.value("log", "auto")
    if isinstance(raw, list):
        mode, columns = LogMode.LIST, s.names("log") or ()
    else:
        mode, columns = s.choice("log", LogMode, LogMode.AUTO), ()
        if mode is LogMode.LIST:
            s.fail(s.key("log"), "takes auto, none or a list of column names")
    prep = PrepConfig(
        log_mode=mode,
        log_columns=columns,
        no_log=s.names("no_log", allow_empty=True) or (),
        skew_threshold=s.number("skew_threshold", 1.0, 0.0),
    )
    s.finish()
    return prep


def _model(s: _Section, default: ModelConfig) -> ModelConfig:
    model = ModelConfig(
        layers=s.integer("layers", default.layers, 1),
        width=s.integer("width", default.width, 1),
        dropout=s.number("dropout", default.dropout, 0.0, 0.95),
        activation=s.choice("activation", Activation, default.activation),
    )
    s.finish()
    return model


def _train(s: _Section) -> TrainConfig:
    train = TrainConfig(
        epochs=s.integer("epochs", 100, 1),
        batch_size=s.integer("batch_size", 512, 1),
        learning_rate=s.number("learning_rate", 1e-3, 1e-12, 10.0),
        l2=s.number("l2", 1e-5, 0.0),
        patience=s.integer("patience", 10, 1),
        seed=s.integer("seed", 0),
        threads=s.integer("threads", 1, 1),
    )
    s.finish()
    return train


def _baseline(s: _Section) -> BaselineConfig:
    baseline = BaselineConfig(
        enabled=s.boolean("enabled", True),
        n_estimators=s.integer("n_estimators", 500, 1),
        learning_rate=s.number("learning_rate", 0.05, 1e-6, 1.0),
        num_leaves=s.integer("num_leaves", 31, 2),
        early_stopping=s.integer("early_stopping", 30, 1),
    )
    s.finish()
    return baseline


def _selection(s: _Section) -> SelectionConfig:
    scan_raw = s.value("scan", list(SelectionConfig.scan))
    if not isinstance(scan_raw, list) or not scan_raw:
        s.fail(s.key("scan"), f"must be a non-empty list of distance thresholds in [0, 1], got {scan_raw!r}")
    scan = tuple(sorted({s._check_number(s.key("scan"), v, 0.0, 1.0) for v in scan_raw}))
    selection = SelectionConfig(
        correlation=s.choice("correlation", Correlation, Correlation.SPEARMAN),
        linkage=s.choice("linkage", Linkage, Linkage.AVERAGE),
        threshold=s.number("threshold", 0.2, 0.0, 1.0),
        scan=scan,
        repeats=s.integer("repeats", 5, 1),
        seed=s.integer("seed", 0),
    )
    s.finish()
    return selection


def _space(s: _Section) -> SearchSpace:
    default = SearchSpace()
    raw_acts = s.value("activation", [a.value for a in default.activation])
    if not isinstance(raw_acts, list) or not raw_acts:
        s.fail(s.key("activation"), f"must be a non-empty list, got {raw_acts!r}")
    space = SearchSpace(
        layers=s.int_interval("layers", default.layers, 1),
        width=s.int_interval("width", default.width, 1),
        dropout=s.interval("dropout", default.dropout, 0.0, 0.95),
        activation=tuple(s._check_choice(s.key("activation"), a, Activation) for a in raw_acts),
        learning_rate=s.interval("learning_rate", default.learning_rate, 1e-12, 10.0),
        l2=s.interval("l2", default.l2, 0.0),
    )
    if space.l2[0] == 0.0 and space.l2[1] > 0.0:
        s.fail(s.key("l2"), "is sampled on a log scale; use a positive lower bound such as 1.0e-8")
    s.finish()
    return space


def _search(s: _Section) -> SearchConfig:
    search = SearchConfig(
        n_trials=s.integer("n_trials", 30, 0),
        timeout=s.number("timeout", None, 0.0),
        sampler=s.choice("sampler", SamplerKind, SamplerKind.TPE),
        pruner=s.choice("pruner", PrunerKind, PrunerKind.HYPERBAND),
        storage=s.string("storage"),
        study_name=s.string("study_name", "offline") or "offline",
        seed=s.integer("seed", None),
        metric=s.choice("metric", SearchMetric, SearchMetric.VAL_LOSS),
        min_epochs=s.integer("min_epochs", 1, 1),
        space=_space(s.section("space")),
    )
    s.finish()
    return search


def _cascade(s: _Section) -> CascadeConfig:
    default = CascadeConfig()
    cascade = CascadeConfig(
        use_inputs=s.boolean("use_inputs", False),
        super_model=_model(s.section("super_model"), default.super_model),
        compare_single=s.boolean("compare_single", True),
    )
    s.finish()
    return cascade


def parse_config(raw: Any, source: Path) -> Config:
    """Validate an already-parsed YAML document; `source` names it in errors and anchors relative paths."""
    top = _Section(raw, "", source)
    if not top.has("data"):
        top.fail("data", "section is required (data.path and data.label at least)")
    output = top.string("output")
    config = Config(
        source=source,
        data=_data(top.section("data")),
        prep=_prep(top.section("prep")),
        model=_model(top.section("model"), ModelConfig()),
        train=_train(top.section("train")),
        baseline=_baseline(top.section("baseline")),
        selection=_selection(top.section("selection")),
        search=_search(top.section("search")),
        cascade=_cascade(top.section("cascade")),
        output=None if output is None else source.parent / output,  # not resolved: a link there is refused
    )
    top.finish()
    return config


def load_config(path: Path) -> Config:
    """Read and validate a YAML config file."""
    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"{path}: config file not found; see examples/offline/*.yaml for templates")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise InputFileError(f"{path}: not valid YAML ({exc}); fix the syntax at the position shown") from exc
    return parse_config(raw, path.resolve())
