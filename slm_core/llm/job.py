"""The measurement as a background job: ask every text of the plan, store each answer as it
arrives, stop at the budget or a cancel, and take up where it stopped after a restart.

A measurement runs in its own detached process (``python -m slm_core.llm.job RUN_ID``) whose
environment alone carries the API key (``SLM_LLM_API_KEY``), never argv, the store or a file.
Answers are appended to ``llm_answers.jsonl`` in the run's folder and flushed one by one, so a
crash loses at most the calls in flight; resuming asks only the texts without an answer (and
those whose calls failed). Calls run ``Endpoint.concurrency`` at a time.

The budget is kept before each call: a call is sent only if the money already spent plus the
calls in flight plus this one, each at the mean measured cost so far (the estimate before the
first answer), stays within it. A measurement stopped by its budget is finished on the texts it
has, and says so.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any

from slm_core.data.types import Splits
from slm_core.errors import CancelledError, SlmError, render
from slm_core.llm import LLM_MODEL_ID
from slm_core.llm.client import ERROR, STOPPED, Caller, CallResult, LLMError
from slm_core.llm.endpoints import Endpoint, has_credentials, key_from_env, redact
from slm_core.llm.plan import Plan, estimate, estimated_tokens, make_plan
from slm_core.llm.prompt import PromptSpec, build_messages
from slm_core.store import RunStore
from slm_core.store.processes import spawn_detached
from slm_core.store.records import RunProgress

ANSWERS_FILE = "llm_answers.jsonl"
KEY_ENV = "SLM_LLM_API_KEY"
# After this many failed calls in a row with no answer at all, the endpoint is down: stop.
MAX_FAILURES_BEFORE_ANY_ANSWER = 8
PROGRESS_EVERY_S = 0.5
STOP_BUDGET, STOP_CANCELLED = "budget", "cancelled"


# ------------------------------------------------------------------------------ set-up


def plan_splits(store: RunStore, dataset_id: str) -> Splits:
    """The split of ``dataset_id`` that its trainings use, which every plan samples from.

    Making it is most of a plan's cost (a text key per row, scikit-learn's stratified split),
    and it is the same for every prompt and sample size: callers that plan repeatedly (the LLM
    page) make it once and pass it to :func:`plan_from_splits`.
    """
    from slm_core.data.split import make_splits
    from slm_core.train import split_config_for

    dataset = store.get_dataset(dataset_id)
    config = split_config_for(dataset.split_config, {})
    return make_splits(store.load_frame(dataset_id), config)


def measurable_size(splits: Splits) -> int:
    """The number of test texts a measurement can sample; raises when there are none."""
    if len(splits.test) == 0:
        raise SlmError("errors.llm.empty_test_split")
    return len(splits.test)


def plan_from_splits(splits: Splits, spec: PromptSpec, sample_size: int) -> Plan:
    """The sample and examples a measurement would use, drawn from ``splits`` (nothing is
    stored)."""
    measurable_size(splits)
    if sample_size < 1:
        raise SlmError("errors.llm.sample_too_small")
    return make_plan(splits.train, splits.test, splits.labels, spec, int(sample_size))


def prepare_plan(store: RunStore, dataset_id: str, spec: PromptSpec, sample_size: int) -> Plan:
    """The sample and examples a measurement of ``dataset_id`` would use (nothing is stored)."""
    return plan_from_splits(plan_splits(store, dataset_id), spec, sample_size)


def create_measurement(
    store: RunStore,
    dataset_id: str,
    endpoint: Endpoint,
    spec: PromptSpec,
    sample_size: int,
    budget_usd: float | None,
) -> int:
    """Store a queued measurement run with its plan; returns the run id (nothing is sent)."""
    if not str(endpoint.base_url).strip() or not str(endpoint.model).strip():
        raise SlmError("errors.llm.no_endpoint")
    if budget_usd is not None and budget_usd <= 0:
        raise SlmError("errors.llm.bad_budget")
    if has_credentials(endpoint.base_url):
        raise SlmError("errors.llm.credentials_in_url")
    plan = prepare_plan(store, dataset_id, spec, sample_size)
    expected = estimate(plan, spec, endpoint)
    per_call = expected.cost_usd / max(plan.n, 1)
    if budget_usd is not None and per_call > budget_usd:
        raise SlmError(
            "errors.llm.budget_below_one_call",
            budget=f"{budget_usd:.4f}",
            per_call=f"{per_call:.4f}",
        )
    params = {
        "endpoint": endpoint.to_dict(),
        "prompt": spec.to_dict(),
        "sample_size": int(sample_size),
        "budget_usd": None if budget_usd is None else float(budget_usd),
        "estimate": expected.to_dict(),
    }
    run = store.create_run(dataset_id, LLM_MODEL_ID, None, params)
    plan.save(store.artifact_dir(run.id))
    return run.id


def _env_with_key(store: RunStore, api_key: str | None) -> dict[str, str]:
    from slm_core.jobs import child_env

    env = child_env(store)
    for name in (KEY_ENV, "OPENAI_API_KEY"):
        env.pop(name, None)
    if api_key:
        env[KEY_ENV] = api_key
    return env


def start(store: RunStore, run_id: int, api_key: str | None) -> int:
    """Start the measurement of a queued run in a detached process; returns its pid."""
    command = [sys.executable, "-m", "slm_core.llm.job", str(int(run_id))]
    return spawn_detached(
        command, store.log_path(run_id), _env_with_key(store, api_key), f"llm-{run_id}"
    )


def resume(
    store: RunStore, run_id: int, api_key: str | None, budget_usd: float | None = None
) -> int:
    """Take a stopped measurement up again (optionally with a new budget); returns the pid.

    A measurement stopped by its budget is finished ('succeeded'); it can go on only with a
    larger budget.
    """
    run = store.get_run(run_id)
    if run.model_id != LLM_MODEL_ID:
        raise SlmError("errors.llm.not_a_measurement", run_id=run_id)
    statuses: tuple[str, ...] = ("cancelled", "interrupted", "failed")
    if budget_usd is not None:
        old = run.params.get("budget_usd")
        if old is not None and budget_usd <= old:
            raise SlmError("errors.llm.budget_not_raised", budget=f"{old:.2f}")
        if (run.metrics.get("llm") or {}).get("stopped") == STOP_BUDGET:
            statuses = (*statuses, "succeeded")
    store.reopen_run(run_id, statuses)  # first: a run that cannot go on keeps its old budget
    if budget_usd is not None:
        store.update_params(run_id, {**run.params, "budget_usd": float(budget_usd)})
    return start(store, run_id, api_key)


# ------------------------------------------------------------------------------ answers


def read_answers(folder: Path) -> dict[int, dict[str, Any]]:
    """The stored answers by sample index (the last line per index wins; a torn line is skipped)."""
    path = Path(folder) / ANSWERS_FILE
    out: dict[int, dict[str, Any]] = {}
    if not path.exists():
        return out
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            try:
                row = json.loads(line)
                out[int(row["i"])] = row
            except (ValueError, KeyError, TypeError):
                continue  # a line cut by a crash mid-write
    return out


def _end_line(path: Path) -> None:
    """Finish a line a crash cut short, so the next answer starts a line of its own."""
    if path.exists() and path.stat().st_size:
        with path.open("rb+") as fh:
            fh.seek(-1, os.SEEK_END)
            if fh.read(1) != b"\n":
                fh.write(b"\n")


def _append(fh, row: dict[str, Any]) -> None:
    fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    fh.flush()
    os.fsync(fh.fileno())


# ------------------------------------------------------------------------------ the loop


class _Loop:
    """One pass over the texts still to ask, with the budget, cancel and progress kept."""

    def __init__(self, store: RunStore, run_id: int, api_key: str | None) -> None:
        self.store, self.run_id = store, run_id
        run = store.get_run(run_id)
        self.endpoint = Endpoint.from_dict(run.params["endpoint"])
        self.spec = PromptSpec.from_dict(run.params["prompt"])
        self.budget = run.params.get("budget_usd")
        self.folder = store.artifact_dir(run_id)
        plan = Plan.load(self.folder)
        if plan is None:
            raise SlmError("errors.llm.no_plan", run_id=run_id)
        self.plan = plan
        self.key = api_key
        self.answers = read_answers(self.folder)
        self.spent = sum(float(r.get("cost_usd") or 0.0) for r in self.answers.values())
        self.paid_calls = sum(1 for r in self.answers.values() if r.get("cost_usd"))
        self.first_estimate = estimate(plan, self.spec, self.endpoint).cost_usd / max(plan.n, 1)
        self.stop = threading.Event()
        self.stopped: str | None = None
        self.fatal: SlmError | None = None
        structured = all(r.get("structured", True) for r in self.answers.values())
        self.caller = Caller(
            self.endpoint,
            api_key,
            plan.labels,
            self.spec,
            structured=structured,
            estimate_tokens=estimated_tokens,
        )

    def per_call(self) -> float:
        return self.spent / self.paid_calls if self.paid_calls else self.first_estimate

    def todo(self) -> list[int]:
        return [
            i
            for i in range(self.plan.n)
            if i not in self.answers or self.answers[i].get("status") == ERROR
        ]

    def _row(self, i: int, result: CallResult) -> dict[str, Any]:
        row = {"i": i, "position": self.plan.positions[i], **result.to_dict()}
        row["cost_usd"] = self.endpoint.price(result.input_tokens, result.output_tokens)
        row["at"] = time.time()
        for name in ("error", "content"):  # a server could echo anything back
            if row.get(name):
                row[name] = redact(str(row[name]), self.key)
        return row

    def _progress(self) -> None:
        answered = sum(1 for r in self.answers.values() if r.get("status") != ERROR)
        self.store.set_progress(
            self.run_id,
            RunProgress(
                batch=answered,
                batches=self.plan.n,
                fraction=answered / max(self.plan.n, 1),
                message="llm_asking",
            ),
        )

    def run(self) -> None:
        pending = iter(self.todo())
        failures_in_a_row = 0
        any_answer = any(r.get("status") != ERROR for r in self.answers.values())
        in_flight: dict[Future[CallResult], int] = {}
        last_poll = 0.0
        _end_line(self.folder / ANSWERS_FILE)
        with (
            ThreadPoolExecutor(max(1, int(self.endpoint.concurrency))) as pool,
            (self.folder / ANSWERS_FILE).open("a", encoding="utf-8") as fh,
        ):
            exhausted = False
            while True:
                while (
                    not exhausted
                    and not self.stop.is_set()
                    and (len(in_flight) < max(1, int(self.endpoint.concurrency)))
                ):
                    if self.budget is not None and (
                        self.spent + (len(in_flight) + 1) * self.per_call() > self.budget + 1e-12
                    ):
                        self.stopped = STOP_BUDGET
                        self.stop.set()
                        break
                    i = next(pending, None)
                    if i is None:
                        exhausted = True
                        break
                    messages = build_messages(
                        self.spec, self.plan.labels, self.plan.texts[i], self.plan.examples
                    )
                    in_flight[pool.submit(self.caller.call, messages, self.stop.is_set)] = i
                if not in_flight:
                    break
                done, _ = wait(
                    list(in_flight), timeout=PROGRESS_EVERY_S, return_when=FIRST_COMPLETED
                )
                for future in done:
                    i = in_flight.pop(future)
                    try:
                        result = future.result()
                    except LLMError as exc:
                        self.fatal = self.fatal or exc
                        self.stop.set()
                        continue
                    if result.status == STOPPED:
                        continue
                    row = self._row(i, result)
                    _append(fh, row)
                    self.answers[i] = row
                    self.spent += row["cost_usd"]
                    if row["cost_usd"]:
                        self.paid_calls += 1
                    if result.status == ERROR:
                        failures_in_a_row += 1
                        if not any_answer and failures_in_a_row >= MAX_FAILURES_BEFORE_ANY_ANSWER:
                            self.fatal = LLMError(
                                "errors.llm.unreachable",
                                url=self.endpoint.base_url,
                                reason=row.get("error") or "",
                            )
                            self.stop.set()
                    else:
                        failures_in_a_row, any_answer = 0, True
                now = time.monotonic()
                if now - last_poll >= PROGRESS_EVERY_S:
                    last_poll = now
                    self._progress()
                    if not self.stop.is_set() and self.store.is_cancel_requested(self.run_id):
                        self.stopped = STOP_CANCELLED
                        self.stop.set()
        self._progress()


def _finish(store: RunStore, run_id: int, loop: _Loop, seconds: float) -> None:
    from slm_core.llm.measurement import measurement_metrics

    if loop.fatal is not None:
        store.finish_run(run_id, "failed", error=str(loop.fatal), train_seconds=seconds)
        return
    cancelled = loop.stopped == STOP_CANCELLED or store.is_cancel_requested(run_id)
    answered = [r for r in loop.answers.values() if r.get("status") != ERROR]
    if cancelled:
        raise CancelledError("errors.llm.cancelled", answered=len(answered), n=loop.plan.n)
    if not answered and loop.stopped == STOP_BUDGET:
        store.finish_run(
            run_id,
            "failed",
            error=render(
                "errors.llm.budget_below_one_call",
                budget=f"{loop.budget:.4f}",
                per_call=f"{loop.per_call():.4f}",
            ),
            train_seconds=seconds,
        )
        return
    if not answered:
        store.finish_run(
            run_id, "failed", error=render("errors.llm.no_answers"), train_seconds=seconds
        )
        return
    metrics = measurement_metrics(store, run_id, stopped=loop.stopped)
    store.finish_run(
        run_id,
        "succeeded",
        metrics=metrics,
        train_seconds=seconds,
        artifact_path=str(store.artifact_dir(run_id)),
    )


def measure(store: RunStore, run_id: int, api_key: str | None) -> None:
    """Claim a queued measurement and carry it out in this process; the outcome is stored.

    Raises nothing for a user-facing failure (it is the run's error); CancelledError is stored
    as 'cancelled' with the answers so far kept for a resume.
    """
    if not store.claim_run(run_id, os.getpid()):
        run = store.get_run(run_id)
        raise SlmError("errors.llm.not_queued", run_id=run_id, status=run.status)
    started = time.perf_counter()
    loop: _Loop | None = None
    try:
        loop = _Loop(store, run_id, api_key)
        loop.run()
        _finish(store, run_id, loop, time.perf_counter() - started)
    except CancelledError as exc:
        store.finish_run(
            run_id, "cancelled", error=str(exc), train_seconds=time.perf_counter() - started
        )
    except SlmError as exc:
        store.finish_run(run_id, "failed", error=redact(str(exc), api_key))
    except Exception as exc:  # a crash fails this measurement only, with a readable reason
        reason = redact(" ".join(str(exc).split())[:300], api_key)
        store.finish_run(
            run_id,
            "failed",
            error=render("errors.run.crashed", kind=type(exc).__name__, reason=reason),
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m slm_core.llm.job", description="Carry out one stored LLM measurement."
    )
    parser.add_argument("run_id", type=int)
    args = parser.parse_args(argv)
    store = RunStore()
    key, _ = key_from_env()
    with contextlib.suppress(SlmError):
        measure(store, args.run_id, key)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
