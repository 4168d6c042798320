"""`python -m export` never loses a user's file: refused destinations, the manifest, --force, a sandbox of
sentinel files around --out, and a seeded fuzz of destinations and flags.

Every refusal is checked on real folders in tmp_path (the cwd and $HOME moved there too), with the whole
tree's bytes compared before and after. The CLI runs in-process (`main`, SystemExit caught): a subprocess
would pay TensorFlow's import for every call.
"""

import errno
import json
import os
import random
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from export import __main__ as export_cli  # the package sets the environment TensorFlow reads at import
from export.destination import FORMAT, MANIFEST_KEY, ExportError, check_destination, manifest_of
from jaxjepa import get_config, save_run
from jaxjepa.config import VARIANTS
from tests.conftest import NEEDS_TENSORFLOW, random_params, tiny_config, tiny_steer_config

pytestmark = NEEDS_TENSORFLOW


@pytest.fixture(scope="module")
def run_dir(tiny_run_dir):
    return tiny_run_dir


@pytest.fixture
def sandbox(tmp_path, run_dir, monkeypatch):
    """tmp_path/home/work is the cwd and tmp_path/home is $HOME; sentinels everywhere around."""
    home, work = tmp_path / "home", tmp_path / "home" / "work"
    work.mkdir(parents=True)
    for folder in (tmp_path, home, work):
        (folder / "SENTINEL.txt").write_text(f"keep {folder.name}")
    (work / "mine").mkdir()
    (work / "mine" / "notes.txt").write_text("keep me")
    (work / "a-file").write_text("not a folder")
    monkeypatch.chdir(work)
    monkeypatch.setenv("HOME", str(home))
    return tmp_path


def cli(argv, capsys) -> tuple[int, str]:
    """Exit code and stderr of one in-process `python -m export` call."""
    try:
        export_cli.main([str(a) for a in argv])
        code = 0
    except SystemExit as exit_info:
        code = exit_info.code
    return code, capsys.readouterr().err


def assert_one_line_refusal(code, err):
    assert code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err, (code, err)
    assert err.startswith("cannot export: ")


@pytest.fixture
def no_export_reached(monkeypatch):
    """For refusals: the exporter proper must never be reached (it would build and swap a folder)."""

    def reached(*args, **kwargs):
        raise AssertionError("export_run was called for a destination that must be refused")

    monkeypatch.setattr("export.build.export_run", reached)


@pytest.fixture
def no_tensorflow_reached(monkeypatch):
    """For refusals that need no TensorFlow: they must come before its slow import (missing_dependency's)."""

    def reached():
        raise AssertionError("TensorFlow would be imported for an export that must be refused before it")

    monkeypatch.setattr(export_cli, "missing_dependency", reached)


@pytest.mark.parametrize(
    "out, words",
    [
        (".", "is the current folder"),
        ("..", "holds the current folder"),  # $HOME: also a parent of the cwd
        ("../..", "holds the current folder"),
        ("/", "holds the current folder"),
        ("RUN", "holds or is inside the source run"),
        ("RUN/encoder_copy", "holds or is inside the source run"),
        ("RUNS", "holds or is inside the source run"),
        ("mine", "not a jaxjepa export"),
        ("a-file", "is a file"),
        ("a-file/model", "a-file is a file, not a folder"),
    ],
)
@pytest.mark.parametrize("force", [False, True])
def test_dangerous_destinations_are_refused_and_nothing_changes(
    sandbox, run_dir, out, words, force, capsys, no_export_reached
):
    out = out.replace("RUNS", str(run_dir.parent)).replace("RUN", str(run_dir))
    before, run_before = manifest_of(sandbox), manifest_of(run_dir.parent)
    code, err = cli([run_dir, "--out", out] + ["--force"] * force, capsys)
    assert_one_line_refusal(code, err)
    assert words in err
    assert manifest_of(sandbox) == before and manifest_of(run_dir.parent) == run_before


def test_home_folder_is_refused_even_away_from_the_cwd(tmp_path, run_dir, monkeypatch, capsys, no_export_reached):
    home = tmp_path / "elsewhere-home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    code, err = cli([run_dir, "--out", home, "--force"], capsys)
    assert_one_line_refusal(code, err)
    assert "is your home folder" in err and home.is_dir()


@pytest.fixture(scope="module")
def previous_export(tiny_export):
    """One real export, copied by the tests that change it."""
    return tiny_export[1]


def copy_of(folder, where):
    return shutil.copytree(folder, where / folder.name)


def same_export(a, b) -> bool:
    """Same files and the same weights (model.json and meta.json may differ in TF's generated names)."""
    files_a, files_b = manifest_of(a), manifest_of(b)
    return files_a.keys() == files_b.keys() and all(files_a[k] == files_b[k] for k in files_a if k.endswith(".bin"))


def test_manifest_lists_exactly_the_files_the_export_wrote(previous_export):
    meta = json.loads((previous_export / "meta.json").read_text())
    on_disk = manifest_of(previous_export)
    assert meta["format"] == FORMAT
    assert meta[MANIFEST_KEY] == {name: digest for name, digest in on_disk.items() if name != "meta.json"}
    assert {"encoder/model.json", "reference_outputs.npz"} <= set(meta[MANIFEST_KEY])
    assert any(name.endswith(".bin") for name in meta[MANIFEST_KEY])


@pytest.mark.parametrize("force", [False, True])
def test_user_files_in_a_previous_export_are_never_deleted(
    previous_export, tmp_path, run_dir, force, capsys, no_export_reached
):
    out = copy_of(previous_export, tmp_path)
    (out / "NOTES_user.txt").write_text("my notes")
    (out / "my_images").mkdir()
    (out / "my_images" / "a.png").write_bytes(b"\x89PNG")
    before = manifest_of(out)
    code, err = cli([run_dir, "--out", out] + ["--force"] * force, capsys)
    assert_one_line_refusal(code, err)
    assert "NOTES_user.txt" in err and "my_images/a.png" in err and "never deletes" in err
    assert manifest_of(out) == before


def test_an_export_without_a_manifest_is_recognised_by_its_layout(
    previous_export, tmp_path, run_dir, capsys, monkeypatch
):
    out = copy_of(previous_export, tmp_path)
    meta = json.loads((out / "meta.json").read_text())
    del meta[MANIFEST_KEY]
    (out / "meta.json").write_text(json.dumps(meta))
    assert cli([run_dir, "--out", out], capsys)[0] == 0
    assert MANIFEST_KEY in json.loads((out / "meta.json").read_text())
    (out / "NOTES_user.txt").write_text("mine")
    monkeypatch.setattr("export.build.export_run", None)  # refused before the exporter proper
    code, err = cli([run_dir, "--out", out, "--force"], capsys)
    assert_one_line_refusal(code, err)
    assert (out / "NOTES_user.txt").read_text() == "mine"


def test_sentinels_all_around_out_survive_every_invocation(sandbox, previous_export, run_dir, capsys):
    """Siblings, parent, grandparent and a folder inside --out: refused calls (an edited export without
    --force, --out its parent, its sibling, a file inside it) and a forced re-export change none of them."""
    parent = sandbox / "home" / "work" / "site"
    out = copy_of(previous_export, parent)
    edited = out / "encoder" / "model.json"
    edited.write_text(edited.read_text() + " ")
    code, err = cli([run_dir, "--out", out], capsys)
    assert_one_line_refusal(code, err)
    assert "encoder/model.json changed since the export wrote it" in err and edited.read_text().endswith(" ")
    (parent / "sibling").mkdir()
    (parent / "sibling" / "SENTINEL.txt").write_text("sibling")
    (parent / "SENTINEL.txt").write_text("parent")
    outside = {p: p.read_bytes() for p in sandbox.rglob("SENTINEL.txt")} | {
        p: p.read_bytes() for p in (sandbox / "home" / "work" / "mine").rglob("*") if p.is_file()
    }
    for argv, expected_code in [
        ([run_dir, "--out", out, "--force"], 0),
        ([run_dir, "--out", parent, "--force"], 2),
        ([run_dir, "--out", parent / "sibling", "--force"], 2),
        ([run_dir, "--out", out / "encoder" / "model.json", "--force"], 2),
    ]:
        code, err = cli(argv, capsys)
        assert code == expected_code, err
        assert {p: p.read_bytes() for p in outside} == outside
        assert same_export(out, previous_export)
        assert not [p for p in parent.iterdir() if p.name.startswith(".")]  # no .partial/.old left


@pytest.mark.parametrize("edit", ["a value", "its layout"])
def test_a_hand_edited_meta_json_is_replaced_only_with_force(
    previous_export, tmp_path, run_dir, edit, capsys, no_export_reached
):
    """meta.json is the one file the manifest cannot list, and the one a user edits by hand (the page's planner,
    its world): an edit is theirs to keep, as an edited weights file is."""
    out = copy_of(previous_export, tmp_path)
    check_destination(out, run_dir, force=False)  # as the export wrote it: a plain re-export replaces it
    meta = json.loads((out / "meta.json").read_text())
    if edit == "a value":
        meta["world"]["sigma"] *= 2
        (out / "meta.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    else:
        (out / "meta.json").write_text(json.dumps(meta))
    before = manifest_of(out)
    code, err = cli([run_dir, "--out", out], capsys)
    assert_one_line_refusal(code, err)
    assert "meta.json changed since the export wrote it; pass --force" in err
    assert manifest_of(out) == before
    check_destination(out, run_dir, force=True)


DANGEROUS = [".", "..", "/", "~", "RUN", "RUN/sub", "mine", "a-file", "x" * 300, "a-file/bad-\udcff-utf8"]
SAFE = ["fresh/model", "empty", "previous"]
FLAGS = [[], ["--force"], ["--float16"], ["--saved-model", "saved"], ["--saved-model", "mine"], ["--bogus"], ["--out"]]


def test_seeded_fuzz_of_destinations_and_flags(sandbox, previous_export, run_dir, capsys):
    """Random --out among dangerous, odd and fine places, random flags: exit 0 with a valid export, or a
    non-zero exit with exactly one line on stderr. Most draws are refusals (cheap); a few export."""
    rng = random.Random(20261126)
    (sandbox / "home" / "work" / "empty").mkdir()
    copy_of(previous_export, sandbox / "home" / "work").rename(sandbox / "home" / "work" / "previous")
    for draw in range(12):
        # draw 0 picks a fine place and exports (seconds each); the others are refusals, which are cheap
        out = rng.choice(DANGEROUS if draw else SAFE).replace("RUN", str(run_dir))
        argv = [str(run_dir), "--out", out.replace("~", str(sandbox / "home"))] + rng.choice(FLAGS)
        before = {k: v for k, v in manifest_of(sandbox).items() if not k.startswith("home/work/" + out)}
        code, err = cli(argv, capsys)
        if code == 0:
            meta = json.loads((sandbox / "home" / "work" / out / "meta.json").read_text())
            assert meta["format"] == FORMAT and set(meta[MANIFEST_KEY]) < set(
                manifest_of(sandbox / "home" / "work" / out)
            )
            shutil.rmtree(sandbox / "home" / "work" / "saved", ignore_errors=True)
        else:
            assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, (argv, err)
        after = manifest_of(sandbox)
        assert all(after.get(k) == v for k, v in before.items() if not k.startswith("home/work/saved")), argv


@pytest.mark.parametrize(
    "saved, words",
    [
        ("a-file", "--saved-model WORK/a-file is a file, not a folder; the exporter never replaces it"),
        ("a-file/saved", "--saved-model WORK/a-file/saved cannot be created: WORK/a-file is a file, not a folder"),
        ("RUN", "--saved-model RUN holds or is inside the source run RUN; give a folder outside it"),
        ("RUN/saved", "--saved-model RUN/saved holds or is inside the source run RUN; give a folder outside it"),
        ("RUNS", "--saved-model RUNS holds or is inside the source run RUN; give a folder outside it"),
        ("mine", "--saved-model WORK/mine is not empty (it holds notes.txt); the exporter never writes among your"),
        ("fresh/saved", "--saved-model WORK/fresh/saved and --out WORK/fresh lie one inside the other; give folders"),
    ],
)
def test_saved_model_destinations_are_refused_before_tensorflow(
    sandbox, run_dir, saved, words, capsys, no_export_reached, no_tensorflow_reached
):
    """--saved-model DIR is written into: a file, the source run, a folder holding it, a folder of the user's or one
    inside --out is refused in one line before TensorFlow's import, and nothing changes."""
    work = sandbox / "home" / "work"
    saved, words = (text.replace("RUNS", str(run_dir.parent)).replace("RUN", str(run_dir)) for text in (saved, words))
    before, run_before = manifest_of(sandbox), manifest_of(run_dir.parent)
    code, err = cli([run_dir, "--out", "fresh", "--saved-model", saved], capsys)
    assert_one_line_refusal(code, err)
    assert words.replace("WORK", str(work)) in err
    assert manifest_of(sandbox) == before and manifest_of(run_dir.parent) == run_before
    assert not (work / "fresh").exists()


def saved_tiny_run(root, config):
    """A run of `config` saved with random parameters: the refusals below never look at how it was trained."""
    return save_run(root / "seed0", config, random_params(config), {"final": {}})


ITERATIONS_AT_THE_PAGES_MOST = export_cli.PAGE_MAX_PLAN_PREDICTIONS // (1000 * 10)  # of 1000 samples of 10 actions


@pytest.mark.parametrize(
    "world, flags, refusal",
    [
        (
            "steer",
            ["--planning", "two_rooms_ebjepa"],
            "--planning two_rooms_ebjepa plans in the two_rooms world; this run's world is steer: give a config of "
            "its world (steer, steer_no_ema, steer_no_var and 1 more)",
        ),
        (
            "steer",
            ["--planning", "koopman"],
            "--planning koopman plans in the bounce world; this run's world is steer: give a config of its world "
            "(steer, steer_no_ema, steer_no_var and 1 more)",
        ),
        (
            "bounce",
            ["--planning", "steer"],
            "--planning steer is for runs that plan, and this run cannot: its world bounce has no actions, its "
            "predictor takes none (the page plans in the worlds steer, two_rooms)",
        ),
        (
            "bounce",
            ["--plan-iterations", "2"],
            "--plan-iterations 2 is for runs that plan, and this run cannot: its world bounce has no actions, its "
            "predictor takes none (the page plans in the worlds steer, two_rooms)",
        ),
        (
            "steer",
            ["--search-beams", "8"],
            "--search-beams sets the page's latent search, which only two_rooms runs have; this run's world is "
            "steer: set its planner with --plan-samples and --plan-iterations",
        ),
        (
            "steer",
            ["--plan-iterations", "1000000000"],
            "the page's planner: plan_iterations must be positive and at most 10000000, got 1000000000",
        ),
        (
            "steer",
            ["--plan-samples", "500000"],  # x the run's 10 actions: a page could not hold them, nor plan each frame
            "the page's planner would sample 500000 sequences of 10 actions at once, more than the 1,000,000 a "
            "browser page can hold and plan with each frame; give fewer --plan-samples",
        ),
        (
            "steer",
            ["--plan-samples", "1000", "--plan-iterations", "10000000"],  # each plan of the page: hours of predicting
            "the page's planner would take 100,000,000,000 predictor steps each plan (10000000 refinements of 1000 "
            "sequences of 10 actions), more than the 1,000,000 a browser page can take each plan; give fewer "
            "--plan-iterations or --plan-samples",
        ),
        (
            "steer",
            ["--plan-samples", "1000", "--plan-iterations", str(ITERATIONS_AT_THE_PAGES_MOST + 1)],
            f"the page's planner would take {(ITERATIONS_AT_THE_PAGES_MOST + 1) * 1000 * 10:,} predictor steps each "
            f"plan ({ITERATIONS_AT_THE_PAGES_MOST + 1} refinements of 1000 sequences of 10 actions), more than the "
            f"{export_cli.PAGE_MAX_PLAN_PREDICTIONS:,} a browser page can take each plan; give fewer --plan-iterations "
            "or --plan-samples",
        ),
        (
            "steer",
            ["--plan-samples", "1"],  # the page's MPPI would score the plan it has and never move it
            "the page's planner: plan_samples 1: MPPI and CEM score the current plan and plan_samples - 1 noisy "
            "copies of it, so with one sample the plan never changes; give 2 or more",
        ),
    ],
)
def test_planning_flags_a_run_cannot_use_are_refused_before_tensorflow(
    tmp_path, world, flags, refusal, capsys, no_export_reached, no_tensorflow_reached
):
    """A planner of another world would go into meta.json, and a planning flag for a run without actions would be
    ignored: both are one line before TensorFlow's import."""
    config = tiny_steer_config() if world == "steer" else tiny_config()
    run = saved_tiny_run(tmp_path / world, config)
    code, err = cli([run, "--out", tmp_path / "model", *flags], capsys)
    assert_one_line_refusal(code, err)
    assert err == f"cannot export: {refusal}\n"
    assert not (tmp_path / "model").exists()


@pytest.mark.parametrize(
    "samples, iterations",
    [(1000, ITERATIONS_AT_THE_PAGES_MOST), (export_cli.PAGE_MAX_SAMPLED_ACTIONS // 10, 1)],  # of 10 actions each
)
def test_a_page_planner_at_what_a_page_can_run_is_exported(tmp_path, samples, iterations, capsys, monkeypatch):
    exported = []

    def export_run(run, *args, plan_budget, **kwargs):
        exported.append((plan_budget["samples"], plan_budget["iterations"]))
        raise ExportError("stopped before the lowering")

    monkeypatch.setattr("export.build.export_run", export_run)
    run = saved_tiny_run(tmp_path / "steer", tiny_steer_config())
    flags = ["--plan-samples", samples, "--plan-iterations", iterations]
    code, err = cli([run, "--out", tmp_path / "model", *flags], capsys)
    assert (code, err) == (1, "cannot export: stopped before the lowering\n")  # past the checks
    assert exported == [(samples, iterations)]


@pytest.mark.parametrize("name", [name for name in VARIANTS if get_config(name).action_dim])
def test_every_planning_recipe_plans_within_what_a_page_can_run(name):
    """The recipes' own planners (what an export without planning flags gives the page) pass the page's budget."""
    export_cli.check_page_budget(get_config(name), {})


def test_a_planning_config_of_the_runs_world_is_what_the_exporter_gets(tmp_path, capsys, monkeypatch):
    exported = []

    def export_run(run, *args, **kwargs):
        exported.append(run.config)
        raise ExportError("stopped before the lowering")

    monkeypatch.setattr("export.build.export_run", export_run)
    run = saved_tiny_run(tmp_path / "steer", tiny_steer_config(plan_noise=0.25))
    code, err = cli([run, "--out", tmp_path / "model", "--planning", "steer_no_cov", "--plan-samples", "4"], capsys)
    assert (code, err) == (1, "cannot export: stopped before the lowering\n")  # a failure of the work, past the checks
    assert exported[0].plan_noise == export_cli.get_config("steer_no_cov").plan_noise != 0.25


def tiny_two_rooms_config(**overrides):
    small = {"cnn_channels": (4, 8), "cnn_head_hidden": (16,), "latent_dim": 8, "predictor_hidden": (16,)}
    return get_config("two_rooms_ebjepa", **small, **overrides)


BEAMS_PAST_THE_PAGE = export_cli.PAGE_MAX_SEARCH_BEAMS + 1
DEPTH_AT_THE_PAGES_MOST = export_cli.PAGE_MAX_PLAN_PREDICTIONS // (8 * 32 * 2)  # of 32 beams, moves of 2 actions


@pytest.mark.parametrize(
    "depth, flags, refusal",
    [
        (
            32,
            ["--search-beams", BEAMS_PAST_THE_PAGE],
            f"the page's search would keep {BEAMS_PAST_THE_PAGE} beams, more than the "
            f"{export_cli.PAGE_MAX_SEARCH_BEAMS} a browser page can spread by farthest-point sampling each move; give "
            "fewer --search-beams",
        ),
        (
            DEPTH_AT_THE_PAGES_MOST + 1,  # the run's own depth, of beams the page could keep
            ["--search-beams", 32],
            f"the page's search would take {8 * 32 * (DEPTH_AT_THE_PAGES_MOST + 1) * 2:,} predictor steps each plan "
            f"(8 moves of 2 actions from each of 32 beams, {DEPTH_AT_THE_PAGES_MOST + 1} moves deep), more than the "
            f"{export_cli.PAGE_MAX_PLAN_PREDICTIONS:,} a browser page can take each plan; give fewer "
            "--search-beams, or a --planning config that searches less deep",
        ),
        (
            1_000_000,  # a hand-edited config.json's: each plan of the page would predict for hours
            [],
            "the page's search would take 1,024,000,000 predictor steps each plan (8 moves of 2 actions from each of "
            "64 beams, 1000000 moves deep), more than the 1,000,000 a browser page can take each plan; give fewer "
            "--search-beams, or a --planning config that searches less deep",
        ),
    ],
)
def test_a_page_search_past_what_a_page_can_run_is_refused_before_tensorflow(
    tmp_path, depth, flags, refusal, capsys, no_export_reached, no_tensorflow_reached
):
    """The page's Two Rooms search runs each plan in one frame: beams or depth past PAGE_MAX_SEARCH_BEAMS or
    PAGE_MAX_PLAN_PREDICTIONS would hang the page, so the export of them is one line before TensorFlow's import."""
    run = saved_tiny_run(tmp_path / "two_rooms", tiny_two_rooms_config(search_depth=depth))
    code, err = cli([run, "--out", tmp_path / "model", *flags], capsys)
    assert_one_line_refusal(code, err)
    assert err == f"cannot export: {refusal}\n"
    assert not (tmp_path / "model").exists()


@pytest.mark.parametrize("depth, beams", [(32, export_cli.PAGE_MAX_SEARCH_BEAMS), (DEPTH_AT_THE_PAGES_MOST, 32)])
def test_a_page_search_at_what_a_page_can_run_is_exported(tmp_path, depth, beams, capsys, monkeypatch):
    exported = []

    def export_run(run, *args, plan_budget, **kwargs):
        exported.append((run.config.search_depth, plan_budget["beams"]))
        raise ExportError("stopped before the lowering")

    monkeypatch.setattr("export.build.export_run", export_run)
    run = saved_tiny_run(tmp_path / "two_rooms", tiny_two_rooms_config(search_depth=depth))
    code, err = cli([run, "--out", tmp_path / "model", "--search-beams", beams], capsys)
    assert (code, err) == (1, "cannot export: stopped before the lowering\n")  # past the checks
    assert exported == [(depth, beams)]


def test_a_keypoint_run_is_refused_before_tensorflow(tmp_path, capsys, no_export_reached, no_tensorflow_reached):
    run = saved_tiny_run(tmp_path / "keypoints", tiny_config(encoder_kind="keypoints", keypoints=4))
    code, err = cli([run, "--out", tmp_path / "model"], capsys)
    assert_one_line_refusal(code, err)
    assert err == (
        "cannot export: only MLP and CNN encoders can be exported (the keypoint encoder's convolution does not "
        "lower); this run's encoder_kind is 'keypoints'\n"
    )


@pytest.fixture
def read_only(monkeypatch):
    """Make folders under a root read-only as a read-only filesystem does (for root too, whom modes do not stop):
    os.access answers that nothing there is writable. Returns the function taking that root."""
    real_access = os.access

    def seal(root: Path) -> None:
        def access(path, mode, *args, **kwargs):
            if mode & os.W_OK and Path(path).resolve().is_relative_to(root.resolve()):
                return False
            return real_access(path, mode, *args, **kwargs)

        monkeypatch.setattr(os, "access", access)

    return seal


@pytest.mark.parametrize("flag", ["--out", "--saved-model"])
def test_an_empty_folder_on_a_read_only_filesystem_is_refused_before_tensorflow(
    tmp_path, run_dir, flag, read_only, capsys, no_export_reached, no_tensorflow_reached
):
    """An existing empty --out is replaced by a folder built beside it, an empty --saved-model is written into:
    on a read-only filesystem both are refused in one line before TensorFlow's import, not after the parity
    checks with the error of a .partial folder."""
    sealed = tmp_path / "sealed"
    (sealed / "empty").mkdir(parents=True)
    read_only(sealed)
    argv = [run_dir, "--out", sealed / "empty"] if flag == "--out" else [run_dir, "--out", tmp_path / "model"]
    code, err = cli(argv + (["--saved-model", sealed / "empty"] if flag == "--saved-model" else []), capsys)
    assert_one_line_refusal(code, err)
    refusal = {
        "--out": f"--out {sealed / 'empty'} cannot be written (the export is built beside it, then renamed): "
        f"{sealed} is not writable",
        "--saved-model": f"--saved-model {sealed / 'empty'} cannot be written: {sealed / 'empty'} is not writable",
    }[flag]
    assert err == f"cannot export: {refusal}\n"
    assert list(sealed.rglob("*")) == [sealed / "empty"] and not (tmp_path / "model").exists()


@pytest.mark.parametrize("user_level", [None, "0"])
def test_tensorflows_native_log_lines_are_hidden_unless_the_user_asked_for_them(tmp_path, user_level):
    """TensorFlow's C++ code writes its log lines (duplicate cuDNN factories, no CUDA driver) to descriptor 2, where
    TF_CPP_MIN_LOG_LEVEL does not reach all of them: while the export runs they go nowhere, and the refusal still
    reaches stderr alone. Here a native write stands for them, without TensorFlow's slow import."""
    script = (
        "import os, sys\n"
        "from export.__main__ import native_logs_hidden\n"
        "with native_logs_hidden():\n"
        "    os.write(2, b'E0000 cuda_dnn.cc:8579] Unable to register cuDNN factory\\n')\n"
        "    print('cannot export: the refusal', file=sys.stderr)\n"
        "os.write(2, b'after the export\\n')\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    if user_level is not None:
        env["TF_CPP_MIN_LOG_LEVEL"] = user_level
    repo = Path(__file__).resolve().parents[1]
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=repo, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    native = "E0000 cuda_dnn.cc:8579] Unable to register cuDNN factory\n"
    # what JAX logs as it loads, before the export, is JAX's (and TF_CPP_MIN_LOG_LEVEL 0 asks for all of it)
    assert done.stderr.endswith(f"{native if user_level else ''}cannot export: the refusal\nafter the export\n")
    assert (native in done.stderr) == (user_level is not None)


@pytest.mark.parametrize("name, setting", [("two_logos", "logos=2"), ("random_speed", "speed_jitter=0.5")])
def test_a_world_variation_the_page_does_not_simulate_is_refused(name, setting):
    from export.page import check_page_can_run
    from jaxjepa.config import get_config

    with pytest.raises(ExportError, match=f"this run's world has {setting}"):
        check_page_can_run(get_config(name))
    check_page_can_run(get_config("default"))  # the reference world passes


def test_a_place_that_refuses_files_whatever_its_mode_is_refused_before_tensorflow(
    tmp_path, run_dir, capsys, monkeypatch, no_export_reached, no_tensorflow_reached
):
    """Root passes every mode check, yet /proc or /sys take no files: a probe file finds that before TensorFlow's
    import, as it finds it here where making any file fails."""
    from export import destination

    def no_files_here(*args, **kwargs):
        raise OSError(errno.ENOENT, "No such file or directory")

    monkeypatch.setattr(destination, "probe_write", no_files_here)
    code, err = cli([run_dir, "--out", tmp_path / "model"], capsys)
    assert_one_line_refusal(code, err)
    refusal = f"--out {tmp_path / 'model'} cannot be created: {tmp_path} is not writable (No such file or directory)"
    assert err == f"cannot export: {refusal}\n"
    assert not (tmp_path / "model").exists()


# Ctrl-C as the export's process leaves, after it has printed everything: in the atexit handlers (TensorFlow
# registers some), or in the teardown of the modules that follows them. Each hook here says so on stdout and waits,
# standing for the seconds TensorFlow's take; the first atexit handler registered is the last to run.
# The command's own exit path (run_as_command) around an export that writes meta.json and says so: TensorFlow's
# import and the lowering, which other tests check, would only add their seconds.
AS_FOREGROUND = (
    "import signal, sys\n"
    "from pathlib import Path\n"
    "import export.__main__ as command\n"
    "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
    "def export(args):\n"
    "    Path(args.out).mkdir()\n"
    "    (Path(args.out) / 'meta.json').write_text('{}')\n"
    "    print(f'wrote {args.out}', flush=True)\n"
    "command.export = export\n"
    "command.run_as_command(sys.argv[1:])\n"
)
EXIT_HOOKS = {
    "atexit": "import atexit, os, time\natexit.register(lambda: (os.write(1, b'leaving\\n'), time.sleep(30)))\n",
    "teardown": (
        "import os, time\n"
        "class Slow:\n"
        "    def __del__(self):\n"
        "        os.write(1, b'leaving\\n')\n"
        "        time.sleep(30)\n"
        "slow = Slow()\n"  # torn down with this __main__ module, after the atexit handlers
    ),
}


@pytest.mark.parametrize("hook", list(EXIT_HOOKS))
def test_ctrl_c_as_a_finished_export_leaves_is_one_line_and_status_130(run_dir, tmp_path, hook):
    repo = Path(__file__).resolve().parents[1]
    command = [sys.executable, "-c", EXIT_HOOKS[hook] + AS_FOREGROUND]
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}  # a user's: TensorFlow's logs too
    proc = subprocess.Popen(
        [*command, str(run_dir), "--out", str(tmp_path / "model")],
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(repo)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    said = []
    for line in proc.stdout:  # Ctrl-C where the process says it leaves, if it ever does
        said.append(line)
        if line == "leaving\n":
            proc.send_signal(signal.SIGINT)
    err = proc.communicate(timeout=120)[1]
    assert any(line.startswith(f"wrote {tmp_path / 'model'}") for line in said), (said, err)
    interrupted = "leaving\n" in said
    assert proc.returncode == (130 if interrupted else 0), (proc.returncode, err)
    assert err == (f"{export_cli.INTERRUPTED}\n" if interrupted else ""), err
    assert (tmp_path / "model" / "meta.json").is_file()


def test_a_stdout_that_cannot_be_written_is_named_not_blamed_on_out(tmp_path, capsys, monkeypatch):
    """`>/dev/full` fails at the export's first line of progress: one line naming standard output, not "cannot
    export: No space left on device: OUT", and --out holds no part of an export."""
    from tests.test_cli_output import FULL, FailingStdout

    def export_run(run, out_dir, *args, log=print, **kwargs):  # print: the exporter's own default
        log("encoder   JAX vs TF SavedModel: max abs diff 0")
        raise AssertionError("the export went on past a line it could not print")

    monkeypatch.setattr("export.build.export_run", export_run)
    monkeypatch.setattr(sys, "stdout", FailingStdout(OSError(errno.ENOSPC, FULL)))
    run = saved_tiny_run(tmp_path / "runs", tiny_config())
    code, err = cli([run, "--out", tmp_path / "model"], capsys)
    assert code == 1 and err == (
        f"python -m export: cannot write to standard output ({FULL}); --out holds a whole export or none, never "
        "part of one\n"
    )
    assert not (tmp_path / "model").exists()
