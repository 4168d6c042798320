"""The figures of RESULTS.md, drawn from host arrays that the evaluations returned.

Each shows one claim at a glance: the dream GIF and filmstrip what "the world model stays on track" looks like, the
horizon curve for how long (against persistence, with the spread over seeds), the surprise trace a detection at the
very frame of the anomaly, the collapse curves which defence keeps the latent alive, the probe scatter that the
position is linearly in the latent. Every function takes NumPy arrays and a path, writes one file and returns the
path. Matplotlib runs headless (Agg).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from jaxjepa.cli import atomic_output
from jaxjepa.evaluation.reference import REFERENCE_SEEDS

# The plots extra is optional for the library (the measures need none of it); eval.py refuses to start
# without it, naming the install command, rather than fail after the whole evaluation.
PLOTS_INSTALL = "pip install -e '.[plots]'"
try:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from PIL import Image, ImageDraw, ImageFont

    MISSING: str | None = None
except ModuleNotFoundError as err:
    MISSING = err.name
    plt = Image = ImageDraw = ImageFont = None

SEED_COLOURS = plt.get_cmap("tab10").colors if plt else ()
FILMSTRIP_STEPS = (1, 2, 5, 10, 20, 30, 50, 75, 100)  # the rollout steps (1-based) the filmstrip shows


def _save(fig, path: Path) -> Path:
    """The figure as a file of `path`'s format, written whole beside it, then renamed into place."""
    try:
        with atomic_output(path) as tmp:
            fig.savefig(tmp, dpi=110, bbox_inches="tight", format=path.suffix.removeprefix("."))
    finally:
        plt.close(fig)
    return path


def _save_gif(images: list, path: Path, frame_ms: int) -> Path:
    """RGB images as a looping GIF, each frame on its own 64-colour palette, undithered (flat plots stay flat)."""
    frames = [image.convert("P", palette=Image.ADAPTIVE, colors=64, dither=Image.Dither.NONE) for image in images]
    with atomic_output(path) as tmp:
        frames[0].save(tmp, format="GIF", save_all=True, append_images=frames[1:], duration=frame_ms, loop=0)
    return path


def _magma(frame: np.ndarray, size: int):
    """A frame in [0, 1] as a size x size RGB image in the filmstrip's colours, upscaled without blurring."""
    pixels = (matplotlib.colormaps["magma"](np.clip(frame, 0, 1))[..., :3] * 255).astype(np.uint8)
    return Image.fromarray(pixels, "RGB").resize((size, size), Image.NEAREST)


def _log_axes(ax, **labels) -> None:
    """A log y axis, since errors and surprises span decades, with a faint grid on its minor ticks too."""
    ax.set(yscale="log", **labels)
    ax.grid(alpha=0.3, which="both")


def _band(ax, x, per_seed: np.ndarray, colour, label: str, spread: str = "std") -> None:
    """Mean over seeds as a line, each seed as a faint line, and a band: mean +- std over seeds
    (spread="std"), or the seeds' min to max (spread="range", for log axes where mean - std < 0)."""
    mean = per_seed.mean(axis=0)
    if spread == "range":
        low, high = per_seed.min(axis=0), per_seed.max(axis=0)
    else:
        std = per_seed.std(axis=0, ddof=1) if per_seed.shape[0] > 1 else np.zeros_like(mean)
        low, high = mean - std, mean + std
    for curve in per_seed:
        ax.plot(x, curve, color=colour, alpha=0.18, lw=0.8)
    ax.fill_between(x, low, high, color=colour, alpha=0.25, lw=0)
    ax.plot(x, mean, color=colour, lw=2, label=label)


def horizon_curve(curves: dict[str, np.ndarray], horizon_px: float, path: Path, reference: dict | None = None) -> Path:
    """Left: position error of the dream per rollout step (mean over trajectories; line = mean over
    seeds, band = +- std over seeds), beside the probe's floor and persistence; right: decoded-frame MSE
    against persistence. `curves`: forecast.forecast's curves, each [n_seeds, steps]."""
    n_seeds, n_steps = curves["position_error"].shape[:2]
    steps = np.arange(1, n_steps + 1)
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    _band(left, steps, curves["position_error"], "tab:blue", f"jaxjepa dream (mean ± std, {n_seeds} seeds)")
    _band(left, steps, curves["probe_floor"], "tab:green", "same probe on the true latents (floor)")
    _band(left, steps, curves["persistence_position_error"], "tab:gray", "persistence (the last seen position)")
    if reference:
        ref_steps, ref_error = zip(*sorted(reference.items()))
        label = f"reference (REFERENCE.md, {REFERENCE_SEEDS}-seed mean)"
        left.plot(ref_steps, ref_error, "s--", color="tab:red", label=label)
    left.axhline(horizon_px, color="k", ls=":", lw=1.2, label=f"{horizon_px:g} px band")
    xlabel, title = "rollout step k (dream of o_k, scored on frame k+1)", "Probe on the dreamed latent vs true position"
    _log_axes(left, xlabel=xlabel, ylabel="position error, px (log)", title=title)
    left.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2)  # below: the curves fill the axes
    decoded = np.isfinite(curves["decoded_mse"]).any()  # NaN throughout where the runs trained no decoder
    if decoded:
        _band(right, steps, curves["decoded_mse"], "tab:blue", "decoded dream")
    _band(right, steps, curves["persistence_mse"], "tab:gray", "persistence (hold last frame)")
    title = "Decoded dream vs persistence" if decoded else "No decoder trained: persistence alone"
    _log_axes(right, xlabel="rollout step k", ylabel="frame MSE (log)", title=title)
    right.legend(fontsize=8, loc="lower right")
    return _save(fig, path)


def dream_filmstrip(
    true_frames: np.ndarray, dream_frames: np.ndarray, position_error: np.ndarray, path: Path, seed: int
) -> Path:
    """Top row reality, bottom row the decoded dream of `seed`'s model, at FILMSTRIP_STEPS."""
    steps = [s for s in FILMSTRIP_STEPS if s <= true_frames.shape[0]]
    fig, axes = plt.subplots(2, len(steps), figsize=(1.45 * len(steps), 3.3), squeeze=False)
    for col, step in enumerate(steps):
        for row, (frames, name) in enumerate(((true_frames, "reality"), (dream_frames, "dream"))):
            ax = axes[row, col]
            ax.imshow(frames[step - 1], cmap="magma", vmin=0, vmax=1, interpolation="nearest")
            ax.set(xticks=[], yticks=[])
            if col == 0:
                ax.set_ylabel(name, fontsize=11)
        axes[0, col].set_title(f"step {step}", fontsize=10)
        axes[1, col].set_xlabel(f"err {position_error[step - 1]:.1f} px", fontsize=9)
    fig.suptitle(f"Reality vs decoded dream, rolled out from two observed frames (seed {seed})", fontsize=11)
    return _save(fig, path)


def dream_gif(true_frames: np.ndarray, dream_frames: np.ndarray, position_error: np.ndarray, path: Path) -> Path:
    """Animated GIF: reality (left) and the decoded dream (right), upscaled 8x, with the step and error."""
    font = ImageFont.load_default(size=14)
    size, header, gap = true_frames.shape[-1] * 8, 24, 8
    images = []
    for k in range(true_frames.shape[0]):
        canvas = Image.new("RGB", (2 * size + gap, size + 2 * header), "white")
        for i, frames in enumerate((true_frames, dream_frames)):
            canvas.paste(_magma(frames[k], size), (i * (size + gap), header))
        draw = ImageDraw.Draw(canvas)
        draw.text((4, 4), "reality", fill="black", font=font)
        draw.text((size + gap + 4, 4), "dream (decoded)", fill="black", font=font)
        caption = f"step {k + 1:3d}   position error {position_error[k]:5.1f} px"
        draw.text((4, size + header + 4), caption, fill="black", font=font)
        images.append(canvas)
    return _save_gif(images, path, frame_ms=120)


def surprise_trace(example: dict[str, np.ndarray], first_scored_frame: int, threshold_mads: float, path: Path) -> Path:
    """Surprise per scored frame, latent and pixel (where a decoder was trained: its scores are not NaN), with the
    threshold and the injected teleport, on the first trajectory of `example` (anomaly.examples of one seed) whose
    anomaly is visible, else the first."""
    shown = int(np.argmax(example["visible"]))  # the first True; 0 where none is
    latent, pixel, anomaly_frame = example["latent"][shown], example["pixel"][shown], int(example["frame"][shown])
    frames = np.arange(first_scored_frame, first_scored_frame + latent.shape[0])
    panels = [(latent, float(example["latent_threshold"]), "latent ||P(E_ema(o_t)) - E_ema(o_t+1)||^2")]
    if np.isfinite(pixel).any():
        panels.append((pixel, float(example["pixel_threshold"]), "pixel MSE(D(P(E_ema(o_t))), f_t+2)"))
    fig, axes = plt.subplots(len(panels), 1, figsize=(9, 2.6 * len(panels)), sharex=True, squeeze=False)
    axes = axes[:, 0]
    injected = f"teleport injected at frame {anomaly_frame}"
    for ax, (scores, threshold, name) in zip(axes, panels):
        ax.plot(frames, scores, "o-", ms=3, color="tab:blue", label="surprise, indexed by the frame it scores")
        threshold_label = f"threshold: median + {threshold_mads:g} MAD of normal frames"
        ax.axhline(threshold, color="tab:orange", ls="--", label=threshold_label)
        ax.axvline(anomaly_frame, color="tab:red", lw=1.5, alpha=0.7, label=injected)
        _log_axes(ax, ylabel="surprise (log)", title=name)
    axes[0].legend(fontsize=8, loc="upper left")
    axes[-1].set_xlabel("frame")
    return _save(fig, path)


def collapse_curves(curves: dict[str, tuple[np.ndarray, np.ndarray]], path: Path, descriptions: dict[str, str]) -> Path:
    """Embedding std over training per variant: {name: (steps [p], per-seed curves [n_seeds, p])}."""
    fig, ax = plt.subplots(figsize=(8.5, 4.5))
    for i, (name, (steps, per_seed)) in enumerate(curves.items()):
        _band(ax, steps, per_seed, SEED_COLOURS[i], f"{name}: {descriptions[name]}", spread="range")
    ylabel = "embedding std (mean over dims, online latents; log)"
    title = "Collapse ablation: embedding std over training (line: mean, band: min-max over seeds)"
    _log_axes(ax, xlabel="JEPA training step", ylabel=ylabel, title=title)
    ax.legend(fontsize=8, loc="best")
    return _save(fig, path)


def probe_scatter(
    true: np.ndarray, predicted: np.ndarray, rmse_yx_per_seed: np.ndarray, path: Path, frame_size: int, seed: int
) -> Path:
    """Predicted vs true position of the first seed (`seed`), one panel per coordinate; true/predicted [n, 2];
    rmse_yx_per_seed [n_seeds, 2] (row 0 is the seed shown)."""
    mean = rmse_yx_per_seed.mean(axis=0)
    std = rmse_yx_per_seed.std(axis=0, ddof=1) if len(rmse_yx_per_seed) > 1 else 0 * mean
    edges = (0, frame_size - 1)
    fig, axes = plt.subplots(1, 2, figsize=(9, 4.3))
    for i, (ax, name) in enumerate(zip(axes, ("y", "x"))):
        ax.scatter(true[:, i], predicted[:, i], s=6, alpha=0.5, color="tab:blue")
        ax.plot(edges, edges, "k--", lw=1, label="perfect")
        title = f"{name}: RMSE {rmse_yx_per_seed[0, i]:.2f} px (all seeds: {mean[i]:.2f} ± {std[i]:.2f})"
        ax.set(xlabel=f"true {name}, px", ylabel=f"probe's {name}, px", xlim=edges, ylim=edges, aspect="equal")
        ax.set_title(title)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="upper left")
    fig.suptitle(
        f"Least-squares probe from the target-encoder latent, fresh test trajectories (seed {seed})", fontsize=10
    )
    return _save(fig, path)


def recipe_horizons(
    error_curves: dict[str, np.ndarray], floor_curves: dict[str, np.ndarray], path: Path, horizon_px: float
) -> Path:
    """Every recipe's dream on one plot: position error per rollout step, {name: [n_seeds, K]} (line:
    mean over seeds, band: +- std), with each recipe's floor (its probe on the true latents) dashed."""
    fig, ax = plt.subplots(figsize=(10, 5))
    for i, (name, per_seed) in enumerate(error_curves.items()):
        colour = SEED_COLOURS[i % len(SEED_COLOURS)]
        steps = np.arange(1, per_seed.shape[1] + 1)
        _band(ax, steps, per_seed, colour, f"{name} ({per_seed.shape[0]} seeds)")
        ax.plot(steps, floor_curves[name].mean(axis=0), color=colour, ls="--", lw=1, alpha=0.8)
    ax.axhline(horizon_px, color="k", ls=":", lw=1.2, label=f"{horizon_px:g} px band")
    title = "Horizon of every recipe (solid: dream; dashed: same probe on the true latents)"
    _log_axes(ax, xlabel="rollout step k", ylabel="position error of the dream, px (log)", title=title)
    ax.legend(fontsize=8, loc="lower right")
    return _save(fig, path)


def predictor_spectrum(eigenvalues: np.ndarray, fundamental_rad: float, path: Path, title: str) -> Path:
    """An affine predictor's eigenvalues in the complex plane, [n_seeds, d, 2] (re, im), over the unit circle,
    with rays at the harmonics of a fundamental angle (rad/frame): a linear world model of a bounce must
    rotate its latent at those angles, without shrinking it."""
    fig, ax = plt.subplots(figsize=(5.5, 5.5))
    circle = np.linspace(0, 2 * np.pi, 400)
    ax.plot(np.cos(circle), np.sin(circle), color="gray", lw=1)
    step = fundamental_rad
    for n in range(1, int(np.pi / step) + 1):
        for sign in (1, -1):
            ax.plot([0, np.cos(n * step)], [0, sign * np.sin(n * step)], color="gray", lw=0.5, ls=":")
    for i, seed_eigenvalues in enumerate(eigenvalues):  # [d, 2]: (re, im)
        label = f"seed {i}" if i < 8 else None
        ax.scatter(*seed_eigenvalues.T, s=10, alpha=0.6, color=SEED_COLOURS[i % len(SEED_COLOURS)], label=label)
    title = f"Eigenvalues of the affine predictor, {title}\n(dotted: harmonics of the bounce)"
    ax.set(aspect="equal", xlim=(-1.1, 1.1), ylim=(-1.1, 1.1), xlabel="Re", ylabel="Im", title=title)
    ax.legend(fontsize=7, loc="lower left", ncol=2)  # no eigenvalue lives there
    return _save(fig, path)


def roc_curves(
    false_positive_rates: np.ndarray, true_positive_rates: dict[str, dict[str, np.ndarray]], path: Path, title: str
) -> Path:
    """One panel per anomaly kind: per-frame ROC of latent and pixel surprise, {kind: {space: [n_seeds, F]}}
    (line: mean TPR over seeds at each false-positive rate; log x axis, where detectors differ)."""
    kinds = list(true_positive_rates)
    fig, axes = plt.subplots(1, len(kinds), figsize=(3.4 * len(kinds), 3.6), sharey=True, squeeze=False)
    fpr = np.maximum(false_positive_rates, 1e-5)
    for ax, kind in zip(axes[0], kinds):
        for colour, space in (("tab:blue", "latent"), ("tab:orange", "pixel")):
            tpr = true_positive_rates[kind][space]
            ax.plot(fpr, tpr.mean(axis=0), color=colour, lw=2, label=f"{space} surprise")
            for curve in tpr:
                ax.plot(fpr, curve, color=colour, lw=0.6, alpha=0.25)
        ax.plot(fpr, fpr, color="gray", ls=":", lw=1)
        ax.set(xscale="log", xlim=(1e-4, 1), ylim=(0, 1.02), title=kind, xlabel="false-positive rate (log)")
        ax.grid(alpha=0.3, which="both")
    axes[0][0].set_ylabel("true-positive rate")
    axes[0][0].legend(fontsize=8, loc="lower right")
    fig.suptitle(f"Per-frame ROC by anomaly kind, config {title} (thin: seeds)")
    return _save(fig, path)


def budget_curve(budgets: list[int], per_seed: np.ndarray, labels: list[str], path: Path) -> Path:
    """Success rate (per_seed [seeds, points], fractions) against samples x iterations, log x axis."""
    fig, ax = plt.subplots(figsize=(5, 3.2))
    x = np.asarray(budgets, dtype=float)
    _band(ax, x, 100 * per_seed, SEED_COLOURS[0], "MPPI, learned model", spread="range")
    ax.set(xscale="log", xlabel="samples x iterations per replanning step", ylabel="success, %")
    ax.set_xticks(x, labels)
    ax.legend(loc="lower right")
    return _save(fig, path)


def planning_gif(arrays: dict, path: Path, scale: int = 12, frame_ms: int = 150, caption: str = "logo") -> Path:
    """Animated GIF of planned episodes side by side: the world (arrays["frames"] [E, T, size, size] in [0, 1]),
    the goal (cross) and the imagined path (dots)."""
    frames, goals, imagined = (np.asarray(arrays[k]) for k in ("frames", "goals", "imagined"))
    font = ImageFont.load_default(size=14)
    tile_size, gap, header = frames.shape[-1] * scale, 8, 22
    px = lambda p: ((p[1] + 0.5) * scale, (p[0] + 0.5) * scale)  # (y, x) px -> image (x, y)
    images = []
    for step in range(frames.shape[1]):
        canvas = Image.new("RGB", (len(goals) * (tile_size + gap) - gap, tile_size + header), "white")
        for e, goal in enumerate(goals):
            tile = _magma(frames[e, step], tile_size)
            draw = ImageDraw.Draw(tile)
            for point in imagined[e, step]:
                x, y = px(point)
                draw.ellipse((x - 2, y - 2, x + 2, y + 2), fill=(80, 200, 255))
            x, y = px(goal)
            for dy in (6, -6):  # the two strokes of the cross
                draw.line((x - 6, y - dy, x + 6, y + dy), fill=(0, 255, 0), width=2)
            canvas.paste(tile, (e * (tile_size + gap), header))
        title = f"step {step + 1:2d}: {caption}, goal (cross), imagined path (dots)"
        ImageDraw.Draw(canvas).text((4, 3), title, fill="black", font=font)
        images.append(canvas)
    return _save_gif(images, path, frame_ms)
