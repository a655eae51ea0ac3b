"""Every neural model answers a text the same however far it is padded and whatever it is
batched with: Keras (length buckets), LiteRT (padded to ``max_len``) and ONNX (padded to the
longest text of the call) each pad differently, and served answers must equal evaluated ones.
"""

from __future__ import annotations

import dataclasses
import json
import random

import numpy as np
import pytest

from slm_core.errors import TrainError
from slm_core.models import architectures, neural, registry
from slm_core.models.keras_runtime import keras_modules
from slm_core.models.tokenize import Vocabulary

TOLERANCE = 1e-5
MAX_LEN = 12
# Small and few: each model trains for one epoch on 60 texts.
SETTINGS = {
    "epochs": 1,
    "embedding_dim": 16,
    "units": 8,
    "vocab_size": 200,
    "batch_size": 16,
    "max_len": MAX_LEN,
}
SETTINGS_BY_MODEL = {
    "cnn": {**SETTINGS, "kernel_size": 5},  # wider than the shortest texts below
    "transformer": {**SETTINGS, "heads": 2},
}

_WORDS = {
    "sport": "match goal team coach league score player season win stadium",
    "money": "bank price market profit shares tax budget loan interest trade",
}
_FILLER = "the a of and to in is was for on with it"

# One token, shorter than the kernel, unknown words only, a full-length text, and empty.
PROBES = [
    "goal",
    "bank loan",
    "goal team the win",
    "zzz qqq",
    "match goal team coach league score player season win stadium the a of",
    "",
]
LONG = f"{_WORDS['money']} {_FILLER}"  # fills max_len: its batch is padded to it


def _corpus(per_class: int = 30, seed: int = 0) -> tuple[list[str], list[str]]:
    rng = random.Random(seed)
    texts, labels = [], []
    for label, words in _WORDS.items():
        for _ in range(per_class):
            tokens = rng.sample(words.split(), 3) + rng.sample(_FILLER.split(), rng.randint(0, 7))
            rng.shuffle(tokens)
            texts.append(" ".join(tokens))
            labels.append(label)
    return texts, labels


def _untrained(model_id: str) -> neural.KerasTextClassifier:
    """A network with its random initial weights over a small vocabulary (no training)."""
    _, keras = keras_modules()
    keras.utils.set_random_seed(3)
    clf = registry.build(model_id, "quick", SETTINGS_BY_MODEL.get(model_id, SETTINGS), seed=3)
    terms = sorted(set(" ".join([*_WORDS.values(), _FILLER]).split()))
    clf.vocabulary_ = Vocabulary(["", "[UNK]", *terms], "word")
    clf.classes_ = sorted(_WORDS)
    clf.max_len_ = MAX_LEN
    clf.model_ = clf._build(keras, len(clf.classes_))
    clf._infer = None
    return clf


@pytest.fixture(scope="module")
def models() -> dict[tuple[str, str], neural.KerasTextClassifier]:
    out = {}
    texts, labels = _corpus()
    for model_id in registry.NEURAL_IDS:
        out[(model_id, "untrained")] = _untrained(model_id)
        params = SETTINGS_BY_MODEL.get(model_id, SETTINGS)
        out[(model_id, "trained")] = registry.build(model_id, "quick", params, seed=5).fit(
            texts, labels
        )
    return out


def _padded(ids: np.ndarray, width: int) -> np.ndarray:
    """``ids`` cut or zero-padded to ``width`` columns (cut columns must be padding)."""
    out = np.zeros((len(ids), width), dtype=np.int32)
    keep = min(width, ids.shape[1])
    assert not ids[:, keep:].any()
    out[:, :keep] = ids[:, :keep]
    return out


def max_padding_diffs(clf: neural.KerasTextClassifier, texts: list[str]) -> dict[str, float]:
    """Largest probability change of any of ``texts`` from its answer alone, unpadded, when
    padded wider or batched with a long text (itself padded to several widths)."""
    infer = clf._predict_fn()
    ids = clf.encode(texts)
    long_ids = clf.encode([LONG])
    diffs = {"padded": 0.0, "wider_than_max_len": 0.0, "with_a_long_text": 0.0, "predict": 0.0}
    for row in ids:
        length = max(1, int((row != 0).sum()))
        alone = np.asarray(infer(row[None, :length]))
        for width in range(length + 1, 3 * clf.max_len_ + 1, 5):
            key = "padded" if width <= clf.max_len_ else "wider_than_max_len"
            padded = np.asarray(infer(_padded(row[None], width)))
            diffs[key] = max(diffs[key], float(np.abs(padded - alone).max()))
        for width in (clf.max_len_, 2 * clf.max_len_):
            batch = _padded(np.vstack([long_ids, row[None], long_ids]), width)
            together = np.asarray(infer(batch))[1:2]
            diffs["with_a_long_text"] = max(
                diffs["with_a_long_text"], float(np.abs(together - alone).max())
            )
        # The evaluation path: length-sorted batches, each cut to its longest text.
        mixed = clf.predict_proba_ids(np.vstack([long_ids, row[None], long_ids, ids]))[1:2]
        diffs["predict"] = max(diffs["predict"], float(np.abs(mixed - alone).max()))
    return diffs


@pytest.mark.parametrize("state", ["untrained", "trained"])
@pytest.mark.parametrize("model_id", registry.NEURAL_IDS)
def test_probabilities_do_not_depend_on_padding_or_batch(models, model_id, state):
    clf = models[(model_id, state)]
    diffs = max_padding_diffs(clf, PROBES)
    assert max(diffs.values()) <= TOLERANCE, diffs


def _cnn_before_zero_at_padding(keras, ids, clf):
    """The CNN as saved before padding was zeroed (kept to test that such files still load)."""
    from slm_core.models.keras_blocks import MaskedGlobalPool

    x = architectures._word_vectors(keras, ids, clf, mask_zero=False)
    x = keras.layers.Conv1D(
        int(clf.units), int(clf.kernel_size), padding="same", activation="relu", name="conv"
    )(x)
    return MaskedGlobalPool("max", name="pool")([x, ids])


def test_a_cnn_saved_before_the_fix_loads_with_its_weights_and_ignores_padding(
    monkeypatch, tmp_path
):
    from slm_core.models.keras_blocks import ZeroAtPadding

    current = architectures.ARCHITECTURES["cnn"]
    before = dataclasses.replace(current, features=_cnn_before_zero_at_padding)
    monkeypatch.setitem(architectures.ARCHITECTURES, "cnn", before)
    old = registry.build("cnn", "quick", SETTINGS_BY_MODEL["cnn"], seed=5).fit(*_corpus())
    old.save(tmp_path)
    assert max_padding_diffs(old, PROBES)["padded"] > 1e-4  # what loading repairs
    monkeypatch.undo()

    loaded = registry.load_model(tmp_path)
    assert any(isinstance(layer, ZeroAtPadding) for layer in loaded.model_.layers)
    assert max(max_padding_diffs(loaded, PROBES).values()) <= TOLERANCE
    # Unpadded, where the old graph read no padding either, the answers are the old model's.
    old_infer, new_infer = old._predict_fn(), loaded._predict_fn()
    for row in old.encode(PROBES):
        ids = row[None, : max(1, int((row != 0).sum()))]
        assert np.abs(np.asarray(old_infer(ids)) - np.asarray(new_infer(ids))).max() <= 1e-6


def test_a_saved_cnn_that_cannot_be_brought_up_to_date_says_so(models, tmp_path):
    models[("lstm", "trained")].save(tmp_path)
    meta = json.loads((tmp_path / "model.json").read_text(encoding="utf-8"))
    meta["model_id"] = meta["params"]["arch"] = "cnn"  # an LSTM graph with no "conv" layer
    (tmp_path / "model.json").write_text(json.dumps(meta), encoding="utf-8")
    with pytest.raises(TrainError, match="older version.*retrain it"):
        registry.load_model(tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("model_id", registry.NEURAL_IDS)
def test_served_forms_answer_as_the_model_does_on_each_text_alone(models, model_id, tmp_path):
    """LiteRT pads every text to max_len (in batches of 1 or 32), ONNX to the longest text of
    the call, Keras to the longest of its length bucket: all must equal the unpadded answer."""
    from slm_core.runtime.export import export_litert, export_onnx
    from slm_core.runtime.serve import LiteRTRuntime, OnnxRuntime

    clf = models[(model_id, "trained")]
    ids = clf.encode([*PROBES, LONG, *_corpus(per_class=6, seed=9)[0]])
    infer = clf._predict_fn()
    alone = np.vstack([np.asarray(infer(r[None, : max(1, int((r != 0).sum()))])) for r in ids])
    export_litert(clf.model_, clf.max_len_, tmp_path / "model.tflite")
    export_onnx(clf.model_, tmp_path / "model.onnx")
    served = {
        "keras": clf.predict_proba_ids(ids),
        "litert_f32": LiteRTRuntime(tmp_path / "model.tflite", threads=1).run(ids),
        "onnx": OnnxRuntime(tmp_path / "model.onnx", threads=1).run(ids),
    }
    diffs = {name: float(np.abs(proba - alone).max()) for name, proba in served.items()}
    assert max(diffs.values()) <= TOLERANCE, diffs
