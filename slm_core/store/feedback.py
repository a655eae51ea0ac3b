"""User feedback on predictions and saved value scenarios in the run store."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy import case, delete, func, insert, select, update

from slm_core.errors import NotFoundError
from slm_core.store.records import (
    FeedbackRecord,
    ScenarioRecord,
    _feedback_record,
    _now,
    _scenario_record,
    jsonable,
)
from slm_core.store.schema import feedback, scenarios

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine


class FeedbackMixin:
    """Thumbs up/down with corrected labels, and named sets of value assumptions."""

    engine: Engine

    def add_feedback(
        self,
        run_id: int,
        text: str,
        predicted_label: str | None,
        is_correct: bool,
        corrected_label: str | None = None,
        *,
        dataset_id: str | None = None,
    ) -> FeedbackRecord:
        """Store a thumbs up/down on one prediction; the dataset defaults to the run's."""
        run = self.get_run(run_id)
        with self.engine.begin() as conn:
            result = conn.execute(
                insert(feedback).values(
                    run_id=run.id,
                    dataset_id=dataset_id or run.dataset_id,
                    text=text,
                    predicted_label=predicted_label,
                    is_correct=bool(is_correct),
                    corrected_label=corrected_label or None,
                    created_at=_now(),
                )
            )
            feedback_id = result.inserted_primary_key[0]
        with self.engine.connect() as conn:
            row = conn.execute(select(feedback).where(feedback.c.id == feedback_id)).one()
        return _feedback_record(row)

    def list_feedback(
        self,
        dataset_id: str | None = None,
        run_id: int | None = None,
        corrected_only: bool = False,
    ) -> list[FeedbackRecord]:
        """Feedback, oldest first, optionally of one dataset/run or only with a corrected label."""
        query = select(feedback).order_by(feedback.c.id)
        if dataset_id is not None:
            query = query.where(feedback.c.dataset_id == dataset_id)
        if run_id is not None:
            query = query.where(feedback.c.run_id == int(run_id))
        if corrected_only:
            query = query.where(feedback.c.corrected_label.is_not(None))
        with self.engine.connect() as conn:
            return [_feedback_record(r) for r in conn.execute(query).all()]

    def feedback_summary(self, dataset_id: str) -> dict[int, dict[str, int]]:
        """Per run of a dataset: how many answers were rated and how many rated right."""
        query = (
            select(
                feedback.c.run_id,
                func.count().label("rated"),
                func.sum(case((feedback.c.is_correct, 1), else_=0)).label("right"),
            )
            .where((feedback.c.dataset_id == dataset_id) & feedback.c.run_id.is_not(None))
            .group_by(feedback.c.run_id)
        )
        with self.engine.connect() as conn:
            return {
                r.run_id: {"rated": int(r.rated), "right": int(r.right or 0)}
                for r in conn.execute(query).all()
            }

    def save_scenario(
        self,
        name: str,
        data: Mapping[str, Any],
        dataset_id: str | None = None,
        scenario_id: int | None = None,
    ) -> ScenarioRecord:
        """Save value assumptions as a new scenario, or overwrite ``scenario_id``."""
        values = {"name": name, "dataset_id": dataset_id, "data_json": jsonable(dict(data))}
        with self.engine.begin() as conn:
            if scenario_id is None:
                result = conn.execute(insert(scenarios).values(created_at=_now(), **values))
                scenario_id = result.inserted_primary_key[0]
            else:
                result = conn.execute(
                    update(scenarios).where(scenarios.c.id == int(scenario_id)).values(**values)
                )
                if result.rowcount == 0:
                    raise NotFoundError(
                        "errors.store.no_scenario_to_update", scenario_id=scenario_id
                    )
        return self.get_scenario(scenario_id)

    def get_scenario(self, scenario_id: int) -> ScenarioRecord:
        """The scenario with this id; raises NotFoundError if there is none."""
        with self.engine.connect() as conn:
            row = conn.execute(select(scenarios).where(scenarios.c.id == int(scenario_id))).first()
        if row is None:
            raise NotFoundError("errors.store.no_scenario_with_id", scenario_id=scenario_id)
        return _scenario_record(row)

    def list_scenarios(self, dataset_id: str | None = None) -> list[ScenarioRecord]:
        """Scenarios, newest first; with ``dataset_id``, those of that dataset and general ones."""
        query = select(scenarios).order_by(scenarios.c.id.desc())
        if dataset_id is not None:
            query = query.where(
                (scenarios.c.dataset_id == dataset_id) | scenarios.c.dataset_id.is_(None)
            )
        with self.engine.connect() as conn:
            return [_scenario_record(r) for r in conn.execute(query).all()]

    def delete_scenario(self, scenario_id: int) -> None:
        """Delete a saved scenario (no error if it is already gone)."""
        with self.engine.begin() as conn:
            conn.execute(delete(scenarios).where(scenarios.c.id == int(scenario_id)))
