"""Command-line plumbing shared by every command: train.py, eval.py, plan.py, the exporter and the benchmarks.

Every Config field is a flag (`--batch-size 512`, `--encoder-hidden 256,128`), so there is no second
list of hyperparameter names to keep in step. Bad input ends in one line on stderr, never a traceback, and the
exit status that USAGE, FAILED and INTERRUPTED below define for every command.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import errno
import gc
import itertools
import json
import os
import re
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn

from jaxjepa import resources
from jaxjepa.config import PLANNING_FIELDS, SEED_LIMIT, VARIANTS, Config, get_config


class OneLineParser(argparse.ArgumentParser):
    """argparse, but an error is one line (no usage dump) and exits with status 2."""

    def error(self, message: str) -> NoReturn:
        fail(f"{self.prog}: error: {message} (see --help)")

    def parse_args(self, args=None, namespace=None):  # type: ignore[override]
        """Refuse an argument that is not valid UTF-8 (Linux hands undecodable bytes over as lone
        surrogates, which would end later as an encoding traceback when a path is printed or saved)."""
        argv = sys.argv[1:] if args is None else list(args)
        for arg in argv:
            if isinstance(arg, str) and not is_utf8(arg):
                self.error(f"argument {arg!a} is not valid UTF-8")
        return super().parse_args(argv, namespace)


def is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


PATH_HEADROOM = 200  # bytes a run directory adds below --out (seedN/.seedN.partial-PID/checkpoint/...)


def output_dir(text: str) -> str:
    """argparse type of an output directory: refuse a path the filesystem cannot hold before any compute, and an
    empty one, which would quietly mean the current folder."""
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty path; name a folder (. for the current one)")
    try:
        name_max = os.pathconf("/", "PC_NAME_MAX")
        path_max = os.pathconf("/", "PC_PATH_MAX")
    except (ValueError, OSError):
        name_max, path_max = 255, 4096
    too_long = [part for part in Path(text).parts if len(os.fsencode(part)) > name_max]
    if too_long:
        raise argparse.ArgumentTypeError(f"a folder name in {text[:40]!r}... is longer than {name_max} bytes")
    if len(os.fsencode(str(Path(text).absolute()))) + PATH_HEADROOM > path_max:
        raise argparse.ArgumentTypeError(
            f"path {text[:40]!r}... is too long (runs below it would pass the {path_max}-byte limit)"
        )
    return text


def output_file_problem(out: str | Path) -> str | None:
    """Why a file could not be written at `out`, or None: checked before the work whose result it holds, so a
    wrong path costs no minutes. Creates the missing folders, as the write would."""
    try:
        out = written_path(out)
        if out.is_dir():
            return "it is a directory; name a file"
        if out.exists() and not out.is_file():
            return f"it is {NOT_A_FILE}; name a file"
    except OSError as err:
        return f"{out}: {err.strerror or err}"
    return folder_problem(out.absolute().parent)


def folder_problem(folder: str | Path) -> str | None:
    """Why files could not be written into `folder`, or None. Creates the missing folders, as a write would, and
    proves the folder writable with a probe file: permissions, a read-only mount or a full inode table all show
    here, before any work, and not in the write after it."""
    folder = Path(folder)
    try:
        existing = next(p for p in (folder, *folder.parents) if p.exists())
        if not existing.is_dir():
            return f"{existing} is a file, not a folder"
        folder.mkdir(parents=True, exist_ok=True)
        probe_write(folder)
    except OSError as err:
        if err.errno == errno.ENOENT and folder.is_dir():  # how /proc and /sys refuse a new file in a folder they have
            return f"{folder}: files cannot be created there"
        return f"{folder}: {err.strerror or err}"
    return None


def probe_write(folder: str | Path) -> None:
    """Make and remove a file in `folder`: OSError where that fails, whatever the mode bits say (root passes them,
    yet a read-only mount, /proc or /sys take no files)."""
    fd, probe = tempfile.mkstemp(prefix=".write-probe-", dir=folder)
    os.close(fd)
    os.unlink(probe)


NOT_A_FILE = "not a regular file but a device, a pipe or a socket"
IN_FLIGHT: set[Path] = set()  # temp files of atomic_output being written or held: removed by `interrupted` too
TEMP_NUMBERS = itertools.count()  # held outputs' temp files each get a number: a place written twice keeps both


class Stage:
    """The outputs of one `held_outputs` block: the temp file of the newest write of each place, and whether they
    wait ("holding"), have landed, or were dropped (the block failed). The lock: a job's worker thread may write
    while the block ends."""

    def __init__(self) -> None:
        self.waiting: dict[Path, Path] = {}
        self.state = "holding"
        self.lock = threading.Lock()


STAGE: Stage | None = None  # the `held_outputs` block under way


def check_not_special(path: Path) -> None:
    """OSError if `path` is a device, a pipe or a socket: reading one may block forever, and an output written
    over one would replace it."""
    if path.exists() and not path.is_file() and not path.is_dir():
        raise OSError(errno.EINVAL, f"it is {NOT_A_FILE}", str(path))


# What reading a JSON file with `read_json` may raise: OSError (unreadable, or a device or pipe), ValueError (not UTF-8,
# not JSON) and RecursionError, which json raises for arrays or objects nested deeper than Python's recursion limit.
UNREADABLE_JSON = (OSError, ValueError, RecursionError)


def read_json(path: str | Path, **options) -> Any:
    """The JSON value in the file `path` (`options` go to json.loads); one of UNREADABLE_JSON where it cannot be
    read. A device, a pipe or a socket is refused first: reading one would wait for a writer, forever."""
    path = Path(path)
    check_not_special(path)
    return json.loads(path.read_text(encoding="utf-8"), **options)


@contextlib.contextmanager
def atomic_output(path: str | Path) -> Iterator[Path]:
    """A temp path beside `path`: write the whole output there, and on success it replaces `path` in one rename,
    so a half-written file (a full disk, Ctrl-C) never replaces a good one. The temp file carries the process id,
    so two processes writing the same output never share one; it gets the umask's mode, as any new file does. A
    symbolic link is written through (its target is replaced, the link kept); a device or a pipe is refused with
    an OSError, as a rename would put a file in its place."""
    path = written_path(path)
    check_not_special(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    stage = STAGE  # a write that starts inside a held block belongs to it, even if it ends after the block
    number = "" if stage is None else f".{next(TEMP_NUMBERS)}"
    tmp = path.with_name(f".{path.name}.{os.getpid()}{number}.tmp")
    IN_FLIGHT.add(tmp)
    waiting = False
    try:
        yield tmp
        if stage is None:
            tmp.replace(path)
        else:
            waiting = _hold_or_land(stage, tmp, path)
    finally:
        if not waiting:
            tmp.unlink(missing_ok=True)
            IN_FLIGHT.discard(tmp)


def _hold_or_land(stage: Stage, tmp: Path, path: Path) -> bool:
    """A held write's end: it waits (True), lands after its block landed, or is dropped after its block failed."""
    with stage.lock:
        if stage.state == "holding":
            older = stage.waiting.pop(path, None)  # the same place written twice: the newer content lands
            if older is not None:
                older.unlink(missing_ok=True)
                IN_FLIGHT.discard(older)
            stage.waiting[path] = tmp
            return True
    if stage.state == "landed":
        tmp.replace(path)
    return False


@contextlib.contextmanager
def held_outputs() -> Iterator[Callable[[], None]]:
    """Outputs written inside the block (by atomic_output) wait, whole, beside their places until the block calls
    the function it was given, which renames them all into place; outputs written after that land at once. A
    failure before it (a full disk at the last file, Ctrl-C) leaves every output of the block as it was, and drops
    any write still under way in another thread: one command's new figures never sit beside its old results. Does
    not nest."""
    global STAGE
    if STAGE is not None:
        raise RuntimeError("held_outputs does not nest")
    stage = STAGE = Stage()

    def land() -> None:
        with stage.lock:
            stage.state = "landed"
        for path, tmp in list(stage.waiting.items()):
            tmp.replace(path)
            IN_FLIGHT.discard(tmp)
            del stage.waiting[path]

    try:
        yield land
    finally:
        STAGE = None
        with stage.lock:
            if stage.state == "holding":
                stage.state = "dropped"
        for tmp in stage.waiting.values():  # none after a landing, unless a rename failed midway
            tmp.unlink(missing_ok=True)
            IN_FLIGHT.discard(tmp)


def written_path(path: str | Path) -> Path:
    """Where an output named `path` is written: a symbolic link's target (the link is kept). OSError for a
    link that leads nowhere a file can be: a loop."""
    path = Path(path)
    if not path.is_symlink():
        return path
    target = Path(os.path.realpath(path))
    if target.is_symlink():
        raise OSError(errno.ELOOP, "it is a symbolic link that loops", str(path))
    return target


def write_text(path: str | Path, text: str) -> Path:
    """Write an output file atomically (`atomic_output`)."""
    with atomic_output(path) as tmp:
        tmp.write_text(text)
    return Path(path)


def out_of_memory(err: Exception) -> str | None:
    """XLA's own first line where it refused a program's buffers up front (RESOURCE_EXHAUSTED: nothing has run),
    for a one-line refusal; None for any other error."""
    text = str(err).strip()
    return text.splitlines()[0][:160] if "RESOURCE_EXHAUSTED" in text else None


@contextlib.contextmanager
def planning_refusals(
    prog: str, refused: tuple[type[Exception], ...], xla_error: type[Exception], episodes: str, smaller: str
) -> Iterator[None]:
    """Around a command's planning: Ctrl-C, an error of `refused` (a run or a plan the command line asked for) and
    XLA's refusal of the buffers of `episodes` (what was asked, in words) each end in one line, the last with
    FAILED and the advice to plan fewer or `smaller`. Any other `xla_error` (JAX's runtime error, passed in since
    this module imports no JAX) goes on as it was."""
    try:
        with leaving_on_interrupt(f"{prog}: interrupted; nothing was written"):
            yield
    except refused as err:
        fail(f"{prog}: {err}")
    except xla_error as err:
        if (xla_says := out_of_memory(err)) is None:
            raise
        why = f"need more memory than this machine has ({xla_says}); plan fewer, or {smaller}"
        fail(f"{prog}: {episodes} {why}", FAILED)


# Exit statuses, one rule for every command: argparse's, whose own usage errors exit 2. Two of them, so that a
# script or a user tells a command line to fix from work that failed.
# USAGE: the command line cannot succeed as typed: a flag's value, flags that do not go together, or a path it
# names (itself, or through --seeds and --runs) that is missing or is not what the command takes: an unfinished,
# damaged or wrong-kind run (planning with one whose predictor takes no actions), an input file of another kind,
# an output it may not replace (without --force, or ever) or cannot write there. Also an extra it needs that is
# not installed.
USAGE = 2
# FAILED: the command line is sound and the work failed: a write under way (a full disk), a run that another
# process is writing, too little memory, a NaN loss, a cluster that did not form, a lowering or parity check, a
# benchmark's child process.
FAILED = 1
INTERRUPTED = 130  # Ctrl-C (interrupted): what a shell reports for a process that SIGINT ended


class StdoutFailed(Exception):
    """A write to standard output failed (a full disk, a closed pipe). Not an OSError, so that no command's own
    handling of its files' errors takes it for one of them."""

    def __init__(self, err: OSError) -> None:
        super().__init__(err.strerror or str(err))
        self.closed_pipe = isinstance(err, BrokenPipeError)


class CheckedStdout:
    """Standard output inside `stdout_checked`: the same stream, except that a failed write or flush raises
    StdoutFailed."""

    def __init__(self, stream) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        try:
            return self.stream.write(text)
        except OSError as err:
            raise StdoutFailed(err) from err

    def flush(self) -> None:
        try:
            self.stream.flush()
        except OSError as err:
            raise StdoutFailed(err) from err

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


@contextlib.contextmanager
def stdout_checked(prog: str, kept: str = "") -> Iterator[None]:
    """Around a command's main: a standard output that cannot be written (`>/dev/full`, a reader that closed its
    pipe) ends the command in one line on stderr and status FAILED, not in a traceback, or in Python's "Exception
    ignored" at exit; `kept` says what the command had saved by then (each command prints after saving). A closed
    pipe ends it quietly, as Python's docs advise ("Note on SIGPIPE"). The output still buffered is flushed at the
    block's end, so that a failure shows here. The interpreter's own flush at exit then writes to /dev/null."""
    real = sys.stdout
    checked = sys.stdout = CheckedStdout(real)
    try:
        try:
            yield
        finally:
            checked.flush()
    except StdoutFailed as failed:
        silence(real)
        if failed.closed_pipe:
            raise SystemExit(FAILED) from None
        fail(f"{prog}: cannot write to standard output ({failed}){kept}", FAILED)
    finally:
        sys.stdout = real


def silence(stream) -> None:
    """Point `stream`'s file descriptor at /dev/null, so that what is still buffered for it goes nowhere."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())
        os.close(devnull)
    except (OSError, AttributeError, ValueError):  # a stream with no descriptor (a test's capture) keeps none
        pass


def fail(message: str, code: int = USAGE) -> NoReturn:
    print(message, file=sys.stderr)
    raise SystemExit(code)


def interrupted(message: str) -> NoReturn:
    """Leave on Ctrl-C: one line, status 130. A compiled XLA call may still run in a worker thread
    (runner.interruptible) that cannot be stopped, and waiting for it is what Ctrl-C should not do, so the process
    exits at once; every output is written atomically, so what was written before stays whole."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not break the one-line goodbye
    for tmp in list(IN_FLIGHT):  # os._exit skips atomic_output's own tidying
        with contextlib.suppress(OSError):
            tmp.unlink()
    # From starting's handler, the signal may land inside a print, and the stream refuses a reentrant write
    # (RuntimeError): the line then goes to the descriptor itself.
    with contextlib.suppress(RuntimeError, OSError, StdoutFailed):  # an output that cannot be written: no matter now
        sys.stdout.flush()
    try:
        print(message, file=sys.stderr, flush=True)
    except RuntimeError:
        os.write(2, f"{message}\n".encode(errors="replace"))
    os._exit(INTERRUPTED)


@contextlib.contextmanager
def leaving_on_interrupt(message: str) -> Iterator[None]:
    """Around a command's work: Ctrl-C anywhere in it, its printing included, leaves by `interrupted(message)`."""
    try:
        yield
    except KeyboardInterrupt:
        interrupted(message)


@contextlib.contextmanager
def starting(prog: str) -> Iterator[None]:
    """Around a command's start, before it writes anything: its imports (JAX, Flax and TensorFlow take seconds)
    and JAX's backend. Ctrl-C there leaves as it does later, in one line and status 130, not with a traceback
    from inside an import. This module imports no JAX, so a command imports it before the slow ones.

    A handler that leaves, not a KeyboardInterrupt: one raised while JAX's garbage-collection callback runs,
    which it often does in an import, is printed with its traceback and dropped, and the command would go on.
    After the start, Python's own handler gives way to `raise_interrupt`, which keeps a Ctrl-C out of those
    callbacks too. A SIGINT that the shell ignores (a background job) stays ignored. An import that builds arrays
    starts JAX's backend: one that JAX_PLATFORMS names and JAX cannot start is refused as `backend_checked` does."""
    previous = signal.getsignal(signal.SIGINT)  # None: not Python's handler, which could not be put back
    if previous in (signal.SIG_IGN, None) or threading.current_thread() is not threading.main_thread():
        with backend_checked(prog):
            yield
        return
    signal.signal(signal.SIGINT, lambda *_: interrupted(f"{prog}: interrupted; nothing was written"))
    try:
        with backend_checked(prog):
            yield
    finally:
        signal.signal(signal.SIGINT, raise_interrupt if previous is signal.default_int_handler else previous)


@contextlib.contextmanager
def backend_checked(prog: str) -> Iterator[None]:
    """Around a command's main (and its imports, in `starting`): an error raised where JAX could not start the
    backend that JAX_PLATFORMS names (cuda on a machine without a GPU, a misspelt name) ends the command in one
    line and status USAGE, naming the variable and what JAX said, not in a traceback from inside JAX."""
    try:
        yield
    except Exception:
        problem = backend_problem()
        if problem is None:
            raise
        fail(f"{prog}: {problem}")


def backend_problem() -> str | None:
    """Why JAX cannot start the backend that JAX_PLATFORMS names, or None: it starts, JAX is not imported, or the
    variable is unset (JAX then falls back to the CPU by itself). Imports no JAX."""
    jax = sys.modules.get("jax")
    platforms = os.environ.get("JAX_PLATFORMS", "")
    if jax is None or not platforms.strip():
        return None
    try:
        jax.devices()
    except Exception as err:  # noqa: BLE001 (a RuntimeError, or a bare AssertionError where no GPU is visible)
        text = str(err).strip()
        said = text.splitlines()[0][:240] if text else f"{type(err).__name__}, with no message"
        return (
            f"JAX_PLATFORMS={platforms} names no backend JAX can start on this machine (JAX said: {said}); "
            "unset it, or name one this machine has"
        )
    return None


def raise_interrupt(signum: int, frame) -> None:
    """Python's own SIGINT handler (raise KeyboardInterrupt), except inside a garbage-collection callback: there the
    exception would be printed and dropped, and the work would go on. JAX registers such a callback, which runs
    at every collection, so a Ctrl-C lands in it now and then. There the signal is sent again until it lands
    outside one (`_resend_interrupt`)."""
    callbacks = {getattr(callback, "__code__", None) for callback in gc.callbacks}
    while frame is not None:
        if frame.f_code in callbacks:
            if not _RESENDING.is_set():
                _RESENDING.set()
                threading.Thread(target=_resend_interrupt, daemon=True).start()
            return
        frame = frame.f_back
    _RESENDING.clear()
    raise KeyboardInterrupt


_RESENDING = threading.Event()  # set while a Ctrl-C that landed in a garbage-collection callback waits to be raised


def _resend_interrupt() -> None:
    """SIGINT to the main thread every 10 ms until `raise_interrupt` raises it. Sent once, it could land after the
    collection and just before a blocking call (a sleep, a wait on a computation), which Python would then finish
    before it ran the handler; sent to the process, it could reach this thread and not wake the main one."""
    main = threading.main_thread().ident
    while True:
        time.sleep(0.01)
        if not _RESENDING.is_set():
            return
        signal.pthread_kill(main, signal.SIGINT)


MAX_SEEDS = 4096  # a larger count is a typo rather than a plan: refuse it before building the list
ASCII_DIGITS = re.compile(r"[0-9]+")


def parse_seeds(text: str) -> list[int]:
    """'3' -> [3]; '0-7' -> [0..7]; '0,2,5' -> [0, 2, 5]. Raises ValueError on anything else, and on
    more than MAX_SEEDS seeds (counted before any list is built)."""
    seeds: list[int] = []
    for part in text.split(","):
        part = part.strip()
        lo, sep, hi = part.partition("-")
        numbers = (lo, hi) if sep else (part, part)
        if part.startswith("-"):
            raise ValueError(f"seeds must be non-negative, got {part!r}")
        if not all(ASCII_DIGITS.fullmatch(n) for n in numbers):  # int() would also take "+5", "1_000" and "٣"
            raise ValueError(f"bad seed spec {text!r}: use N, A-B or a comma list of non-negative integers")
        bounds = (int(numbers[0]), int(numbers[1]))
        if max(bounds) >= SEED_LIMIT:
            raise ValueError(f"seeds must be below {SEED_LIMIT} (2**32), got {part[:40]!r}")
        if bounds[0] > bounds[1]:
            raise ValueError(f"empty seed range {part!r}: the start must not exceed the end")
        if len(seeds) + bounds[1] - bounds[0] + 1 > MAX_SEEDS:
            raise ValueError(f"seed spec {text!r} names more than {MAX_SEEDS} seeds; train fewer at a time")
        seeds.extend(range(bounds[0], bounds[1] + 1))
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seed spec {text!r} names a seed twice")
    return seeds


def one_seed(text: str, hint: str = "") -> int:
    """argparse type of a single seed, refused as a seed list is; `hint` ends the refusal of several."""
    seeds = _seed_spec(text)
    if len(seeds) != 1:
        raise argparse.ArgumentTypeError(f"takes one seed, got {text!r}{hint}")
    return seeds[0]


PLAIN_INT = re.compile(r"[+-]?[0-9]+")


def plain_int(text: str) -> int:
    """argparse type of an integer flag: ASCII decimal digits, signed or not. int() alone would also read "1_000"
    and other scripts' digits (an Arabic-Indic "\u0663" is 3), which a flag given them was never meant to take."""
    if not PLAIN_INT.fullmatch(text.strip()):
        raise argparse.ArgumentTypeError(f"invalid int value: {text!r}")
    return int(text)


def plain_float(text: str) -> float:
    """argparse type of a float flag: float() of ASCII text without underscores. float() alone would also read
    "1_0e-3" (0.01) and other scripts' digits (an Arabic-Indic "\u0661.\u0665" is 1.5)."""
    try:
        if text.isascii() and "_" not in text:
            return float(text)
    except ValueError:
        pass
    raise argparse.ArgumentTypeError(f"invalid float value: {text!r}")


MAX_BATCH = 65536  # episodes or trajectories evaluated at once: more is a typo, and would not fit in memory


def batch_count(text: str) -> int:
    """argparse type of how many episodes or trajectories run at once: 1 to MAX_BATCH."""
    if not PLAIN_INT.fullmatch(text.strip()):
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}")
    value = int(text)
    if not 1 <= value <= MAX_BATCH:
        raise argparse.ArgumentTypeError(f"must be 1 to {MAX_BATCH}, got {value}")
    return value


def _seed_spec(text: str) -> list[int]:
    try:
        return parse_seeds(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _one_seed_listed(text: str) -> list[int]:
    """--seed beside --seeds: one seed, as the list --seeds gives."""
    return [one_seed(text, hint="; use --seeds for several")]


def _tuple_of_ints(text: str) -> tuple[int, ...]:
    numbers = [v for v in text.split(",") if v.strip()]
    if not all(PLAIN_INT.fullmatch(v.strip()) for v in numbers):
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}")
    return tuple(int(v) for v in numbers)


# a Config field's type -> its flag's type
FLAG_TYPES: dict[type, Callable[[str], Any]] = {int: plain_int, float: plain_float}


def add_config_flags(parser: argparse.ArgumentParser) -> None:
    """--config NAME plus one flag per Config field (default None = take the variant's value)."""
    parser.add_argument("--config", default="default", choices=sorted(VARIANTS), help="named recipe")
    group = parser.add_argument_group("config overrides (defaults: the reference recipe)")
    for field in dataclasses.fields(Config):
        default = field.default
        kind: Any = _tuple_of_ints if isinstance(default, tuple) else FLAG_TYPES.get(type(default), type(default))
        group.add_argument(
            f"--{field.name.replace('_', '-')}",
            dest=f"cfg_{field.name}",
            type=kind,
            default=None,
            metavar=type(default).__name__.upper(),
            help=f"default {default}",
        )


def add_seed_flags(parser: argparse.ArgumentParser, seed_default: str = "") -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--seed", type=_one_seed_listed, help=f"one seed{seed_default}")
    group.add_argument("--seeds", type=_seed_spec, help="several seeds in one vmapped program: 0-7 or 0,3,5")


def seeds_from(args: argparse.Namespace) -> list[int]:
    """The seeds of add_seed_flags' flags (a list either way), seed 0 when neither is given."""
    return args.seeds or args.seed or [0]


def config_from(args: argparse.Namespace, prog: str, seeds: int = 1) -> Config:
    """The config the flags name; one line and exit 2 if it is invalid, or if `seeds` of it trained in one program
    cannot fit in this machine's memory."""
    overrides = {k[4:]: v for k, v in vars(args).items() if k.startswith("cfg_") and v is not None}
    planning = {name: overrides.pop(name) for name in PLANNING_FIELDS if name in overrides}
    try:  # fewer samples than the recipe's CEM elites caps them, as plan.py's --samples and the exporter's do
        config = get_config(args.config, **overrides).planning_with(**planning)
    except (TypeError, ValueError) as err:
        fail(f"{prog}: bad config: {err}")
    problem = resources.memory_problem(config, seeds)
    if problem:
        fail(f"{prog}: bad config: {problem}")
    return config


# Flags that override a saved run's planning settings (plan.py, benchmarks.two_rooms_seconds): flag -> field, type.
PLANNER_FLAGS = {
    "samples": ("plan_samples", plain_int),
    "iterations": ("plan_iterations", plain_int),
    "horizon": ("plan_horizon", plain_int),
    "noise": ("plan_noise", plain_float),
}


def add_planner_flags(parser: argparse.ArgumentParser, default: str) -> None:
    """--samples, --iterations, --horizon and --noise, each defaulting to None; `default` says what None means."""
    for flag, (field, kind) in PLANNER_FLAGS.items():
        parser.add_argument(f"--{flag}", type=kind, help=f"{field} (default: {default})")


def planner_changes(args: argparse.Namespace) -> dict[str, Any]:
    """The planning fields the planner flags set, for Config.replace (which validates them)."""
    return {field: getattr(args, flag) for flag, (field, _) in PLANNER_FLAGS.items() if getattr(args, flag) is not None}


def overrides_of(config: Config) -> dict[str, Any]:
    """The fields where `config` departs from the reference recipe."""
    base = Config()
    return {k: v for k, v in config.to_dict().items() if getattr(base, k) != getattr(config, k)}
