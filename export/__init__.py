"""Export a trained run to the browser: JAX -> plain TensorFlow ops -> TF.js graph models (web/model/).

`python -m export runs/seed0` writes web/model/; `python -m export.measure` measures the page in
headless Chromium. TensorFlow is only needed here (the `export` extra), never by the core library,
so nothing is imported at package level.
"""

import os

# TF_CPP_MIN_LOG_LEVEL as the user set it, or None: then `python -m export` also hides the C++ log lines it does
# not reach (export.__main__.native_logs_hidden).
USER_TF_LOG_LEVEL = os.environ.get("TF_CPP_MIN_LOG_LEVEL")
REFERENCE_DOWNLOAD_MB = 1.37  # REFERENCE.md: the reference page's weights, as base64 float32 JSON
# The observations of the parity check (export.build.parity_observations): PARITY_TRAJECTORIES trajectories of
# PARITY_FRAMES - 1 observations each, the last with a teleport. Here, without TensorFlow, so that export.measure
# states the count the check uses.
PARITY_TRAJECTORIES = 4
PARITY_FRAMES = 33
PARITY_OBSERVATIONS = PARITY_TRAJECTORIES * (PARITY_FRAMES - 1)

# Before TensorFlow or tensorflowjs is imported anywhere: TF's start-up chatter would hide the figures
# we print, and tensorflow_decision_forests (imported by the tensorflowjs converter) tries to show a
# notebook banner through IPython whenever stdout is not a terminal (pytest, CI), failing without it.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TFDF_DISABLE_WELCOME_MESSAGE", "1")
