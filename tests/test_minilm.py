"""The pretrained MiniLM encoder in Keras and ``minilm_head``: parity with the reference
implementation, learning, saving, the embedding cache and the language warning.

The reference vectors (tests/fixtures/minilm_reference.json) were computed once by
sentence-transformers on PyTorch (tests/fixtures/make_minilm_reference.py, not run here).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from slm_core.errors import CancelledError, TrainError
from slm_core.models import registry
from slm_core.models.base import TrainCallbacks
from slm_core.models.minilm.files import PACKAGE, encoder_files
from slm_core.models.minilm.language import CJK_WARNING, script_warning

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "minilm_reference.json"

SPORT = [
    "The striker scored twice in the final",
    "Our team won the league after a tense season",
    "The coach praised the young goalkeeper",
    "Fans cheered as the runner crossed the finish line",
    "The tennis match went to five sets",
    "He hit a home run in the ninth inning",
    "The referee showed a red card in the first half",
    "She won gold in the swimming relay",
    "The basketball playoffs start next week",
    "A late goal decided the derby",
    "The cyclist attacked on the final climb",
    "They trained hard before the marathon",
    "The boxer defended his title for the third time",
    "The rugby side lost narrowly in the rain",
    "Our captain lifted the trophy",
]
COOKING = [
    "Simmer the sauce for twenty minutes",
    "Whisk the eggs with a pinch of salt",
    "Bake the bread until golden brown",
    "Chop the onions and fry them in butter",
    "This soup needs more garlic",
    "Roast the chicken with lemon and thyme",
    "Knead the dough for ten minutes",
    "Season the steak before grilling it",
    "The recipe calls for fresh basil",
    "Stir the risotto slowly with warm stock",
    "Marinate the tofu overnight in soy sauce",
    "Dice the carrots for the stew",
    "Melt the chocolate gently over hot water",
    "Grate some parmesan over the pasta",
    "Let the cake cool before icing it",
]
# Train on the first 10 of each, stop early on the next 2, test on the last 3 (never seen).
TRAIN = (SPORT[:10] + COOKING[:10], ["sport"] * 10 + ["cooking"] * 10)
VAL = (SPORT[10:12] + COOKING[10:12], ["sport"] * 2 + ["cooking"] * 2)
TEST = (
    SPORT[12:] + COOKING[12:] + ["The goalie saved a penalty", "Add sugar and bake the cake"],
    ["sport"] * 3 + ["cooking"] * 3 + ["sport", "cooking"],
)


@pytest.fixture(scope="module")
def encoder():
    from slm_core.models.minilm.encoder import shared_encoder

    return shared_encoder()


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """``minilm_head`` (quick) trained with a dataset's embedding cache, and saved."""
    home = tmp_path_factory.mktemp("minilm_home")
    stages: list[tuple[str, int, int]] = []
    model = registry.build("minilm_head", "quick", seed=3)
    model.use_embedding_cache(home, "dataset1")
    hooks = TrainCallbacks(on_stage=lambda *args: stages.append(args))
    model.fit(*TRAIN, *VAL, callbacks=hooks)
    stages.append(("embedded", model.embedded_texts_, 0))
    directory = home / "saved"
    model.save(directory)
    return model, home, directory, stages


def test_embeddings_match_the_reference_implementation(encoder):
    reference = json.loads(FIXTURE.read_text(encoding="utf-8"))
    expected = np.array(reference["embeddings"], dtype=np.float64)
    vectors = encoder.embed(reference["sentences"], batch_size=3).astype(np.float64)
    assert vectors.shape == expected.shape == (len(reference["sentences"]), 384)
    assert vectors.dtype == np.float64 and np.allclose(np.linalg.norm(vectors, axis=1), 1, 1e-5)
    cosine = (vectors * expected).sum(axis=1) / np.linalg.norm(expected, axis=1)
    assert cosine.min() >= 0.999, dict(zip(reference["sentences"], cosine.round(6), strict=True))
    # The long text is cut where sentence-transformers cuts it.
    ids, _ = encoder.tokenize(reference["sentences"])
    assert max(len(i) for i in ids) == reference["max_seq_length"] == encoder_files().max_tokens


def test_embedding_does_not_depend_on_the_batch_it_is_in(encoder):
    texts = ["ok", "A much longer sentence about football, cooking and the weather today."]
    together = encoder.embed(texts, batch_size=2)
    alone = np.vstack([encoder.embed([t]) for t in texts])
    assert np.allclose(together, alone, atol=1e-5)
    assert encoder.embed([]).shape == (0, 384)


def test_the_top_layers_are_pooled_side_by_side_after_the_sentence_vector(encoder):
    from slm_core.models.keras_runtime import keras_modules

    _, keras = keras_modules()
    texts = ["ok", SPORT[0], COOKING[1], "A much longer sentence about the weather and trains."]
    one = encoder.embed(texts)
    three = encoder.embed(texts, pooled_layers=3, batch_size=2).reshape(len(texts), 3, -1)
    assert three.shape[2] == one.shape[1] == 384
    assert np.allclose(three[:, 0], one, atol=1e-6)  # first the sentence-transformers vector
    assert np.allclose(np.linalg.norm(three, axis=2), 1, atol=1e-5)
    # Each block is one layer, the last first, pooled here independently: the mean over the
    # word pieces, normalised.
    base = encoder.keras_model()
    ids, _ = encoder.tokenize(texts)
    for block, layer in enumerate(("layer5", "layer4", "layer3")):
        states_of = keras.Model(base.inputs, base.get_layer(layer).output)
        for j, row in enumerate(ids):
            states = np.asarray(states_of([row[None, :], np.ones((1, len(row)), np.int32)]))[0]
            pooled = states.mean(axis=0)
            assert np.allclose(three[j, block], pooled / np.linalg.norm(pooled), atol=1e-5)
    assert not np.allclose(three[:, 1], three[:, 0], atol=1e-2)
    # The encoder's weights are one copy whatever the pooling.
    assert encoder.keras_model(3).get_layer("layer0") is base.get_layer("layer0")
    with pytest.raises(ValueError):
        encoder.keras_model(7)


def test_presets_read_three_layers_and_a_model_saved_before_the_setting_reads_one(tmp_path):
    presets = registry.get_spec("minilm_head").presets
    assert {p["pooled_layers"] for p in presets.values()} == {3}
    model = registry.build("minilm_head", "quick", {"pooled_layers": 1}, seed=2)
    model.fit(*TRAIN, *VAL)
    assert model.head_.input_shape[-1] == 384
    directory = tmp_path / "runs" / "1" / "model"
    model.save(directory)
    meta_path = directory / "model.json"
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    assert meta["params"]["pooled_layers"] == 1
    del meta["params"]["pooled_layers"]  # as written before the setting existed
    meta_path.write_text(json.dumps(meta), encoding="utf-8")
    loaded = registry.load_model(directory)
    assert loaded.pooled_layers == 1
    assert np.allclose(loaded.predict_proba(TEST[0]), model.predict_proba(TEST[0]), atol=1e-6)


def test_each_pooling_keeps_its_own_cached_vectors(tmp_path):
    def read(layers: int) -> int:
        """Texts the encoder read to train a head on ``layers`` layers (the rest: the cache)."""
        model = registry.build("minilm_head", "quick", {"epochs": 2, "pooled_layers": layers})
        model.use_embedding_cache(tmp_path, "dataset1").fit(*TRAIN)
        return getattr(model, "embedded_texts_", 0)

    assert [read(1), read(3), read(1), read(3)] == [20, 20, 0, 0]
    files = sorted(p.name for p in (tmp_path / "datasets" / "dataset1.embeddings").iterdir())
    assert len(files) == 2 and sum("-top3" in name for name in files) == 1


def test_the_head_learns_sport_versus_cooking_and_reports_embedding_progress(trained):
    model, _, _, stages = trained
    assert model.classes_ == ["cooking", "sport"]
    assert model.head_.input_shape[-1] == 3 * 384  # the preset reads the top three layers
    accuracy = np.mean(np.array(model.predict(TEST[0])) == np.array(TEST[1]))
    assert accuracy >= 0.9, accuracy
    proba = model.predict_proba(TEST[0])
    assert proba.shape == (len(TEST[0]), 2) and np.allclose(proba.sum(axis=1), 1)
    assert set(model.history_) >= {"loss", "val_loss"} and model.history_["loss"]
    # Training and validation texts were embedded in one pass, its progress reported.
    assert stages[-2:] == [("embedding", 1, 1), ("embedded", 24, 0)]  # one batch of 24
    # The served view (word-piece ids through encoder + head) answers the same.
    assert np.allclose(model.predict_proba_ids(model.encode(TEST[0])), proba, atol=1e-5)


def test_the_dataset_cache_is_reused_and_a_loaded_model_runs_the_encoder(trained):
    model, home, directory, stages = trained
    assert stages[-1] == ("embedded", 24, 0)  # 20 training + 4 validation texts, once
    before = model.embedded_texts_
    model.predict_proba(TRAIN[0] + VAL[0])
    assert model.embedded_texts_ == before  # all from the cache
    few = {"epochs": 2}  # only the embedding matters here
    again = registry.build("minilm_head", "balanced", few, seed=5)
    again.use_embedding_cache(home, "dataset1")
    again.fit(*TRAIN, *VAL)
    assert getattr(again, "embedded_texts_", 0) == 0
    files = list((home / "datasets" / "dataset1.embeddings").iterdir())
    assert len(files) == 1 and encoder_files().weights_sha256[:16] in files[0].name
    # Another dataset has its own cache; a model without one always runs the encoder.
    other = registry.build("minilm_head", "quick", few).use_embedding_cache(home, "dataset2")
    other.fit(*TRAIN)
    assert other.embedded_texts_ == 20
    loaded = registry.load_model(directory)
    loaded.predict_proba(TRAIN[0][:2])
    assert loaded.embedded_texts_ == 2


def test_saved_model_names_the_encoder_and_reloads_in_a_fresh_process(trained, tmp_path):
    model, _, directory, _ = trained
    meta = json.loads((directory / "model.json").read_text(encoding="utf-8"))
    assert meta["family"] == "pretrained" and meta["model_id"] == "minilm_head"
    files = encoder_files()
    assert meta["encoder"]["package"] == PACKAGE
    assert meta["encoder"]["weights_sha256"] == files.weights_sha256
    size = sum(f.stat().st_size for f in directory.rglob("*") if f.is_file())
    assert size < 5_000_000  # the head only, not a copy of the 90 MB encoder
    out = tmp_path / "proba.npy"
    code = (
        "import json, sys, numpy as np\n"
        "from slm_core.models.registry import load_model\n"
        "model = load_model(sys.argv[1])\n"
        "np.save(sys.argv[3], model.predict_proba(json.loads(sys.argv[2])))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", code, str(directory), json.dumps(TEST[0]), str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert np.allclose(np.load(out), model.predict_proba(TEST[0]), atol=1e-6)


def test_a_model_trained_on_other_encoder_weights_is_refused(trained, tmp_path):
    _, _, directory, _ = trained
    copy = tmp_path / "other"
    copy.mkdir()
    (copy / "model.keras").write_bytes((directory / "model.keras").read_bytes())
    meta = json.loads((directory / "model.json").read_text(encoding="utf-8"))
    meta["encoder"] = {**meta["encoder"], "weights_sha256": "0" * 64, "encoder_id": "old"}
    (copy / "model.json").write_text(json.dumps(meta), encoding="utf-8")
    with pytest.raises(TrainError, match="trained on the encoder old"):
        registry.load_model(copy)


def test_cancelling_while_embedding_stops_before_training():
    model = registry.build("minilm_head", "quick")
    hooks = TrainCallbacks(should_stop=lambda: bool(getattr(model, "embedded_texts_", 0)))
    with pytest.raises(CancelledError):
        model.fit(*TRAIN, callbacks=hooks)
    assert not hasattr(model, "head_")


def test_mostly_chinese_data_warns_and_english_does_not(trained):
    chinese = ["我的快递三天了还没有到", "请问怎么申请退款", "账户登录不了，密码错误 OK"]
    assert script_warning(chinese) == CJK_WARNING
    assert script_warning(script="cjk") == CJK_WARNING
    assert script_warning(TRAIN[0]) is None
    assert script_warning(["I ordered 一个 phone case and it is late, please help me"]) is None
    assert trained[0].script_warning_ is None
    from slm_core.i18n import t

    assert "English" in t(CJK_WARNING) and "英文" in t(CJK_WARNING, "zh")


def test_deleting_a_dataset_deletes_its_cached_vectors(tmp_path):
    import pandas as pd

    from slm_core.data.split import content_hash
    from slm_core.models.minilm.cache import EmbeddingCache
    from slm_core.store import RunStore

    store = RunStore(f"sqlite:///{tmp_path / 'runs.sqlite'}", tmp_path)
    frame = pd.DataFrame({"text": ["a b", "c d"], "label": ["x", "y"]})
    dataset = store.add_dataset(
        "d", "cli", "d.csv", content_hash(frame), frame, report={}, split_config={}
    )
    cache = EmbeddingCache(tmp_path, dataset.id, "encoder", 2)
    cache.embed(["a b"], lambda texts, progress: np.ones((len(texts), 2)))
    assert cache.path.is_file() and cache.computed == 1
    reread = EmbeddingCache(tmp_path, dataset.id, "encoder", 2)
    assert reread.embed(["a b"], None).tolist() == [[1.0, 1.0]] and reread.computed == 0
    store.delete_dataset(dataset.id)
    assert not cache.path.parent.exists()
    store.close()


def test_the_keras_form_serves_raw_texts_and_counts_the_encoder_in_its_size(trained):
    from slm_core.runtime.serve import load_predictor

    model, _, directory, _ = trained
    predictor = load_predictor(directory, threads=1, form="keras")
    assert predictor.family == "pretrained" and predictor.classes_ == model.classes_
    ids = predictor.vectorize(TEST[0][:2])
    assert ids.dtype == np.int32 and ids.shape == (2, encoder_files().max_tokens)
    assert np.allclose(predictor.predict_proba(TEST[0]), model.predict_proba(TEST[0]), atol=1e-5)
    assert predictor.predict_one(TEST[0][0]).label == "sport"
    assert predictor.artifact_bytes > encoder_files().weights.stat().st_size
