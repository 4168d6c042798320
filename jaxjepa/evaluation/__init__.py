"""Evaluation of trained runs as suites: every figure per seed, on fresh data unless its report says otherwise.

A suite (suite.Suite) is one evaluation: its named configs, its per-seed measure, its figures and its report
sections. `eval.py` (command.py) only dispatches: it plans each suite's runs (runs.py: found on disk or trained
and saved as train.py saves them), calls the suite, stores its JSON payload under --out and regenerates
RESULTS.md from every payload stored there (`eval.py --report-only` renders them again without evaluating).

    headline       probes, forecast and teleport detection of one config   -> results/metrics.json
    ablation       the collapse ablation's four variants                   -> metrics.json["ablation"]
    recipes        300-step horizon of every recipe, predictor spectra     -> results/recipes.json
    anomaly_kinds  teleport and the subtle anomalies, per-frame ROC        -> results/anomalies.json
    worlds         harder worlds with the reference and the best recipe    -> results/worlds.json
    planning       latent planning in steer: planners, baselines, ablation -> results/planning.json
    two_rooms      EB-JEPA's Two Rooms benchmark, its planners and ablation -> results/two_rooms.json

Shared: representation (least-squares and Adam probes), forecast (latent rollouts, horizon), anomaly (surprise,
detection), figures (PNG/GIF), report (markdown building blocks), reference (the reference's figures), settings
(the measurement's constants, mean +- std over seeds, the timing of a compiled call).

Adding a suite (a new benchmark, say) takes one module, jaxjepa/evaluation/NAME.py, and one line:
- `configs(config_name, config) -> {run name: Config}`: the named configs to train or find (runs/NAME/seed{i}, as
  train.py --config NAME keeps them);
- `evaluate(loaded: {run name: runs.SeedRuns}, context: suite.Context) -> suite.Evaluated`: the per-seed measure
  jit(vmap)ped over `SeedRuns.params` and `runner.stacked_keys(seeds)` by `settings.over_seeds` (or `lax.map`ped
  where a seed's own batch fills the memory), summarised with `settings.summarise` into a JSON-ready payload
  (plus host arrays the figures need);
- `figures(evaluated, out_dir) -> {figure name: path}` and report sections `(stored JSON) -> markdown`;
- `SUITE = Suite(name=..., result_file="NAME.json", configs=..., evaluate=..., figures=..., sections=(...,), ...)`,
  registered in command.py's `EXTRA_SUITES` (its own `--NAME` flag, and a place in RESULTS.md's REPORT_ORDER).
Sections render numbers only (a target is a row of `report.targets_table`); findings in prose belong in
docs/findings.md.
"""
