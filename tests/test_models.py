"""Model zoo: every family fits, predicts, saves and reloads identically in a fresh process."""

from __future__ import annotations

import ast
import inspect
import json
import os
import random
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from slm_core.errors import CancelledError, NotFoundError, TrainError
from slm_core.models import registry, saved
from slm_core.models.base import TrainCallbacks
from slm_core.models.tokenize import Vocabulary, joined_tokens, tokenize

ROOT = Path(__file__).resolve().parents[1]
TINY = {"epochs": 2, "embedding_dim": 16, "units": 8, "vocab_size": 300, "batch_size": 16}
TINY_BY_MODEL = {"transformer": {**TINY, "heads": 2}}
# Enough for every Keras model to learn the keyword topics below in a few seconds.
LEARN = {"epochs": 6, "learning_rate": 0.01, "patience": 3}

_EN = {
    "sport": "match goal team coach league score player season win stadium",
    "money": "bank price market profit shares tax budget loan interest trade",
    "tech": "phone software chip internet app data cloud robot code laptop",
}
_FILLER = "the a of and to in is was for on with it this that new big"
_ZH = {
    "退款": "退款钱到账取消订单退货申请",
    "物流": "快递包裹签收物流送到更新",
    "账户": "登录密码账户绑定冻结验证码",
}
_ZH_FILLER = "我的你了吗请问怎么一直还是"


def english(per_class: int = 40, seed: int = 0) -> tuple[list[str], list[str]]:
    """Keyword-topic texts with shared filler words; a few carry U+0085 / U+2028 inside."""
    rng = random.Random(seed)
    texts, labels = [], []
    for label, words in _EN.items():
        for i in range(per_class):
            tokens = rng.sample(words.split(), 3) + rng.sample(_FILLER.split(), rng.randint(2, 6))
            rng.shuffle(tokens)
            text = " ".join(tokens) + rng.choice([".", "!", "?", ""])
            if i % 10 == 0:  # the characters that broke line-based vocabulary files
                text = text.replace(" ", "\x85", 1).replace(" ", "\u2028", 1)
            texts.append(text)
            labels.append(label)
    order = list(range(len(texts)))
    rng.shuffle(order)
    return [texts[i] for i in order], [labels[i] for i in order]


def chinese(per_class: int = 20, seed: int = 0) -> tuple[list[str], list[str]]:
    rng = random.Random(seed)
    texts, labels = [], []
    for label, chars in _ZH.items():
        for _ in range(per_class):
            picked = rng.sample(chars, 4) + rng.sample(_ZH_FILLER, 3)
            rng.shuffle(picked)
            texts.append("".join(picked) + "，OK")
            labels.append(label)
    return texts, labels


def tiny(model_id: str, preset: str = "quick", **extra) -> dict:
    if model_id in registry.LINEAR_IDS:
        return {"min_df": 1, **extra}
    if model_id in registry.PRETRAINED_IDS:  # a frozen encoder: only the head trains
        return dict(extra)
    return {**TINY_BY_MODEL.get(model_id, TINY), **extra}


TRAIN = english(40, seed=0)
VAL = english(10, seed=1)
TEST = english(10, seed=2)  # texts no model trained or stopped early on
PROBE = [
    "goal team win",
    "bank loan tax",
    "robot code\u2028cloud",
    "",
    "completely unseen words here",
    "ＡＢＣ full-width and emoji 🙂!",
]


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> dict:
    """Every model id trained on the tiny English corpus and saved: id -> (model, dir, proba)."""
    out = {}
    base = tmp_path_factory.mktemp("models")
    for model_id in registry.MODEL_IDS:
        settings = tiny(model_id, **(LEARN if model_id in registry.NEURAL_IDS else {}))
        model = registry.build(model_id, "quick", settings, seed=7)
        model.fit(*TRAIN, *VAL)
        model.save(base / model_id)
        out[model_id] = (model, base / model_id, model.predict_proba(PROBE))
    return out


# -- registry ------------------------------------------------------------------------------


def test_importing_the_registry_loads_neither_tensorflow_nor_sklearn():
    code = (
        "import sys, slm_core.models.registry as r; r.get_spec('lstm'); "
        "r.resolve_params('transformer', 'quick', {'epochs': 2}); "
        "bad = [m for m in ('tensorflow', 'keras', 'sklearn') if m in sys.modules]; "
        "import slm_core.models.linear; "
        "bad += ['tensorflow (via linear)'] if 'tensorflow' in sys.modules else []; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_spec_has_presets_help_and_a_plain_description():
    # The ids come from the one spec table, quick linear baselines first (the Train page order).
    assert tuple(registry.SPECS) == registry.MODEL_IDS and len(registry.MODEL_IDS) >= 2
    assert registry.MODEL_IDS == (
        registry.LINEAR_IDS + registry.NEURAL_IDS + registry.PRETRAINED_IDS
    )
    for model_id in registry.MODEL_IDS:
        spec = registry.get_spec(model_id)
        assert spec.id == model_id and spec.family in ("linear", "neural", "pretrained")
        assert spec.family in registry.FAMILIES
        assert set(spec.presets) == set(registry.PRESETS)
        assert "Strengths" in spec.description and "Weaknesses" in spec.description
        for preset in registry.PRESETS:
            params = registry.resolve_params(model_id, preset)
            assert set(params) <= set(spec.param_help)
            assert registry.build(model_id, preset).model_id == model_id


def test_every_spec_has_its_part_in_its_family_module():
    """A model added to the spec table without its builder (or the reverse) fails here."""
    from slm_core.models import architectures, linear, neural
    from slm_core.models.minilm import head

    modules = {"linear": linear, "neural": neural, "pretrained": head}
    parts = {
        "linear": linear.LINEAR_CLASSES,
        "neural": architectures.ARCHITECTURES,
        "pretrained": head.PRETRAINED_MODELS,
    }
    assert set(parts) == set(registry.FAMILIES)
    for family, part in parts.items():
        assert registry.family_module(family) is modules[family]
        assert set(part) == set(registry.ids_of(family)), family
    assert registry.ids_of("linear") == registry.LINEAR_IDS
    assert registry.ids_of("neural") == registry.NEURAL_IDS


def _model_imports() -> dict[str, set[str]]:
    """The ``slm_core.models`` modules each one imports, at its top or inside a function."""
    prefix, graph = "slm_core.models.", {}
    for path in sorted((ROOT / "slm_core" / "models").glob("*.py")):
        names = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module == "slm_core.models":
                names |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith(prefix):
                names.add(node.module.removeprefix(prefix))
            elif isinstance(node, ast.Import):
                names |= {a.name.removeprefix(prefix) for a in node.names if prefix in a.name}
        graph[path.stem] = {name.split(".")[0] for name in names} - {path.stem}
    return graph


def test_model_modules_import_each_other_without_a_circle():
    graph = _model_imports()
    assert "saved" in graph["linear"] and "saved" in graph["neural"]  # write_meta
    assert "registry" not in graph["linear"] | graph["neural"] | graph["saved"]

    def reachable(start: str) -> set[str]:
        seen, todo = set(), [start]
        while todo:
            for name in graph.get(todo.pop(), set()) - seen:
                seen.add(name)
                todo.append(name)
        return seen

    assert [name for name in graph if name in reachable(name)] == [], graph


def test_model_settings_are_keyword_only_after_the_first():
    from slm_core.models.linear import LINEAR_CLASSES
    from slm_core.models.minilm.head import PRETRAINED_MODELS
    from slm_core.models.neural import KerasTextClassifier

    for cls in (KerasTextClassifier, *LINEAR_CLASSES.values(), *PRETRAINED_MODELS.values()):
        first, *rest = inspect.signature(cls).parameters.values()
        assert first.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD, cls
        assert rest and all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in rest), cls


def test_unknown_model_lists_the_valid_ids():
    with pytest.raises(TrainError, match=re.escape(", ".join(registry.MODEL_IDS))):
        registry.get_spec("gpt5")
    with pytest.raises(TrainError, match="quick, balanced, thorough"):
        registry.resolve_params("lstm", "extreme")


@pytest.mark.parametrize(
    ("model_id", "overrides", "message"),
    [
        ("lstm", {"epochs": -1}, "'epochs' must be between 1 and 500"),
        ("lstm", {"epochs": 2.5}, "whole number"),
        ("lstm", {"dropout": 1.0}, "'dropout' must be at least 0 and below 1"),
        ("cnn", {"learning_rate": 0}, "'learning_rate' must be between"),
        ("bigru", {"batch_size": "many"}, "must be a number"),
        ("transformer", {"heads": 64, "embedding_dim": 32}, "'heads'"),
        ("lstm", {"class_weight": "perhaps"}, "true or false"),
        ("lstm", {"units": float("nan")}, "finite"),
        ("lstm", {"kernel_size": 3}, "not a setting of the lstm model"),
        ("tfidf_lr", {"C": -1}, "'C' must be between"),
        ("nb", {"units": 3}, "not a setting of the nb model"),
        ("lstm", {"epochs": None}, "needs a value"),
    ],
)
def test_bad_hyper_parameters_raise_a_readable_train_error(model_id, overrides, message):
    with pytest.raises(TrainError, match=message):
        registry.build(model_id, "balanced", overrides)


def test_overrides_are_coerced_and_kept_in_the_effective_params():
    params = registry.resolve_params(
        "cnn", "quick", {"epochs": "4", "dropout": "0.1", "max_len": "", "class_weight": "true"}
    )
    assert params["epochs"] == 4 and params["dropout"] == 0.1
    assert params["max_len"] is None and params["class_weight"] is True
    # A CLI-wide --epochs does not fail the one-pass linear models.
    assert "epochs" not in registry.resolve_params("tfidf_lr", "quick", {"epochs": 3})
    model = registry.build("cnn", "quick", {"epochs": 4}, token_unit="char", seed=3)
    assert model.get_params()["epochs"] == 4
    assert model.get_params()["token_unit"] == "char" and model.get_params()["seed"] == 3
    assert model.get_params()["lsa_init"] is None  # automatic
    # scikit-learn's rule: get_params() returns exactly the constructor's arguments.
    for model_id in registry.MODEL_IDS:
        built = registry.build(model_id)
        assert set(inspect.signature(type(built)).parameters) == set(built.get_params())
    with pytest.raises(TrainError, match="Token unit"):
        registry.build("cnn", "quick", token_unit="byte")


# -- tokenisation and vocabulary -----------------------------------------------------------


def test_words_and_punctuation_are_tokens_and_text_is_normalised():
    assert tokenize("Don't  STOP!\u2028Now\x85", "word") == ["don", "'", "t", "stop", "!", "now"]
    assert tokenize("ＡＢＣ１２３", "word") == ["abc123"]


def test_chinese_is_tokenised_by_character_and_latin_words_stay_whole():
    assert tokenize("我想退款，iPhone 15坏了", "char") == [
        "我",
        "想",
        "退",
        "款",
        ",",
        "iphone",
        "15",
        "坏",
        "了",
    ]  # fmt: skip  (NFKC folds the full-width comma)
    # CJK runs split into characters in every unit (issue 12: mixed-script files).
    assert tokenize("我想退款", "word") == ["我", "想", "退", "款"]


def test_python_encoding_equals_text_vectorization(trained):
    import keras

    model = trained["lstm"][0]
    texts = [*TRAIN[0][:20], *PROBE, "[UNK] unk\u00a0goal\u3000team  tab\tend", "x " * 200]
    layer = keras.layers.TextVectorization(
        standardize=None,
        split="whitespace",
        vocabulary=model.vocabulary_.terms,
        output_sequence_length=model.max_len_,
    )
    expected = layer(joined_tokens(texts, "word")).numpy()
    assert np.array_equal(model.encode(texts), expected)
    assert model.encode(texts).dtype == np.int32


def test_vocabulary_json_round_trips_terms_with_line_separators(tmp_path):
    terms = ["", "[UNK]", "a\x85b", "c\u2028d", "e\rf", "中文", "\u2029"]
    vocab = Vocabulary(terms, "word")
    vocab.save(tmp_path / "vocab.json")
    assert Vocabulary.load(tmp_path / "vocab.json").terms == terms
    with pytest.raises(TrainError, match="repeated term"):
        Vocabulary(["", "[UNK]", "x", "x"])


def test_trained_vocabulary_holds_no_line_breaking_characters(trained):
    terms = trained["lstm"][0].vocabulary_.terms
    assert all(len(t.splitlines()) <= 1 for t in terms)
    assert not any(ch in t for t in terms for ch in "\x85\u2028\u2029\r\n")


# -- every family --------------------------------------------------------------------------


def keras_loss(model, texts, labels, label_weights: dict[str, float] | None = None) -> float:
    """Mean cross-entropy of ``model`` on ``texts``, each text's loss times its label's weight:
    what Keras reports as ``val_loss`` (a weighted sum over the number of texts)."""
    proba = model.predict_proba(texts)
    y = np.array([model.classes_.index(v) for v in labels])
    losses = -np.log(np.clip(proba[np.arange(len(y)), y], 1e-7, 1.0))
    weights = np.array([(label_weights or {}).get(v, 1.0) for v in labels])
    return float(np.mean(weights * losses))


@pytest.mark.parametrize("model_id", registry.MODEL_IDS)
def test_each_model_learns_the_keyword_topics(trained, model_id):
    model, _, proba = trained[model_id]
    assert model.classes_ == ["money", "sport", "tech"]
    assert np.allclose(proba.sum(axis=1), 1.0, atol=1e-6) and (proba >= 0).all()
    predicted = model.predict(PROBE)
    assert predicted == [model.classes_[i] for i in proba.argmax(axis=1)]
    assert predicted[:3] == ["sport", "money", "tech"]
    accuracy = np.mean(np.array(model.predict(TEST[0])) == np.array(TEST[1]))
    assert accuracy >= 0.9, (accuracy, getattr(model, "history_", None))
    if model_id in registry.NEURAL_IDS:
        # Early stopping kept the epoch with the lowest validation loss.
        val_loss = model.history_["val_loss"]
        assert keras_loss(model, *VAL) == pytest.approx(min(val_loss), rel=1e-4, abs=1e-6)


def test_saved_models_reload_in_a_fresh_process_with_identical_probabilities(trained, tmp_path):
    dirs = {model_id: str(d) for model_id, (_, d, _) in trained.items()}
    out = tmp_path / "proba.npz"
    code = (
        "import json, sys, numpy as np\n"
        "from slm_core.models.registry import load_model\n"
        "dirs, texts = json.loads(sys.argv[1]), json.loads(sys.argv[2])\n"
        "proba = {k: load_model(d).predict_proba(texts) for k, d in dirs.items()}\n"
        "np.savez(sys.argv[3], **proba)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", code, json.dumps(dirs), json.dumps(PROBE), str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    reloaded = np.load(out)
    for model_id, (_, _, proba) in trained.items():
        assert np.array_equal(reloaded[model_id], proba), model_id


def test_keras_artifact_has_no_optimizer_state_and_no_lambda_layer(trained):
    _, directory, _ = trained["transformer"]
    meta = json.loads((directory / "model.json").read_text(encoding="utf-8"))
    assert meta["format_version"] == saved.FORMAT_VERSION and meta["model_id"] == "transformer"
    assert meta["files"] == {"model": "model.keras", "vocabulary": "vocab.json"}
    with zipfile.ZipFile(directory / "model.keras") as archive:
        config = json.loads(archive.read("config.json"))
        names = archive.namelist()
    assert not config.get("compile_config")
    assert "Lambda" not in json.dumps(config)
    import h5py

    with zipfile.ZipFile(directory / "model.keras") as archive:
        archive.extract("model.weights.h5", directory / "unzipped")
    with h5py.File(directory / "unzipped" / "model.weights.h5") as weights:
        assert "optimizer" not in weights, names


def test_linear_token_contributions_add_up_to_the_class_score(trained):
    model = trained["tfidf_lr"][0]
    text = "goal team bank the"
    contributions = model.token_contributions(text)
    k = int(model.predict_proba([text])[0].argmax())
    coef, intercept = model.estimator_.coef_, model.estimator_.intercept_
    features = model.vectorizer_.transform([text])
    logits = features @ coef.T + intercept
    centred = logits - logits.mean()
    centred_intercept = intercept[k] - intercept.mean()
    assert sum(v for _, v in contributions) + centred_intercept == pytest.approx(centred[0, k])
    assert contributions[0][0] in ("goal", "team", "goal team")  # sorted by size, sport first
    assert model.token_contributions("zzz qqq") == []


def test_load_model_of_an_empty_directory_says_so(tmp_path):
    with pytest.raises(NotFoundError, match="No saved model"):
        registry.load_model(tmp_path)


# -- training behaviour --------------------------------------------------------------------


def test_class_weights_weight_the_validation_loss_that_early_stopping_watches():
    """Training minimises the class-weighted loss; early stopping must compare epochs on it."""
    kept = {"sport": 40, "money": 6, "tech": 6}

    def imbalanced(texts, labels, scale):
        seen: dict[str, int] = {}
        rows = []
        for text, label in zip(texts, labels, strict=True):
            seen[label] = seen.get(label, 0) + 1
            if seen[label] <= kept[label] * scale:
                rows.append((text, label))
        return [t for t, _ in rows], [v for _, v in rows]

    train, val = imbalanced(*TRAIN, 1.0), imbalanced(*VAL, 0.25)
    model = registry.build("cnn", "quick", tiny("cnn", epochs=1, class_weight=True), seed=3)
    model.fit(*train, *val)
    n, k = len(train[1]), len(kept)
    weights = {label: n / (k * count) for label, count in kept.items()}
    weighted, plain = keras_loss(model, *val, weights), keras_loss(model, *val)
    assert abs(weighted - plain) > 0.05 * plain  # the weights matter on this split
    assert model.history_["val_loss"][0] == pytest.approx(weighted, rel=1e-4)


def test_chinese_neural_and_linear_models_use_characters(tmp_path):
    texts, labels = chinese()
    neural = registry.build("cnn", "quick", tiny("cnn"), token_unit="char").fit(texts, labels)
    cjk_terms = [t for t in neural.vocabulary_.terms[2:] if t != "ok"]
    assert cjk_terms and all(len(t) == 1 for t in cjk_terms)
    assert "ok" in neural.vocabulary_.terms  # the Latin word stays whole
    linear = registry.build("tfidf_lr", "quick", tiny("tfidf_lr"), token_unit="char")
    linear.fit(texts, labels)
    assert linear.vectorizer_.analyzer == "char_wb"
    assert linear.predict(["我想退款钱"]) == ["退款"]
    neural.save(tmp_path / "zh")
    assert registry.load_model(tmp_path / "zh").vocabulary_.unit == "char"


def test_callbacks_report_every_batch_and_epoch():
    batches, epochs = [], []
    hooks = TrainCallbacks(
        on_batch=lambda e, b, n: batches.append((e, b, n)),
        on_epoch=lambda e, n, logs: epochs.append((e, n, dict(logs))),
    )
    model = registry.build("lstm", "quick", tiny("lstm", patience=5, class_weight=True))
    model.fit(*TRAIN, *VAL, callbacks=hooks)
    total = batches[0][2]
    assert total == -(-len(TRAIN[0]) // TINY["batch_size"])
    assert [b for e, b, _ in batches if e == 0] == list(range(total))
    assert [(e, n) for e, n, _ in epochs] == [(0, 2), (1, 2)]
    assert set(epochs[0][2]) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert model.history_["val_loss"] == [logs["val_loss"] for _, _, logs in epochs]

    linear_epochs = []
    hooks = TrainCallbacks(on_epoch=lambda e, n, logs: linear_epochs.append((e, n, logs)))
    registry.build("nb", "quick", {"class_weight": True}).fit(*TRAIN, *VAL, callbacks=hooks)
    assert linear_epochs[0][:2] == (0, 1) and linear_epochs[0][2]["val_accuracy"] > 0.9


def test_a_token_budget_gives_long_texts_smaller_batches():
    from slm_core.models.batching import MIN_TOKEN_BATCH, derive_batch_size

    assert derive_batch_size(128, None, 256) == 128  # no budget: the batch size
    assert derive_batch_size(128, 8192, 37) == 128  # tweets: the full batch
    assert derive_batch_size(128, 8192, 256) == 32  # documents: 8192 / 256 tokens
    assert derive_batch_size(128, 100, 256) == MIN_TOKEN_BATCH  # never a handful of texts
    assert derive_batch_size(4, 8192, 256) == 4

    seen = []
    hooks = TrainCallbacks(on_batch=lambda e, b, n: seen.append(n))
    overrides = tiny("lstm", epochs=1, batch_size=64, batch_tokens=80, max_len=10)
    model = registry.build("lstm", "quick", overrides).fit(*TRAIN, callbacks=hooks)
    assert model.batch_size_ == MIN_TOKEN_BATCH  # 80 tokens / 10 per text
    assert seen[0] == -(-len(TRAIN[0]) // MIN_TOKEN_BATCH)


def test_lsa_word_vectors_put_co_occurring_words_together():
    from slm_core.models.lsa import lsa_vectors

    # ids 2/3 always appear in the same texts, as do 4/5; the two pairs never meet.
    rows = [[2, 3, 6 + i % 3, 0] if i % 2 else [4, 5, 6 + i % 3, 0] for i in range(40)]
    vectors = lsa_vectors(np.array(rows, dtype=np.int32), vocab_size=9, dim=4)
    unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    assert unit[2] @ unit[3] > 0.9 and unit[4] @ unit[5] > 0.9
    assert abs(unit[2] @ unit[4]) < 0.5
    assert vectors.shape == (9, 4)


def test_lsa_initialisation_is_automatic_for_documents_only(trained):
    assert trained["lstm"][0].lsa_used_ is False  # short texts
    documents = [" ".join(TRAIN[0][i : i + 12]) for i in range(0, 120, 2)]
    labels = [TRAIN[1][i] for i in range(0, 120, 2)]
    for model_id, expected in (("cnn", True), ("transformer", False)):
        model = registry.build(model_id, "quick", tiny(model_id, epochs=1)).fit(documents, labels)
        assert model.lsa_used_ is expected, model_id
    forced = registry.build("transformer", "quick", tiny("transformer", epochs=1, lsa_init=True))
    assert forced.fit(*TRAIN).lsa_used_ is True


@pytest.mark.parametrize("model_id", ["lstm", "transformer", "tfidf_svm"])
def test_should_stop_cancels_promptly(model_id):
    seen = []
    hooks = TrainCallbacks(
        on_batch=lambda e, b, n: seen.append((e, b)),
        should_stop=lambda: len(seen) >= 1,
    )
    model = registry.build(model_id, "quick", tiny(model_id, epochs=50))
    with pytest.raises(CancelledError):
        model.fit(*TRAIN, *VAL, callbacks=hooks)
    assert len(seen) == 1


# -- real data -----------------------------------------------------------------------------


@pytest.mark.slow
def test_balanced_models_beat_the_majority_class_on_tweets():
    from slm_core.data.split import make_splits
    from slm_core.data.types import SplitConfig
    from slm_core.dataset import load_demo_dataset

    splits = make_splits(load_demo_dataset("tweets").frame, SplitConfig(seed=42))
    train = splits.train.sample(8000, random_state=0)
    majority = splits.test["label"].value_counts(normalize=True).iloc[0]
    for model_id in ("tfidf_lr", "cnn"):
        model = registry.build(model_id, "balanced", seed=42)
        model.fit(train["text"], train["label"], splits.val["text"], splits.val["label"])
        predicted = np.array(model.predict(list(splits.test["text"])))
        accuracy = float(np.mean(predicted == splits.test["label"].to_numpy()))
        assert accuracy > majority + 0.15, (model_id, accuracy, majority)
        assert len(set(predicted)) == 3
