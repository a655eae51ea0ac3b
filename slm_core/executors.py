"""Where a claimed training run is worked on: a child process here, or a task on a Ray cluster.

``SLM_EXECUTOR`` chooses (:func:`executor_name`):

- ``local`` (the default): one run at a time, each in a fresh child process of the queue
  runner, so memory is returned after every run and a crash fails only that run.
- ``ray``: each run is one Ray task, as many at once as the cluster has CPUs for
  (``SLM_RAY_TASK_CPUS`` per run, default 1). The cluster is the one at ``RAY_ADDRESS``, or a
  local one the runner starts (``SLM_RAY_CPUS``, default all) and stops when the queue is
  empty. A task's worker process serves one run only (``max_calls=1``), like the local child.

Both call the same job target (``slm_core.train:execute_run``: train, evaluate, measure the
value checks), which writes its progress into the run store and honours a cancel request by
itself. The queue runner (:mod:`slm_core.jobs`) claims runs, polls cancel requests, kills
what outlives the grace period and settles outcomes the same way for both, through
:class:`Work`. On another machine a Ray task needs the same run store
(``SLM_DATABASE_URL``) and, for its files, a shared ``SLM_HOME`` or ``SLM_ARTIFACTS`` (with
``SLM_RAY_WORKER_HOME`` naming the data folder workers keep their own copies in).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any, Protocol

from slm_core.errors import SlmError, one_line, render

EXECUTORS = ("local", "ray")
# What a run's worker gets from the runner's environment: where the store, the artifacts and
# the code are, the settings of the training itself, and the shared artifact store's
# credentials (fsspec's and S3's own variables) for workers that have none of their own.
_FORWARDED_PREFIXES = ("SLM_", "TF_", "OMP_", "KERAS_", "FSSPEC_", "AWS_")
_FORWARDED = ("PYTHONPATH", "PYTHONUNBUFFERED", "HF_HUB_OFFLINE", "CUDA_VISIBLE_DEVICES")
RAY_NAMESPACE = "slm-value-lab"
STOP_WAIT_S = 10.0
PROBE_TIMEOUT_S = 5.0


def executor_name() -> str:
    """``SLM_EXECUTOR`` (``local`` or ``ray``); SlmError naming the choices for anything else."""
    name = os.environ.get("SLM_EXECUTOR", "").strip().lower() or "local"
    if name not in EXECUTORS:
        raise SlmError("errors.executor.unknown", name=name, choices=", ".join(EXECUTORS))
    return name


def setting_text(lang: str = "en") -> str:
    """Where runs train under the current settings, in one sentence (the Train page says it)."""
    try:
        name = executor_name()
    except SlmError as exc:
        return exc.localized(lang)
    if name == "ray":
        address = os.environ.get("RAY_ADDRESS", "").strip() or render("executor.local_ray", lang)
        return render("executor.ray", lang, address=address)
    return render("executor.local", lang)


class Work(Protocol):
    """One run being worked on, as the runner sees it."""

    def done(self) -> bool:
        """Whether the work has ended (with or without recording the run's outcome)."""

    def stop(self) -> None:
        """End it now (a cancel that was not honoured in time, or the runner stopping)."""

    def failure(self) -> str:
        """Why it ended when the target recorded no outcome (a kill, a crash)."""


class Executor(Protocol):
    """Starts claimed runs: ``slots`` of them at once."""

    name: str
    slots: int

    def start(self, store: Any, run_id: int, target: str) -> Work:
        """Begin working on the claimed ``run_id``; OSError when it cannot even start."""

    def describe(self) -> str:
        """Where the work runs, for the runner's log."""

    def close(self) -> None:
        """Release what the executor holds (a local Ray cluster it started)."""


def make_executor(store: Any, name: str | None = None) -> Executor:
    """The executor ``name`` (default :func:`executor_name`) for ``store``'s runs; SlmError when
    Ray cannot be reached or started."""
    name = name or executor_name()
    if name == "ray":
        return RayExecutor(store)
    return LocalExecutor(store)


# ------------------------------------------------------------------ local child processes


def exit_reason(returncode: int, log: Path) -> str:
    """Why a child process that recorded no outcome ended, from its exit status."""
    if returncode < 0:
        signum = -returncode
        if signum == signal.SIGKILL:
            return render("errors.run.killed")
        if signum == signal.SIGSEGV:
            return render("errors.run.segfault", log=log)
        name = signal.Signals(signum).name if signum in signal.valid_signals() else signum
        return render("errors.run.signal", name=name)
    return render("errors.run.exit_code", code=returncode, log=log)


class _ChildProcess:
    def __init__(self, proc: subprocess.Popen[bytes], log: Path) -> None:
        self.proc = proc
        self.log = log

    def done(self) -> bool:
        return self.proc.poll() is not None

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            self.proc.kill()
        self.proc.wait()

    def failure(self) -> str:
        return exit_reason(self.proc.wait(), self.log)


class LocalExecutor:
    """Each run in a fresh child process of this machine, one at a time."""

    name = "local"
    slots = 1

    def __init__(self, store: Any) -> None:
        self.store = store

    def start(self, store: Any, run_id: int, target: str) -> Work:
        from slm_core.jobs import child_env

        log_path = store.log_path(run_id)
        command = [sys.executable, "-m", "slm_core.jobs", "--target", target]
        command += ["--child", str(run_id)]
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(log_path, "ab") as log:
            proc = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own group, so a kill also reaches its helpers
                env=child_env(store),
            )
        store.set_worker(run_id, proc.pid)
        return _ChildProcess(proc, log_path)

    def describe(self) -> str:
        return "local child processes"

    def close(self) -> None:
        pass


# ------------------------------------------------------------------ Ray


def _worker_env(store: Any) -> dict[str, str]:
    from slm_core.jobs import child_env

    env = child_env(store)
    return {
        key: value
        for key, value in env.items()
        if key in _FORWARDED or key.startswith(_FORWARDED_PREFIXES)
    }


def ray_task(store_url: str, home: str, run_id: int, target: str) -> str:
    """The body of a run's Ray task: the job target, its output appended to the run's log.

    Returns where it ran (host and pid), for the runner's log.
    """
    from slm_core.jobs import execute_claimed
    from slm_core.store import RunStore

    # A worker on another machine keeps its files in its own data folder; they reach the app
    # through the shared artifact store (SLM_ARTIFACTS).
    store = RunStore(store_url, Path(os.environ.get("SLM_RAY_WORKER_HOME") or home))
    log_path = store.log_path(run_id)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    where = f"{socket.gethostname()} pid {os.getpid()}"
    # The worker serves this one task (max_calls=1), so its own stdout and stderr (native
    # libraries write there too) can go to the run's log for good, like a local child's.
    sys.stdout.flush()
    sys.stderr.flush()
    with open(log_path, "ab") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
    print(f"run {run_id} in a Ray task on {where}", flush=True)
    execute_claimed(store, run_id, target)
    sys.stdout.flush()
    sys.stderr.flush()
    return where


class _RayTask:
    def __init__(self, ray: Any, ref: Any) -> None:
        self.ray = ray
        self.ref = ref

    def done(self) -> bool:
        ready, _ = self.ray.wait([self.ref], timeout=0)
        return bool(ready)

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self.ray.cancel(self.ref, force=True)
        with contextlib.suppress(Exception):
            self.ray.wait([self.ref], timeout=STOP_WAIT_S)

    def failure(self) -> str:
        from ray import exceptions

        try:
            self.ray.get(self.ref, timeout=STOP_WAIT_S)
        except exceptions.TaskCancelledError:
            return render("errors.run.killed")
        except (exceptions.WorkerCrashedError, exceptions.NodeDiedError) as exc:
            return render("errors.executor.ray_worker_died", reason=one_line(exc))
        except exceptions.RayTaskError as exc:
            cause = getattr(exc, "cause", None) or exc
            return render("errors.run.failed", reason=one_line(cause))
        except Exception as exc:  # a lost object, a timeout: say what Ray said
            return render("errors.executor.ray_worker_died", reason=one_line(exc))
        return render("errors.run.no_result")


def local_ray_cpus() -> int:
    """CPUs of a local Ray the runner starts: ``SLM_RAY_CPUS``, else all of this machine's."""
    value = os.environ.get("SLM_RAY_CPUS", "").strip()
    return max(1, int(value)) if value.isdigit() else max(1, os.cpu_count() or 1)


def task_cpus() -> float:
    """CPUs one run's task asks Ray for: ``SLM_RAY_TASK_CPUS``, default 1."""
    try:
        value = float(os.environ.get("SLM_RAY_TASK_CPUS", "1"))
    except ValueError:
        value = 1.0
    return value if value > 0 else 1.0


def _probe(address: str | None, timeout_s: float = PROBE_TIMEOUT_S) -> None:
    """Fail fast when a ``host:port`` cluster address does not answer: ``ray.init`` would
    retry for minutes while the runs wait. Other forms (``auto``, ``ray://``) go to Ray."""
    if not address or "://" in address or address == "auto":
        return
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"{address!r} is not host:port")
    with socket.create_connection((host or "127.0.0.1", int(port)), timeout=timeout_s):
        pass


class RayExecutor:
    """Each run a Ray task, on the cluster at ``RAY_ADDRESS`` or a local one started here."""

    name = "ray"

    def __init__(self, store: Any, address: str | None = None) -> None:
        try:
            import ray
        except ImportError as exc:  # pragma: no cover - ray is in requirements.txt
            raise SlmError("errors.executor.ray_missing") from exc
        self.ray = ray
        self.address = address or os.environ.get("RAY_ADDRESS", "").strip() or None
        self.started_here = not ray.is_initialized()
        if self.started_here:
            try:
                _probe(self.address)
                ray.init(
                    address=self.address,
                    num_cpus=None if self.address else local_ray_cpus(),
                    namespace=RAY_NAMESPACE,
                    include_dashboard=False,
                    log_to_driver=False,
                    configure_logging=False,
                )
            except Exception as exc:  # Ray raises ConnectionError, RuntimeError, ValueError...
                raise SlmError(
                    "errors.executor.ray_unreachable",
                    address=self.address or render("executor.local_ray"),
                    reason=one_line(exc),
                ) from exc
        cpus = float(ray.cluster_resources().get("CPU", 1.0))
        self.task_cpus = min(task_cpus(), cpus)
        self.slots = max(1, int(cpus // self.task_cpus))
        self._remote = ray.remote(max_calls=1, max_retries=0)(ray_task).options(
            num_cpus=self.task_cpus,
            runtime_env={"env_vars": _worker_env(store)},
            name="slm-train-run",
        )

    def start(self, store: Any, run_id: int, target: str) -> Work:
        ref = self._remote.remote(store.url, str(store.home), int(run_id), target)
        return _RayTask(self.ray, ref)

    def describe(self) -> str:
        where = self.address or "a local Ray"
        return f"Ray ({where}), {self.slots} run(s) at once, {self.task_cpus:g} CPU each"

    def close(self) -> None:
        if self.started_here and self.ray.is_initialized():
            with contextlib.suppress(Exception):
                self.ray.shutdown()
