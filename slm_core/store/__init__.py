"""Run store: datasets, training runs, their results, user feedback and value scenarios.

SQLAlchemy Core over SQLite by default (WAL, busy timeout, foreign keys on) so that the
Streamlit process, the job runner, its training children and the CLI can use one store at
the same time; ``SLM_DATABASE_URL=postgresql://...`` works unchanged for a shared deployment.
Every read returns a frozen record, never a raw row.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from sqlalchemy.exc import DBAPIError

from slm_core import config
from slm_core.store.datasets import DatasetsMixin
from slm_core.store.engine import make_engine
from slm_core.store.feedback import FeedbackMixin
from slm_core.store.files import check_writable, storage_error
from slm_core.store.processes import pid_alive
from slm_core.store.records import (
    ACTIVE_STATUSES,
    CANCELLED_MESSAGE,
    DATASET_SOURCES,
    INTERRUPTED_MESSAGE,
    STATUSES,
    TERMINAL_STATUSES,
    DatasetRecord,
    FeedbackRecord,
    RunRecord,
    ScenarioRecord,
    TrialRunRecord,
    jsonable,
)
from slm_core.store.runs import RunsMixin
from slm_core.store.schema import (
    datasets,
    feedback,
    metadata,
    run_results,
    runs,
    scenarios,
    trial_runs,
)

__all__ = [
    "ACTIVE_STATUSES",
    "CANCELLED_MESSAGE",
    "DATASET_SOURCES",
    "INTERRUPTED_MESSAGE",
    "STATUSES",
    "TERMINAL_STATUSES",
    "DatasetRecord",
    "FeedbackRecord",
    "RunRecord",
    "RunStore",
    "ScenarioRecord",
    "TrialRunRecord",
    "datasets",
    "feedback",
    "jsonable",
    "metadata",
    "pid_alive",
    "run_results",
    "runs",
    "scenarios",
    "trial_runs",
]


class RunStore(DatasetsMixin, RunsMixin, FeedbackMixin):
    """Datasets, runs, results, feedback and scenarios in one database plus files under ``home``.

    Parameters
    ----------
    url
        SQLAlchemy URL; default :func:`slm_core.config.database_url`.
    home
        Data directory for frames, artifacts and logs; default :func:`slm_core.config.slm_home`.
    """

    def __init__(self, url: str | None = None, home: Path | str | None = None) -> None:
        try:
            self.home = (Path(home) if home is not None else config.slm_home()).expanduser()
            self.home = self.home.resolve()
            self.home.mkdir(parents=True, exist_ok=True)
            check_writable(self.home)
            self.url = url or config.database_url()
            self.engine = make_engine(self.url)
            self._create_tables()
        except OSError as exc:
            # An unwritable or full SLM_HOME: say which folder and what to do, not a traceback.
            # (SQLite's own such errors are turned into that message by the engine.)
            where = getattr(self, "home", None) or home or getattr(exc, "filename", None)
            problem = storage_error(exc, where or os.environ.get("SLM_HOME", "SLM_HOME"))
            if problem is None:
                raise
            raise problem from exc

    def __repr__(self) -> str:
        return f"RunStore(url={self.engine.url!r}, home={str(self.home)!r})"

    def _create_tables(self) -> None:
        # Two processes may create the schema at the same moment; the loser sees
        # "already exists" and simply finds the tables on the next try.
        for attempt in range(5):
            try:
                metadata.create_all(self.engine)
                return
            except DBAPIError:
                if attempt == 4:
                    raise
                time.sleep(0.2 * (attempt + 1))

    def close(self) -> None:
        """Release pooled connections (the store stays usable; it reconnects on demand)."""
        self.engine.dispose()
