"""What every evaluation suite is: the shape the command runs and the report renders (see the package's docstring).

A suite never imports another suite's module, and nothing in the command branches on a suite's name.
"""

from __future__ import annotations

import dataclasses
import shlex
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from jaxjepa import cli
from jaxjepa.config import Config, get_config
from jaxjepa.evaluation.runs import SeedRuns


class Context(NamedTuple):
    """What a suite needs to know about the command that runs it."""

    argv: list[str]
    config_name: str  # the --config the command was given (headline suites report it)
    need_std: bool  # False with --no-std: one seed is reported without a std
    trajectories: int | None = None  # --trajectories: what a suite's `trajectories` names, for a quick smoke run

    @property
    def command(self) -> str:
        return "python eval.py " + " ".join(shlex.quote(a) for a in self.argv)


class Evaluated(NamedTuple):
    payload: dict  # JSON-ready: what the report renders
    arrays: dict  # host arrays the figures draw (examples, traces), never stored


@dataclasses.dataclass(frozen=True)
class Suite:
    name: str  # its eval.py flag (--NAME)
    result_file: str  # the JSON under --out that holds its payload
    configs: Callable[[str, Config], dict[str, Config]]  # named configs to evaluate, given the command's --config
    evaluate: Callable[[dict[str, SeedRuns], Context], Evaluated]
    figures: Callable[[Evaluated, Path], dict[str, Path]]  # figures written under the output directory
    sections: tuple[Callable[[dict], str | None], ...]  # report sections, each of the stored JSON file
    key: str | None = None  # stored under this key of result_file (None: the file)
    description: str = ""  # its --NAME flag's help
    summary: Callable[[dict], list[str]] = lambda payload: []  # console lines of its payload
    # README.md's generated block of (stored file, figures' paths relative to the README, report's path, JSON's
    # path); None: the suite has no README block
    readme_block: Callable[[dict, dict[str, str], str, str], str] | None = None
    # what it reads from each run's metrics.json ("final.NAME" numbers, "curves.NAME" per-step lists), checked
    # when the runs are loaded, before anything is trained
    metrics_read: tuple[str, ...] = ()
    # why the suite cannot measure runs of a config (None: it can), asked before anything is loaded or trained
    config_problem: Callable[[Config], str | None] = lambda config: None
    # what --trajectories N sets in this suite, for its help ("per ..., default ..."); None: it reads no such
    # count, and the command refuses --trajectories with it rather than ignore the flag
    trajectories: str | None = None


def overrides_json(config: Config) -> dict:
    """The config's overrides of the reference recipe, JSON-ready (tuples as lists)."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in cli.overrides_of(config).items()}


def config_from_overrides(overrides: dict) -> Config:
    """The config whose `overrides_json` a payload stored (Config turns the JSON's lists back into tuples)."""
    return Config().replace(**overrides)


def named_configs(names: tuple[str, ...]) -> Callable[[str, Config], dict[str, Config]]:
    """A suite's `configs` that ignores the command's --config: the named VARIANTS recipes."""
    return lambda *_: {name: get_config(name) for name in names}
