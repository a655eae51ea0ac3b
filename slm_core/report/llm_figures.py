"""The hosted LLM as the report shows it: the dataset's newest finished measurement, and every
small model of the report scored on the very texts the LLM answered.

The LLM answered a sample of the test split, the small models the whole split; a fair comparison
is paired on the sample (McNemar, :mod:`slm_core.llm.measurement`). Nothing here holds the API
key: a measurement stores the endpoint's base URL and model, never the key.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from slm_core.errors import SlmError
from slm_core.llm.measurement import sample_scores


@dataclass(frozen=True)
class LLMFigures:
    """One LLM measurement with its figures and the small models on the same texts.

    ``labels`` maps a small model's run id to the label the report shows it under.
    """

    run: Any  # RunRecord of the measurement
    measurement: Any  # LLMMeasurement
    comparisons: tuple[Any, ...]  # SampleComparison, one per small model of the report
    labels: Mapping[int, str]

    @property
    def run_id(self) -> int:
        return self.measurement.run_id

    @property
    def label(self) -> str:
        """'LLM · <model>', the name on every page and in every table."""
        return self.measurement.label

    @property
    def sample_metrics(self) -> dict[str, Any]:
        """Macro-F1, balanced accuracy, weighted F1 and per-label figures on the sample."""
        return sample_scores(self.measurement)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the stored summary, the prompt and the comparisons (no texts, no key)."""
        m = self.measurement
        return {
            "run_id": m.run_id,
            "label": m.label,
            "finished_at": self.run.finished_at.isoformat() if self.run.finished_at else None,
            "summary": m.summary(),
            "prompt": m.prompt.to_dict(),
            "example_prompt": m.example_prompt,
            "examples": m.examples,
            "labels": list(m.labels),
            "comparisons": [
                {**c.to_dict(), "label": self.labels.get(c.run_id, str(c.run_id))}
                for c in self.comparisons
            ],
        }


def collect_llm(store, dataset_id: str, small: Sequence[tuple[Any, Any]]) -> LLMFigures | None:
    """The newest finished measurement of ``dataset_id``, with each small model of ``small``
    ((run record, its ``TestPredictions``) pairs) scored on the LLM's sample; None when the
    LLM was never measured on this dataset (or its files are gone)."""
    from slm_core.llm.measurement import compare_on_sample, latest_measurement
    from slm_core.value.inputs import run_label

    m = latest_measurement(store, dataset_id)
    if m is None:
        return None
    try:
        run = store.get_run(m.run_id)
    except SlmError:  # deleted between the two reads
        return None
    return LLMFigures(
        run=run,
        measurement=m,
        comparisons=tuple(compare_on_sample(m, r.id, r.model_id, preds) for r, preds in small),
        labels={r.id: run_label(r.id, r.model_id) for r, _ in small},
    )
