"""What the browser page can show, read from a run's config alone.

Why a module without TensorFlow: these refusals depend on the run only, so `python -m export` gives them
before TensorFlow's slow import and the lowering and parity checks, and `export.build` gives them again to
callers that skip the command line.
"""

from __future__ import annotations

import numpy as np

from export.destination import ExportError
from jaxjepa import two_rooms_planning
from jaxjepa.config import BOUNCE_ONLY_FIELDS, Config

BROWSABLE_ENCODERS = ("mlp", "cnn")  # what export.lower lowers
# each network's output among the reference outputs an export stores (reference_outputs.npz)
OUTPUT_OF = {"encoder": "latent", "predictor": "predicted", "decoder": "decoded"}


def network_inputs(name: str, reference: dict[str, np.ndarray]) -> np.ndarray:
    """What the network `name` reads in the page, from the stored reference: observations (flattened) for the
    encoder; latents for the predictor (with the actions appended where it takes actions) and the decoder."""
    if name == "encoder":
        return reference["obs"].reshape(len(reference["obs"]), -1)
    if name == "predictor" and "action" in reference:
        return np.concatenate([reference["latent"], reference["action"]], axis=-1)
    return reference["latent"]


def two_rooms_plan_problem(config: Config) -> str | None:
    """Why the page's Two Rooms planners could not apply ACTIONS_PER_PLAN actions of each plan, as the evaluation
    does (two_rooms_planning.check_episode), or None: a plan shorter than that (the page would run out of actions
    mid-plan), a kept search path of part moves, or a memory of moves that no plan applies whole."""
    applied = two_rooms_planning.ACTIONS_PER_PLAN
    if config.plan_horizon < applied:
        return (
            f"plan of {config.plan_horizon} actions (plan_horizon) is shorter than the {applied} actions it applies "
            f"from each; give a --planning config that plans at least {applied} actions ahead"
        )
    return two_rooms_planning.kept_path_problem(applied, config) or two_rooms_planning.memory_problem(applied, config)


def check_page_can_run(config: Config) -> None:
    """Raise ExportError (one sentence) where the page could not show this run faithfully: world features its
    JavaScript worlds do not simulate (the page would show surprise everywhere), a Two Rooms search it cannot
    replan, an encoder that does not lower to TF ops."""
    # The bounce world's variations (web/world.js simulates none): each must keep its default, the value that
    # turns it off.
    differs = {k: getattr(config, k) for k in BOUNCE_ONLY_FIELDS if getattr(config, k) != getattr(Config, k)}
    if differs:
        settings = ", ".join(f"{k}={v}" for k, v in differs.items())
        raise ExportError(
            f"the browser page simulates one logo at a fixed speed without noise; this run's world has {settings}"
        )
    if config.world == "two_rooms" and (problem := two_rooms_plan_problem(config)):
        raise ExportError(f"the page's {problem}")
    if config.encoder_kind not in BROWSABLE_ENCODERS:
        raise ExportError(
            f"only MLP and CNN encoders can be exported (the keypoint encoder's convolution does not lower); "
            f"this run's encoder_kind is {config.encoder_kind!r}"
        )
