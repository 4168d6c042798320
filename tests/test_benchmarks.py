"""The benchmark's arithmetic and plumbing (no timings: speed figures come from `python -m benchmarks`)."""

import dataclasses
import errno
import json
import os
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from benchmarks import __main__ as bench_main
from benchmarks import flops, report
from benchmarks.sections import op_times
from jaxjepa import cli, get_config, save_run
from jaxjepa.evaluation import report as eval_report
from tests.conftest import random_params


def test_step_flops_match_the_reference_count():
    """REFERENCE.md: encoder forward 43.0 M multiply-adds at batch 256, predictor 1.0 M, backward about
    54.5 M; about 283 MFLOP a step."""
    count = flops.jepa_step_flops(get_config("default"))
    assert count["online_encoder_forward"] / 2 == pytest.approx(43.0e6, rel=0.005)
    assert count["target_encoder_forward"] == count["online_encoder_forward"]
    assert count["predictor_forward"] / 2 == pytest.approx(1.0e6, rel=0.05)
    assert count["backward"] / 2 == pytest.approx(54.5e6, rel=0.005)
    assert count["total"] == pytest.approx(283e6, rel=0.005)


def test_step_flops_scale_with_batch_and_width():
    base = flops.jepa_step_flops(get_config("default"))
    assert flops.jepa_step_flops(get_config("default", batch_size=128))["total"] == pytest.approx(base["total"] / 2)
    wider = flops.jepa_step_flops(get_config("default", encoder_hidden=(512, 128)))
    assert wider["online_encoder_forward"] > base["online_encoder_forward"]


def test_busy_time_counts_overlapping_ops_once():
    from benchmarks.sections import busy_seconds

    # [0, 2] and [1, 3] overlap (3 s busy), [5, 6] is apart, [5.2, 5.5] lies inside it
    assert busy_seconds([(5, 6), (1, 3), (0, 2), (5.2, 5.5)]) == pytest.approx(4.0)
    assert busy_seconds([]) == 0.0


def test_op_times_sums_complete_ops_per_step_and_keeps_their_intervals():
    events = [
        {"name": "dot.1", "ph": "X", "ts": 0, "dur": 4e6},
        {"name": "add", "ph": "X", "ts": 1e6, "dur": 2e6},
        {"name": "dot.1", "ph": "X", "ts": 5e6, "dur": 2e6},
        {"name": "$loop", "ph": "X", "ts": 0, "dur": 9e6},  # the executor's own, not an op
        {"name": "ThunkExecutor::Execute", "ph": "X", "ts": 0, "dur": 9e6},
        {"name": "add", "ph": "B", "ts": 0},  # not a complete event
    ]
    per_op, intervals = op_times(events, steps=2)
    assert per_op.most_common(1) == [("dot.1", pytest.approx(3.0))]  # (4 + 2) s over 2 steps
    assert per_op["add"] == pytest.approx(1.0)
    assert intervals["ops"] == [(0, 4), (1, 3), (5, 7)]
    assert intervals["matmul"] == [(0, 4), (5, 7)]


def fake_results():
    point = lambda steps, probe, wall: {
        "steps": steps,
        "probe_rmse_px": probe,
        "median_probe_px": float(np.median(probe)),
        "single_wall_s": wall,
    }
    ladder = lambda walls: {
        "seeds": [0, 1],
        "points": [point(25, [0.7, 0.6], walls[0]), point(50, [0.6, 0.6], walls[1])],
        "median_time_to_quality_s": walls[0] / 2 + walls[1] / 2,
    }
    return {
        "command": "python -m benchmarks",
        "started_utc": "2026-01-01T00:00:00+00:00",
        "machine": {"cpu_count": 2, "backend": "cpu"},
        "peak": {
            "matmul_size": 2048,
            "peak_gflops": 300.0,
            "first_layer_gflops": 150.0,
            "peak_bf16_gflops": 90.0,
            "first_layer_bf16_gflops": 40.0,
            "cpu_bf16_flags": [],
        },
        "step": {
            "batch_size": 256,
            "steps": 100,
            "step_ms": 2.0,
            "samples_per_s": 128000.0,
            "achieved_gflops": 141.0,
            "fraction_of_peak": 0.47,
            "flops_per_step": {"total": 283e6},
        },
        "seeds": {
            "config": {"steps": 10, "decoder_steps": 5},
            "rows": [
                {
                    "seeds": n,
                    "compile_s": 3.0,
                    "run_s": 1.0 * n,
                    "run_per_seed_s": 1.0,
                    "run_vs_one_seed": float(n),
                    "peak_rss_mib": 700.0,
                }
                for n in (1, 8)
            ],
        },
        "ttq": {"quality_px": 0.64, "default": ladder([9.0, 10.0]), "fast": ladder([3.0, 4.0])},
    }


def test_markdown_reports_each_target_and_whether_it_is_met():
    text = report.markdown(fake_results())
    assert "| train step / matmul peak | 47% | >= 75% (reference ~38%) | **no** |" in text
    bf16 = next(line for line in text.splitlines() if line.startswith("| bfloat16 matmul"))
    assert "bf16 instructions: none" in bf16 and "| 90 / 40 GFLOP/s |" in bf16
    eight = next(line for line in text.splitlines() if line.startswith("| 8 seeds in one vmapped program"))
    assert eight.endswith("| 1.00x | >= 1.5x | **no** |")  # 8 seeds took 8x one seed's run: no gain
    fast_row = next(line for line in text.splitlines() if "`fast` recipe" in line)
    assert "3.5 s" in fast_row and fast_row.endswith("| yes |")


def test_whole_process_and_variant_rows_judge_the_issue_targets():
    results = fake_results()
    results["process"] = {
        "config": {"steps": 2500, "decoder_steps": 2000},
        "jaxjepa_cold_s": 20.0,
        "pairs": [{}, {}, {}],
        "median_jaxjepa_s": 5.5,
        "median_torch_s": 17.6,
        "median_speedup": 3.2,
    }
    results["torch"] = {
        "steps": 100,
        "torch_version": "2.13",
        "torch_threads": 2,
        "pairs": [{}],
        "median_speedup": 2.5,
        "median_jax_over_torch": 0.4,
        "median_speedup_with_compile": 1.0,
        "variants": {
            "warmup_steps": 20,
            "ms_per_step": {"eager": 5.0, "compile+bf16": 3.2},
            "jaxjepa_ms_per_step": 2.0,
            "best": "compile+bf16",
            "speedup_over_best": 1.6,
        },
    }
    lines = report.markdown(results).splitlines()
    row = lambda start: next(line for line in lines if line.startswith(start))
    assert row("| whole `python train.py --seed 0`").endswith("| 5.5 s; cold 20.0 s | <= 6 s | yes |")
    assert row("| whole process against PyTorch").endswith("| 3.20x | >= 3x | yes |")
    assert row("| same recipe, JEPA phase").endswith("| >= 3x | **no** |")  # 2.5x
    assert "eager 5.00 / compile+bf16 3.20; jaxjepa 2.00" in row("| PyTorch variants")
    assert row("| JEPA phase against the best").endswith("(`compile+bf16`) | 1.60x | >= 2x | **no** |")


def test_a_ladder_point_where_a_seed_diverged_is_read_back_from_the_file_the_run_wrote():
    results = fake_results()
    point = results["ttq"]["fast"]["points"][0]
    point["probe_rmse_px"], point["median_probe_px"] = [float("nan"), 0.6], float("nan")  # seed 0 diverged
    stored = json.loads(json.dumps(report.json_safe(results), allow_nan=False))  # as python -m benchmarks writes it
    assert report.shape_problem(stored) is None
    row = next(line for line in report.markdown(stored).splitlines() if line.startswith("| `fast` | 25 |"))
    assert [cell.strip() for cell in row.strip("|").split("|")][2:4] == ["-", "1/2"]


def test_breakdown_lists_each_part_of_the_warm_process():
    results = fake_results()
    warm = {
        "compile_s": 0.5,
        "run_s": 4.0,
        "wall_s": 10.5,
        "probe_rmse_px": [0.6],
        "import_s": 1.25,
        "jepa_run_s": 3.0,
        "decoder_run_s": 0.75,
        "probe_run_s": 0.2,
        "save_s": 0.01,
        "breakdown_s": 4.5,  # the parts timed alone after the run: not the process's own time
    }
    results["single"] = {"default": {"config": {"steps": 2500, "decoder_steps": 2000}, "cold": warm, "warm": warm}}
    text = report.markdown(results)
    for part, value in (
        ("imports", "1.25"),
        ("loading the compiled program", "0.50"),
        ("JEPA phase alone", "3.00"),
        ("decoder phase alone", "0.75"),
        ("saving the run", "0.01"),
        ("the whole process", "6.00"),
    ):
        assert any(line.startswith(f"| {part}") and line.endswith(f"| {value} |") for line in text.splitlines()), part
    assert any(line.startswith("| `default`") and "| 6.0 / 6.0 |" in line for line in text.splitlines())


def test_seeds_table_gives_seeds_per_minute_and_names_the_device():
    results = fake_results()
    results["machine"]["device_kind"] = "cpu"
    on_gpu = {"devices": 4, "device_kind": "NVIDIA H100"}
    results["seeds"]["rows"] = [
        {
            "seeds": 1,
            "compile_s": 3.0,
            "run_s": 2.0,
            "run_per_seed_s": 2.0,
            "run_vs_one_seed": 1.0,
            "peak_rss_mib": 700.0,
            **on_gpu,
        },
        {
            "seeds": 8,
            "compile_s": 3.0,
            "run_s": 6.0,
            "run_per_seed_s": 0.75,
            "run_vs_one_seed": 3.0,
            "peak_rss_mib": 900.0,
            **on_gpu,
        },
    ]
    lines = report.markdown(results).splitlines()
    rows = {line.split(" | ")[0]: line for line in lines if line.startswith(("| 1 |", "| 8 |"))}
    assert "| 30.0 |" in rows["| 1"] and "| 80.0 |" in rows["| 8"]  # 60 * seeds / run_s
    caption = lambda lines: next(line for line in lines if line.startswith("Seeds in one vmapped program"))
    assert caption(lines).endswith("on 4 x NVIDIA H100:")
    for row in results["seeds"]["rows"]:  # a run recorded before rows named their device: the machine's
        del row["devices"], row["device_kind"]
    assert caption(report.markdown(results).splitlines()).endswith("on 1 x cpu:")


def test_seeds_split_over_cpu_devices_is_a_row_of_its_own_and_counts_for_the_target():
    results = fake_results()
    one, eight = ({"seeds": n, "compile_s": 3.0, "peak_rss_mib": 700.0, "devices": 1} for n in (1, 8))
    results["seeds"]["rows"] = [
        {**one, "run_s": 2.0, "run_per_seed_s": 2.0, "run_vs_one_seed": 1.0},
        {**eight, "run_s": 12.0, "run_per_seed_s": 1.5, "run_vs_one_seed": 6.0},  # 1.33x one seed's rate
    ]
    target = lambda text: next(line for line in text.splitlines() if line.startswith("| 8 seeds in one"))
    assert "| 1.33x | >= 1.5x | **no** |" in target(report.markdown(results))
    results["seeds"]["split"] = {**eight, "devices": 2, "run_s": 10.0, "run_per_seed_s": 1.25, "run_vs_one_seed": 5.0}
    text = report.markdown(results)
    assert "| 1.33x; 1.60x over 2 CPU devices | >= 1.5x | yes |" in target(text)
    (row,) = [line for line in text.splitlines() if line.startswith("| 8 over 2 CPU devices |")]
    assert "| 48.0 | 5.00x |" in row  # 60 * 8 / 10 s; against one seed's run
    assert "XLA_FLAGS=--xla_force_host_platform_device_count=2 python train.py --seeds 0-7" in text


def test_readme_block_is_replaced_and_the_rest_kept(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(f"# title\nbefore\n{report.BEGIN}\nold figures\n{report.END}\nafter\n")
    bench = tmp_path / "bench.json"
    bench.write_text(json.dumps(fake_results()))
    assert report.main(["--bench", str(bench), "--readme", str(readme)]) == 0
    text = readme.read_text()
    assert text.startswith("# title\nbefore\n") and text.endswith(f"{report.END}\nafter\n")
    assert "old figures" not in text and "141 GFLOP/s" in text


def test_report_keeps_the_readmes_own_line_endings_and_refuses_a_pipe(tmp_path, capsys):
    readme, bench = tmp_path / "README.md", tmp_path / "bench.json"
    readme.write_bytes(f"title\r\n{report.BEGIN}\r\nold\r\n{report.END}\r\ntail\r\n".encode())
    bench.write_text(json.dumps(fake_results()))
    assert report.main(["--bench", str(bench), "--readme", str(readme)]) == 0
    text = readme.read_bytes()
    assert text.startswith(b"title\r\n") and text.endswith(f"{report.END}\r\ntail\r\n".encode())
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)  # read, it would block for ever
    code, err = refusal(capsys, lambda: report.main(["--bench", str(pipe), "--readme", str(readme)]))
    assert code == 2 and "not a regular file" in err


def test_torch_baseline_and_the_benchmark_child_refuse_bad_input_in_one_line(capsys):
    from benchmarks import child, torch_baseline

    for argv, says in [
        (["--world", "w.npz", "--config", "notjson"], "--config: Expecting value"),
        (["--world", "w.npz", "--config", "{}"], "--config: the recipe lacks frame_size"),
        (["--world", "w.npz", "--config", "{}", "--threads", "0"], "--threads must be 1 or more"),
        (["--bogus"], "the following arguments are required"),
    ]:
        assert says in refusal(capsys, lambda argv=argv: torch_baseline.main(argv))[1]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sys, "argv", ["child", "--help"])
        assert child.main() == 2 and "takes one JSON task" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("curves", "probe_px", "says"),
    [
        ({"loss": [[1.0, np.nan, np.nan]], "decoder_loss": [[1.0]]}, 2.0, "the JEPA loss became NaN/inf at step 1"),
        ({"loss": [[1.0, 0.5]], "decoder_loss": [[1.0, np.inf]]}, 2.0, "the decoder loss became NaN/inf at step 1"),
        ({"loss": [[1.0, 0.5]], "decoder_loss": np.zeros((1, 0))}, np.nan, "the probe's error is NaN/inf"),
    ],
)
def test_a_benchmark_child_whose_training_diverged_says_so_in_one_line(curves, probe_px, says, monkeypatch, capsys):
    from benchmarks import child
    from jaxjepa import runner

    diverged = types.SimpleNamespace(
        result=types.SimpleNamespace(metrics={k: np.asarray(v) for k, v in curves.items()}),
        probe={"probe_rmse": np.asarray([probe_px])},
        compile_s=1.0,
        run_s=1.0,
    )
    monkeypatch.setattr(runner, "train_seeds", lambda config, seeds: diverged)
    task = {"task": "train", "config": get_config("default").to_dict(), "seeds": [0], "cache": None}
    monkeypatch.setattr(sys, "argv", ["child", json.dumps(task)])
    capsys.readouterr()
    assert child.main() == 1
    out, err = capsys.readouterr()
    assert out == "" and err == f"python -m benchmarks.child: training diverged: {says}; no figures of a diverged run\n"


def test_a_failed_process_is_named_by_its_own_last_line_or_its_exit_status(monkeypatch):
    from benchmarks import sections

    answers = iter(
        [
            subprocess.CompletedProcess([], 1, "", "Traceback ...\npython -m benchmarks.child: training diverged\n"),
            subprocess.CompletedProcess([], -9, "", ""),  # killed: nothing said
            subprocess.CompletedProcess([], 1, "", "train.py: loss became NaN/inf at step 3\n"),
        ]
    )
    monkeypatch.setattr(sections.subprocess, "run", lambda *args, **kwargs: next(answers))
    for call, says in [
        (lambda: sections.child({}), "benchmark child failed: training diverged"),
        (lambda: sections.child({}), "benchmark child failed: exit status -9, nothing on stderr"),
        (
            lambda: sections.timed_process([sys.executable, "train.py", "--seed", "0"]),
            "python train.py failed: train.py: loss became NaN/inf at step 3",
        ),
    ]:
        with pytest.raises(RuntimeError) as failed:
            call()
        assert str(failed.value) == says


def test_readme_without_markers_is_a_one_line_error(tmp_path, capsys):
    readme = tmp_path / "README.md"
    readme.write_text("no markers here\n")
    bench = tmp_path / "bench.json"
    bench.write_text(json.dumps(fake_results()))
    with pytest.raises(SystemExit) as exit_info:
        report.main(["--bench", str(bench), "--readme", str(readme)])
    assert exit_info.value.code == 2  # --readme names a file that is not one to rewrite: the command line's
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
    assert readme.read_text() == "no markers here\n"
    code, err = refusal(capsys, lambda: report.main(["--bench", str(bench), "--readme", str(tmp_path / "NO.md")]))
    assert code == 2 and "NO.md" in err


def test_report_names_the_flag_of_a_file_it_cannot_use(tmp_path, capsys):
    """Each refusal of --readme or --bench names the flag, as the other flags' refusals do."""
    bench, folder, latin1, unmarked = (tmp_path / name for name in ("bench.json", "folder", "latin1.md", "plain.md"))
    bench.write_text(json.dumps(fake_results()))
    folder.mkdir()
    latin1.write_bytes(f"caf\xe9\n{report.BEGIN}\n{report.END}\n".encode("latin-1"))
    unmarked.write_text("no markers here\n")
    for bench_path, readme, says in (
        (bench, folder, f"python -m benchmarks.report: cannot rewrite --readme {folder}: Is a directory"),
        (bench, latin1, f"python -m benchmarks.report: cannot rewrite --readme {latin1}: it is not UTF-8 text"),
        (bench, unmarked, f"python -m benchmarks.report: --readme {unmarked}: no generated block between"),
        (folder, unmarked, f"python -m benchmarks.report: cannot read --bench {folder}: Is a directory"),
        (latin1, unmarked, f"python -m benchmarks.report: cannot read --bench {latin1}: it is not UTF-8 text"),
    ):
        argv = ["--bench", str(bench_path), "--readme", str(readme)]
        code, err = refusal(capsys, lambda argv=argv: report.main(argv))
        assert code == 2 and err.startswith(says), err
    assert unmarked.read_text() == "no markers here\n"


def test_a_readme_block_whose_write_fails_under_way_is_the_works_failure(tmp_path):
    assert eval_report.block_refusal_status(eval_report.MissingMarkers("no markers"), tmp_path) == 2
    readme = tmp_path / "README.md"
    readme.write_text("fit to rewrite\n")
    full_disk = OSError(errno.ENOSPC, "No space left on device", str(readme))
    assert eval_report.block_refusal_status(full_disk, readme) == 1
    assert eval_report.block_refusal_status(full_disk, tmp_path / "missing.md") == 2


@pytest.mark.parametrize(
    "argv",
    [
        ["--sections", "nope"],
        ["--seed-counts", "1,x"],
        ["--seed-counts", "0"],
        ["--seed-counts", "1,100000"],
        ["--seed-counts", "2,1,1"],  # a count twice
        ["--seed-counts", ""],  # not the defaults, silently
        ["--out", ""],
        ["--sections", "peak", "--seed-counts", "1"],  # counts of a section that does not run
    ],
)
def test_bad_flags_are_one_line_errors(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        bench_main.main(argv)
    assert exit_info.value.code == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_figures_are_strict_json_and_a_missing_one_shows_as_missing():
    figures = {"a": np.float64("inf"), "b": [float("nan"), np.int64(3)], "c": (1.5, np.float32(0.25))}
    assert report.json_safe(figures) == {"a": None, "b": [None, 3], "c": [1.5, 0.25]}
    json.dumps(report.json_safe(figures), allow_nan=False)
    assert report._num(float("nan"), "{:.1f} ms") == report._num(None, "{:.1f} ms") == "-"


def test_torch_baseline_trains_the_same_recipe():
    torch_baseline = pytest.importorskip("benchmarks.torch_baseline")
    torch = pytest.importorskip("torch")
    config = get_config("default", steps=60, batch_size=64)
    frames = np.random.default_rng(0).random((8, 12, 256), dtype=np.float32)
    # One thread: this checks the recipe, not its speed, and torch's spinning worker threads crawl when
    # another process shares the cores.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        first = torch_baseline.train_jepa(frames, config.replace(steps=1))
        trained = torch_baseline.train_jepa(frames, config)
    finally:
        torch.set_num_threads(threads)
    assert np.isfinite(trained["final_loss"]) and trained["seconds"] > 0
    assert trained["final_loss"] < first["final_loss"]  # the variance hinge alone must fall fast


def test_update_replaces_the_sections_run_and_keeps_the_others(tmp_path, monkeypatch, capsys):
    from benchmarks import sections

    out = tmp_path / "bench.json"
    here = {"cpu_model": "this CPU", "cpu_count": 2, "jax": "0.10.2", "backend": "cpu", "device_kind": "cpu"}
    earlier = {"command": "python -m benchmarks --quick", "quick": True, "started_utc": "then", "torch": {"kept": 1}}
    earlier_sizes = {**dataclasses.asdict(sections.QUICK), "seed_counts": [1, 3]}  # its seeds table's counts
    out.write_text(json.dumps({**earlier, "machine": here, "peak": {"stale": True}, "sizes": earlier_sizes}))
    fresh = {"matmul_size": 64, "peak_gflops": 9.0, "first_layer_gflops": 8.0}
    monkeypatch.setattr(sections, "matmul_peak", lambda sizes: fresh)
    monkeypatch.setattr(sections, "machine", lambda: {**here, "load_average_at_start": (1.0, 1.0, 1.0)})
    monkeypatch.setattr(report, "markdown", lambda results: "table")
    assert bench_main.main(["--quick", "--sections", "peak", "--out", str(out), "--update"]) == 0
    merged = json.loads(out.read_text())
    assert merged["peak"] == fresh and merged["torch"] == {"kept": 1} and merged["started_utc"] == "then"
    assert merged["command"].startswith("python -m benchmarks --quick && ") and "peak" in merged["measured_utc"]
    assert merged["machine"]["load_average_at_update"] == [1.0, 1.0, 1.0]
    # the seeds section was not run again, so its counts are kept
    assert merged["sizes"] == json.loads(json.dumps(earlier_sizes))
    out.write_text(json.dumps({**earlier, "machine": {**here, "cpu_model": "another CPU"}}))
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        bench_main.main(["--quick", "--sections", "peak", "--out", str(out), "--update"])
    assert exit_info.value.code == 2 and "another machine" in capsys.readouterr().err
    out.write_text("[]")
    with pytest.raises(SystemExit) as exit_info:
        bench_main.main(["--quick", "--sections", "peak", "--out", str(out), "--update"])
    assert exit_info.value.code == 2 and len(capsys.readouterr().err.strip().splitlines()) == 1


def test_a_run_that_would_drop_sections_of_its_out_is_refused_without_update(tmp_path, monkeypatch, capsys):
    no_section_may_run(monkeypatch)
    out = tmp_path / "bench.json"
    out.write_text(json.dumps({**fake_results(), "quick": True}))
    before = out.read_bytes()
    code, err = refusal(capsys, lambda: bench_main.main(["--quick", "--sections", "peak", "--out", str(out)]))
    assert code == 2 and f"{out} holds the step, seeds, ttq figures, which this run does not measure" in err
    assert "pass --update" in err and out.read_bytes() == before


def test_an_out_holding_something_else_is_refused_unless_forced(tmp_path, monkeypatch, capsys):
    """A file that is not a benchmark file, or one of the other kind (full sizes against --quick), is never
    replaced unasked; --force replaces it."""
    from benchmarks import sections

    no_section_may_run(monkeypatch)
    notes, full = tmp_path / "notes.md", tmp_path / "bench.json"
    notes.write_text("# my notes\n")
    full.write_text(json.dumps(fake_results()))
    before = full.read_bytes()
    code, err = refusal(capsys, lambda: bench_main.main(["--quick", "--sections", "peak", "--out", str(notes)]))
    assert code == 2 and "is not a benchmark file" in err and "--force" in err and notes.read_text() == "# my notes\n"
    everything = ["--quick", "--sections", "peak,step,seeds,ttq", "--out", str(full)]
    code, err = refusal(capsys, lambda: bench_main.main(everything))
    assert code == 2 and "holds a full-size run's figures" in err and "--force" in err and full.read_bytes() == before
    monkeypatch.setattr(sections, "matmul_peak", lambda sizes: {"matmul_size": 64, "peak_gflops": 9.0})
    monkeypatch.setattr(sections, "machine", lambda: {"cpu_model": "this CPU", "backend": "cpu"})
    monkeypatch.setattr(report, "markdown", lambda results: "table")
    assert bench_main.main(["--quick", "--sections", "peak", "--out", str(notes), "--force"]) == 0
    assert json.loads(notes.read_text())["peak"]["peak_gflops"] == 9.0


def test_ctrl_c_in_a_benchmark_is_one_line_and_status_130(tmp_path, monkeypatch, capsys):
    """In a section of python -m benchmarks, and in planning_batches' measure: one line, exit 130, nothing written.
    (cli.interrupted leaves by os._exit, which here raises SystemExit instead.)"""
    from benchmarks import planning_batches, sections

    def ctrl_c(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli.signal, "signal", lambda *args: None)
    monkeypatch.setattr(cli.os, "_exit", lambda code: (_ for _ in ()).throw(SystemExit(code)))
    monkeypatch.setattr(sections, "matmul_peak", ctrl_c)
    monkeypatch.setattr(sections, "machine", lambda: {"cpu_model": "this CPU", "backend": "cpu"})
    out = tmp_path / "bench.json"
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        bench_main.main(["--quick", "--sections", "peak", "--out", str(out)])
    err = capsys.readouterr().err.strip().splitlines()  # the section's progress line, then why it stopped
    assert exit_info.value.code == 130 and err[1:] == ["python -m benchmarks: interrupted in the peak section; "
                                                       "nothing was written"] and not out.exists()  # fmt: skip
    run = types.SimpleNamespace(params={}, config=get_config("steer"))
    monkeypatch.setattr(planning_batches.api, "load_run", lambda path: run)
    monkeypatch.setattr(planning_batches.planning, "learned_model", lambda params, config: None)
    monkeypatch.setattr(planning_batches, "measure", ctrl_c)
    code, err = refusal(capsys, lambda: planning_batches.main(["RUN"]))
    assert code == 130 and "interrupted" in err


class CtrlCAtWrite:
    """A standard output on which Ctrl-C lands at the `nth` write (from 1; print writes a line's text, then "\\n")."""

    def __init__(self, nth: int) -> None:
        self.written, self.nth = [], nth

    def write(self, text: str) -> int:
        if len(self.written) + 1 == self.nth:
            raise KeyboardInterrupt
        self.written.append(text)
        return len(text)

    def flush(self) -> None:
        pass


@pytest.mark.parametrize("nth", [1, 3], ids=["first-line", "table-header"])
def test_ctrl_c_while_planning_batches_prints_is_one_line_and_status_130(nth, monkeypatch, capsys):
    """Ctrl-C after the measurement, while the table is printed: one line and status 130, as within it."""
    from benchmarks import planning_batches

    monkeypatch.setattr(cli.signal, "signal", lambda *args: None)
    monkeypatch.setattr(cli.os, "_exit", lambda code: (_ for _ in ()).throw(SystemExit(code)))
    run = types.SimpleNamespace(params={}, config=get_config("steer"))
    monkeypatch.setattr(planning_batches.api, "load_run", lambda path: run)
    monkeypatch.setattr(planning_batches.planning, "learned_model", lambda params, config: None)
    monkeypatch.setattr(planning_batches, "measure", lambda *args: (0.01, {16: [0.5], None: [0.25]}))
    stdout = CtrlCAtWrite(nth)
    monkeypatch.setattr(sys, "stdout", stdout)
    try:
        planning_batches.main(["RUN", "--widths", "16,all"])
        code = 0
    except SystemExit as exit_info:
        code = exit_info.code
    except KeyboardInterrupt:  # out of main, Python would print its traceback
        code = "KeyboardInterrupt"
    err = capsys.readouterr().err.strip()
    assert code == 130 and err == "python -m benchmarks.planning_batches: interrupted; nothing was written", err
    assert len(stdout.written) == nth - 1


@pytest.mark.parametrize("moment", ["after the last section", "while the table renders"])
def test_ctrl_c_between_a_section_and_the_write_is_one_line_and_keeps_out(moment, tmp_path, monkeypatch, capsys):
    from benchmarks import sections

    def ctrl_c(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli.signal, "signal", lambda *args: None)
    monkeypatch.setattr(cli.os, "_exit", lambda code: (_ for _ in ()).throw(SystemExit(code)))
    monkeypatch.setattr(sections, "matmul_peak", lambda sizes: {"peak_gflops": 9.0})
    monkeypatch.setattr(sections, "machine", lambda: {"cpu_model": "this CPU", "backend": "cpu"})
    if moment == "after the last section":  # the run's start is stamped; the section's stamp is where Ctrl-C lands
        stamps = iter(["2026-01-01T00:00:00+00:00"])
        monkeypatch.setattr(bench_main, "utc_now", lambda: next(stamps, None) or ctrl_c())
    else:
        monkeypatch.setattr(report, "markdown", ctrl_c)
    out = tmp_path / "bench.json"
    out.write_text("kept")
    capsys.readouterr()
    try:
        bench_main.main(["--quick", "--sections", "peak", "--out", str(out), "--force"])
        code = 0
    except SystemExit as exit_info:
        code = exit_info.code
    except KeyboardInterrupt:  # out of main, Python would print its traceback
        code = "KeyboardInterrupt"
    said = capsys.readouterr().err.strip().splitlines()[-1]
    assert code == 130 and said.startswith("python -m benchmarks: interrupted") and out.read_text() == "kept"


def test_a_benchmark_file_of_another_machine_is_not_replaced_unasked(tmp_path, monkeypatch, capsys):
    from benchmarks import sections

    no_section_may_run(monkeypatch)
    out = tmp_path / "bench.json"
    out.write_text(json.dumps(fake_results()))
    before = out.read_bytes()
    monkeypatch.setattr(sections, "machine", lambda: {"cpu_model": "another CPU", "backend": "cpu"})
    code, err = refusal(capsys, lambda: bench_main.main(["--sections", "peak,step,seeds,ttq", "--out", str(out)]))
    assert code == 2 and "figures of another machine or jax version" in err and out.read_bytes() == before
    assert bench_main.parse_seed_counts("8,1,2") == (1, 2, 8)  # the table's ratios are to its first row
    for text in ("1_0", "1,\u0663", "2.0"):  # int() reads the first two
        code, err = refusal(capsys, lambda text=text: bench_main.parse_seed_counts(text))
        assert code == 2 and err == f"python -m benchmarks: --seed-counts wants integers like 1,2,4,8, got {text!r}"


def test_a_failed_benchmark_child_is_one_line_naming_what_ran(tmp_path, monkeypatch, capsys):
    from benchmarks import sections

    monkeypatch.setattr(sections, "matmul_peak", lambda sizes: {"peak_gflops": 9.0})
    monkeypatch.setattr(
        sections, "train_step", lambda *args: (_ for _ in ()).throw(RuntimeError("child: out of memory"))
    )
    monkeypatch.setattr(sections, "machine", lambda: {"cpu_model": "this CPU"})
    out = tmp_path / "bench.json"
    with pytest.raises(SystemExit) as exit_info:
        bench_main.main(["--quick", "--sections", "peak,step", "--out", str(out)])
    err = capsys.readouterr().err.strip().splitlines()  # the sections' progress lines, then why it stopped
    assert exit_info.value.code == 1 and "Traceback" not in "\n".join(err)
    assert err[-1] == (
        "python -m benchmarks: the step section failed (child: out of memory); nothing written (measured before "
        "it: peak)"
    )
    assert not out.exists()


def test_gpu_block_is_rewritten_apart_from_the_cpu_block(tmp_path):
    gpu_begin, gpu_end = report.markers("gpu")
    readme = tmp_path / "README.md"
    readme.write_text(f"{report.BEGIN}\ncpu figures\n{report.END}\n{gpu_begin}\nold\n{gpu_end}\n")
    results = fake_results()
    results = {k: results[k] for k in ("command", "started_utc", "machine", "seeds")}  # a seeds-only run, as on a GPU,
    results["machine"]["backend"] = "gpu"
    results["seeds"]["rows"] = [row for row in results["seeds"]["rows"] if row["seeds"] != 8]  # without 8 seeds
    bench = tmp_path / "bench-gpu.json"
    bench.write_text(json.dumps(results))
    assert report.main(["--bench", str(bench), "--readme", str(readme), "--block", "gpu"]) == 0
    text = readme.read_text()
    assert "cpu figures" in text and "old" not in text and "Figures: `bench-gpu.json`" in text  # beside the README
    assert "| figure | measured |" not in text  # no headline rows: no empty table
    assert "| seeds | compile, s |" in text


def test_two_rooms_seconds_refuses_bad_input_in_one_line(tmp_path, capsys):
    from benchmarks import two_rooms_seconds
    from jaxjepa.evaluation import two_rooms as suite

    rooms = get_config("two_rooms_ebjepa")
    run = save_run(tmp_path / "runs" / "seed0", rooms, random_params(rooms), {"final": {"seed": 0}})
    renamed = save_run(tmp_path / "copy" / "seed3", rooms, random_params(rooms), {"final": {"seed": 0}})
    for argv, code, says in (
        ([str(tmp_path / "missing")], 2, "missing"),
        ([str(tmp_path), "--episodes", "0"], 2, "--episodes"),
        ([str(tmp_path), "--episodes", "1000000000"], 2, "must be 1 to 65536"),
        ([str(tmp_path), "--episodes", "1_000"], 2, "--episodes: expected a whole number, got '1_000'"),
        ([str(tmp_path), "--samples", "\u0663"], 2, "--samples: invalid int value"),  # int() reads 3
        ([str(renamed)], 2, "its metrics.json says it trained seed 0, not seed 3"),
        ([str(run), str(run)], 2, "seed 0 is given twice"),
        ([str(tmp_path), "--horizon", "0"], 2, "plan_horizon must be"),  # refused before any run is read
        ([str(tmp_path), "--noise", "inf"], 2, "plan_noise must be a finite number"),
        ([str(run), "--samples", "1", "--planners", "mppi"], 2, "the plan never changes"),  # CEM's elites follow
        ([str(run), "--horizon", "2", "--planners", "search"], 2, "shorter than the 4 actions applied"),
        ([str(run), "--horizon", "2", "--planners", "ceiling_search"], 2, "shorter than the 4 actions applied"),
    ):
        with pytest.raises(SystemExit) as exit_info:
            two_rooms_seconds.main(argv)
        assert exit_info.value.code == code
        out, err = capsys.readouterr()
        assert len(err.strip().splitlines()) == 1 and says in err and out == "", (out, err)  # no table before it
    programs = suite.episode_programs(rooms, 1)
    assert two_rooms_seconds.PLANNER_OF.keys() == programs.keys()  # each program's refusals are asked before it runs


def test_planning_batches_refuses_bad_input_in_one_line(tmp_path, capsys):
    from benchmarks import planning_batches

    assert planning_batches.parse_widths("16, 64,all") == [16, 64, None]
    assert planning_batches.parse_widths("300,all,16,300,99999999999999999999", episodes=256) == [None, 16]
    for text in ("1_6", "\u0663", "16.0"):  # int() reads the first two
        with pytest.raises(ValueError):
            planning_batches.parse_widths(text)
    bounce = get_config("default")
    no_actions = save_run(tmp_path / "bounce" / "seed0", bounce, random_params(bounce), {"final": {"seed": 0}})
    for argv, code in (
        ([str(tmp_path / "missing")], 2),
        ([str(no_actions)], 2),  # a run of the wrong kind is the command line's, as a missing one is
        ([str(tmp_path), "--widths", "0,16"], 2),
        ([str(tmp_path), "--widths", "x"], 2),
        ([str(tmp_path), "--repeats", "0"], 2),
        ([str(tmp_path), "--repeats", "1_0"], 2),
    ):
        with pytest.raises(SystemExit) as exit_info:
            planning_batches.main(argv)
        assert exit_info.value.code == code
        assert len(capsys.readouterr().err.strip().splitlines()) == 1


def refusal(capsys, call) -> tuple[int, str]:
    """The exit status and the one line on stderr of a call that must refuse its input."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        call()
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return exit_info.value.code, err


def no_section_may_run(monkeypatch):
    from benchmarks import sections

    def ran(sizes):
        raise AssertionError("a section ran before --out was checked")

    monkeypatch.setattr(sections, "matmul_peak", ran)


def test_out_that_cannot_be_written_is_refused_before_any_section_runs(tmp_path, monkeypatch, capsys):
    no_section_may_run(monkeypatch)
    (tmp_path / "a-file").write_text("")
    (tmp_path / "a-folder").mkdir()
    run = lambda out: lambda: bench_main.main(["--quick", "--sections", "peak", "--out", str(out)])
    below_a_file = tmp_path / "a-file" / "b.json"
    assert refusal(capsys, run(below_a_file)) == (
        2,
        f"python -m benchmarks: cannot write --out {below_a_file}: {tmp_path / 'a-file'} is a file, not a folder",
    )
    assert refusal(capsys, run(tmp_path / "a-folder")) == (
        2,
        f"python -m benchmarks: cannot write --out {tmp_path / 'a-folder'}: it is a directory; name a file",
    )

    def read_only(*args, **kwargs):  # what a read-only folder answers (root writes through a chmod)
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(cli.tempfile, "mkstemp", read_only)
    new = tmp_path / "new"
    assert refusal(capsys, run(new / "b.json")) == (
        2,
        f"python -m benchmarks: cannot write --out {new / 'b.json'}: {new}: Permission denied",
    )


def test_figures_are_written_through_a_temp_file_of_this_process(tmp_path, monkeypatch, capsys):
    from benchmarks import sections

    out = tmp_path / "bench.json"
    (tmp_path / "bench.json.tmp").write_text("another run's")  # a fixed temp name would be taken from it
    here = {"cpu_model": "this CPU", "cpu_count": 2, "jax": "0.10.2", "backend": "cpu", "device_kind": "cpu"}
    monkeypatch.setattr(sections, "matmul_peak", lambda sizes: {"peak_gflops": 9.0})
    monkeypatch.setattr(sections, "machine", lambda: here)
    monkeypatch.setattr(report, "markdown", lambda results: "table")
    assert bench_main.main(["--quick", "--sections", "peak", "--out", str(out)]) == 0
    assert json.loads(out.read_text())["peak"] == {"peak_gflops": 9.0}
    assert (tmp_path / "bench.json.tmp").read_text() == "another run's"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bench.json", "bench.json.tmp"]  # no temp file left


@pytest.mark.parametrize(
    "content, says",
    [
        ({"quick": True, "machine": []}, "has no 'command' (str), which every benchmark file has"),
        (
            {"command": "c", "started_utc": "t", "machine": []},
            "has no 'machine' (dict), which every benchmark file has",
        ),
        ({"command": "c", "started_utc": "t", "machine": {}}, "names no machine backend ('machine': {'backend': ...})"),
        (
            {"command": "c", "started_utc": "t", "machine": {"backend": "cpu"}, "measured_utc": []},
            "has a 'measured_utc' that is not a dict",
        ),
        (
            {"command": "c", "started_utc": "t", "machine": {"backend": "cpu"}, "peak": 1},
            "has section(s) peak that are not objects",
        ),
        (
            {"command": "c", "started_utc": "t", "machine": {"backend": "cpu"}, "peak": {"matmul_size": 64}},
            "has a section the table cannot read (KeyError: 'peak_gflops')",
        ),
    ],
)
def test_update_refuses_a_file_of_the_wrong_shape_in_one_line(content, says, tmp_path, monkeypatch, capsys):
    no_section_may_run(monkeypatch)
    out = tmp_path / "bench.json"
    out.write_text(json.dumps(content))
    argv = ["--quick", "--sections", "peak", "--out", str(out), "--update"]
    assert refusal(capsys, lambda: bench_main.main(argv)) == (
        2,
        f"python -m benchmarks: --update: {out} {says}; write a new file instead",
    )


def readme_with_both_blocks(tmp_path):
    gpu_begin, gpu_end = report.markers("gpu")
    readme = tmp_path / "README.md"
    readme.write_text(f"{report.BEGIN}\ncpu figures\n{report.END}\n{gpu_begin}\ngpu figures\n{gpu_end}\n")
    return readme


@pytest.mark.parametrize(
    "content, says",
    [
        ({}, "has no 'command' (str), which every benchmark file has"),
        ([], "holds a JSON list, not a benchmark file's object"),
        (
            {"command": "c", "started_utc": "t", "machine": {"backend": "cpu"}},
            "has no figures (none of the sections peak, step, single, process, seeds, torch, ttq)",
        ),
        ({**fake_results(), "seeds": {"rows": []}}, "has a section the table cannot read (KeyError: 'config')"),
        ({**fake_results(), "peak": {}}, "has empty section(s) peak, which the table would show as nothing measured"),
    ],
)
def test_report_refuses_a_file_without_the_blocks_figures(content, says, tmp_path, capsys):
    readme = readme_with_both_blocks(tmp_path)
    before = readme.read_text()
    bench = tmp_path / "bench.json"
    bench.write_text(json.dumps(content))
    assert refusal(capsys, lambda: report.main(["--bench", str(bench), "--readme", str(readme)])) == (
        2,
        f"python -m benchmarks.report: {bench} {says}; {readme} left as it was",
    )
    assert readme.read_text() == before


@pytest.mark.parametrize(
    "backend, quick, block, says",
    [
        ("gpu", False, "performance", "holds gpu figures, and the performance block shows cpu ones (--block gpu)"),
        ("cpu", False, "gpu", "holds cpu figures, and the gpu block shows gpu ones (--block performance)"),
        (
            "cpu",
            True,
            "performance",
            "is a --quick run (small sizes that check the benchmark, not the machine's figures)",
        ),
    ],
)
def test_report_refuses_figures_of_another_machine_or_of_quick_sizes(backend, quick, block, says, tmp_path, capsys):
    readme = readme_with_both_blocks(tmp_path)
    before = readme.read_text()
    results = fake_results()
    results["machine"]["backend"], results["quick"] = backend, quick
    bench = tmp_path / "bench.json"
    bench.write_text(json.dumps(results))
    argv = ["--bench", str(bench), "--readme", str(readme), "--block", block]
    assert refusal(capsys, lambda: report.main(argv)) == (
        2,
        f"python -m benchmarks.report: {bench} {says}; {readme} left as it was",
    )
    assert readme.read_text() == before


def export_folder(folder):
    """The two files `python -m export.measure` reads from an export folder, with made-up figures."""
    folder.mkdir()
    meta = {"weights_dtype": "float32", "parity_jax_vs_tf_max_abs": {"encoder": 1e-6}}
    (folder / "meta.json").write_text(json.dumps(meta))
    arrays = {"obs": np.zeros((2, 4)), "latent": np.zeros((2, 3)), "predicted": np.zeros((2, 3))}
    np.savez(folder / "reference_outputs.npz", **arrays)
    return folder


def no_browser_may_start(monkeypatch):
    from export import browser

    def started(*args, **kwargs):
        raise AssertionError("the browser started before the input was checked")

    monkeypatch.setattr(browser, "serve", started)
    monkeypatch.setattr(browser, "chromium", started)


def test_measure_refuses_a_damaged_export_before_the_browser_starts(tmp_path, monkeypatch, capsys):
    from export import measure

    no_browser_may_start(monkeypatch)
    model = export_folder(tmp_path / "model")
    (model / "meta.json").write_text('{"weights_dtype": "flo')  # truncated
    argv = ["--model", str(model), "--out", str(tmp_path / "web.json"), "--no-readme"]
    code, err = refusal(capsys, lambda: measure.main(argv))
    assert code == 2 and err.startswith(f"python -m export.measure: cannot measure: {model / 'meta.json'} is not ")
    assert err.endswith(f"; make it again: python -m export RUN --out {model}")
    (model / "meta.json").write_text("{}")
    assert refusal(capsys, lambda: measure.main(argv)) == (
        2,
        f"python -m export.measure: cannot measure: {model / 'meta.json'} lacks weights_dtype or the parity figures; "
        f"make it again: python -m export RUN --out {model}",
    )


# benchmarks.report with Ctrl-C pressed while it renders: one line, and the README as it was.
REPORT_INTERRUPTED = """
import os, signal, sys
from benchmarks import report
def pressed(*args):
    os.kill(os.getpid(), signal.SIGINT)
    return "a block that must not land"
report.markdown = pressed
report.main(sys.argv[1:])
"""


def test_ctrl_c_while_the_report_renders_is_one_line_and_keeps_the_readme(tmp_path):
    readme = readme_with_both_blocks(tmp_path)
    before = readme.read_text()
    bench = tmp_path / "bench.json"
    bench.write_text(json.dumps(fake_results()))
    done = subprocess.run(
        [sys.executable, "-c", REPORT_INTERRUPTED, "--bench", str(bench), "--readme", str(readme)],
        cwd=Path(__file__).resolve().parents[1],
        capture_output=True,
        text=True,
        timeout=60,
    )
    says = "python -m benchmarks.report: interrupted; the README is whole, as it was or rewritten\n"
    assert (done.returncode, done.stderr) == (130, says)
    assert readme.read_text() == before


# export.measure with its measure pressed by Ctrl-C: the minutes in the browser end in one line, and nothing written.
MEASURE_INTERRUPTED = """
import sys
from export import measure
def pressed(args):
    raise KeyboardInterrupt
measure.measure = pressed
measure.main(sys.argv[1:])
"""


def test_ctrl_c_while_measuring_is_one_line_and_writes_nothing(tmp_path):
    model, out = export_folder(tmp_path / "model"), tmp_path / "web.json"
    done = subprocess.run(
        [sys.executable, "-c", MEASURE_INTERRUPTED, "--model", str(model), "--out", str(out), "--no-readme"],
        cwd=Path(__file__).resolve().parents[1],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (done.returncode, done.stderr) == (130, "python -m export.measure: interrupted; nothing was written\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


def test_measure_refuses_an_out_it_cannot_write_before_the_browser_starts(tmp_path, monkeypatch, capsys):
    from export import measure

    no_browser_may_start(monkeypatch)
    model = export_folder(tmp_path / "model")
    argv = ["--model", str(model), "--out", str(model), "--no-readme"]
    assert refusal(capsys, lambda: measure.main(argv)) == (
        2,
        f"python -m export.measure: cannot write --out {model}: it is a directory; name a file",
    )


def test_measure_writes_its_figures_through_a_temp_file_beside_them(tmp_path, monkeypatch, capsys):
    import contextlib
    import os

    from export import browser, measure

    model = export_folder(tmp_path / "model")
    figures = {"jax_vs_tfjs_max_abs": {"latent": 1e-6}, "step_ms": 1.0, "dream_ms": 2.0}
    measured = {
        "folder": str(model),
        "weights_dtype": "float32",
        "model_download_bytes": 1000,
        "jax_vs_tf_max_abs": {"encoder": 1e-6},
        "default_backend": "cpu",
        "backends": {"cpu": figures},
    }
    monkeypatch.setattr(browser, "missing_browser_reason", lambda: None)
    monkeypatch.setattr(browser, "serve", lambda mounts: contextlib.nullcontext("http://fake/"))
    monkeypatch.setattr(browser, "chromium", lambda: contextlib.nullcontext(type("Chromium", (), {"version": "1"})))
    monkeypatch.setattr(measure, "measure_folder", lambda *args: measured)
    replaced = []
    real_replace = os.replace
    monkeypatch.setattr(measure.os, "replace", lambda src, dst: (replaced.append((src, dst)), real_replace(src, dst)))
    out = tmp_path / "results" / "web.json"
    measure.main(["--model", str(model), "--out", str(out), "--no-readme"])
    assert json.loads(out.read_text())["models"] == [measured]
    assert replaced == [(out.with_name(f".web.json.{os.getpid()}.tmp"), out)]
    assert [p.name for p in out.parent.iterdir()] == ["web.json"]


def test_measure_report_only_writes_the_block_again_from_the_stored_figures(tmp_path, monkeypatch, capsys):
    """README's browser block is what results/web.json renders, and its first line names the command that
    measured those folders; --report-only rewrites it from the JSON alone, without a browser."""
    from export import measure

    no_browser_may_start(monkeypatch)
    stored = json.loads((measure.REPO / "results" / "web.json").read_text())
    block = measure.readme_block(stored)
    assert block in (measure.REPO / "README.md").read_text()
    folders = [model["folder"] for model in stored["models"]]
    assert f"Made by `python -m export.measure --also {' '.join(folders[1:])}` in" in block
    one_folder = {**stored, "models": stored["models"][:1], "repeats": 3}
    assert "Made by `python -m export.measure --repeats 3` in" in measure.readme_block(one_folder)
    readme, out = tmp_path / "docs" / "README.md", tmp_path / "web.json"
    readme.parent.mkdir()
    readme.write_text(f"top\n{measure.BEGIN} -->\nstale\n{measure.END}\nkept\n")
    out.write_text(json.dumps(one_folder))
    measure.main(["--report-only", "--out", str(out), "--readme", str(readme)])
    assert readme.read_text() == f"top\n{measure.readme_block(one_folder, '../web.json')}\nkept\n"
    out.write_text('{"models": []}')
    code, err = refusal(capsys, lambda: measure.main(["--report-only", "--out", str(out), "--readme", str(readme)]))
    assert code == 2 and f"{out} does not hold this command's figures" in err
    code, err = refusal(capsys, lambda: measure.main(["--report-only", "--out", str(out)]))
    assert code == 2 and "--readme" in err
    code, err = refusal(
        capsys, lambda: measure.main(["--report-only", "--out", str(tmp_path / "no.json"), "--readme", str(readme)])
    )
    assert code == 2 and "cannot read" in err
    assert readme.read_text().endswith("kept\n") and "stale" not in readme.read_text()
    code, err = refusal(capsys, lambda: measure.main(["--report-only", "--readme", str(readme), "--repeats", "3"]))
    assert code == 2 and "--repeats would be ignored" in err
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)
    code, err = refusal(capsys, lambda: measure.main(["--report-only", "--out", str(fifo), "--readme", str(readme)]))
    assert code == 2 and "not a regular file" in err  # refused, not read: reading a pipe would block
    unmarked = tmp_path / "NOTES.md"
    unmarked.write_text("no block here\n")
    out.write_text(json.dumps(one_folder))
    code, err = refusal(capsys, lambda: measure.main(["--report-only", "--out", str(out), "--readme", str(unmarked)]))
    assert code == 2 and err.startswith(f"python -m export.measure: {unmarked} not updated: ") and "markers" in err
    assert unmarked.read_text() == "no block here\n"


def test_the_block_names_the_load_at_the_start_of_each_run():
    machine = {"cpu_model": "this CPU", "cpu_count": 2, "backend": "cpu", "jax": "0.10.2"}
    once = {"command": "c", "started_utc": "t", "machine": {**machine, "load_average_at_start": [0.5, 0.25, 2.0]}}
    first_line = report.markdown(once).splitlines()[0]
    assert first_line.endswith("load average at start 0.5 / 0.2 / 2.0. Figures: `results/bench.json`.")
    updated = {**once, "machine": {**once["machine"], "load_average_at_update": [1.0, 1.5, 3.25]}}
    assert "load average at start 0.5 / 0.2 / 2.0, at the start of the --update run 1.0 / 1.5 / 3.2." in (
        report.markdown(updated)
    )


def test_the_recorded_command_can_be_typed_again():
    assert bench_main.command_line([]) == "python -m benchmarks"
    assert bench_main.command_line(["--out", "my figures.json"]) == "python -m benchmarks --out 'my figures.json'"


def test_a_stdout_that_cannot_be_written_costs_no_figure(tmp_path, monkeypatch, capsys):
    """The table is printed after bench.json is written, so `>/dev/full` ends in one line with the file whole."""
    from benchmarks import sections
    from tests.test_cli_output import FULL, FailingStdout

    monkeypatch.setattr(sections, "matmul_peak", lambda sizes: {"peak_gflops": 9.0})
    monkeypatch.setattr(sections, "machine", lambda: {"cpu_model": "this CPU", "backend": "cpu"})
    monkeypatch.setattr(report, "markdown", lambda results: "the table")
    monkeypatch.setattr(sys, "stdout", FailingStdout(OSError(errno.ENOSPC, FULL)))
    out = tmp_path / "bench.json"
    with pytest.raises(SystemExit) as leaving:
        bench_main.main(["--quick", "--sections", "peak", "--out", str(out)])
    said = capsys.readouterr().err.strip().splitlines()
    assert leaving.value.code == cli.FAILED and said[-1].startswith("python -m benchmarks: cannot write to standard")
    assert json.loads(out.read_text())["peak"] == {"peak_gflops": 9.0}
