"""TF-IDF linear baselines: logistic regression, calibrated linear SVM, complement naive Bayes.

They follow scikit-learn's rules (``__init__`` stores parameters, ``fit`` returns ``self``,
fitted attributes end in ``_``) and are saved with joblib, a pickle: load only files this app
wrote. Words and word pairs are the features for space-delimited text; character 1-4-grams
(within word boundaries) for Chinese, Japanese or mixed text, where words are not delimited.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import joblib
import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import HashingVectorizer, TfidfVectorizer
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.metrics import log_loss
from sklearn.model_selection import StratifiedKFold
from sklearn.naive_bayes import ComplementNB
from sklearn.svm import LinearSVC

from slm_core.errors import TrainError, render
from slm_core.models.base import TrainCallbacks, check_training_input
from slm_core.models.hashed_tfidf import HashedTfidf, out_of_core_rows
from slm_core.models.saved import write_meta
from slm_core.models.tokenize import standardize, tokenize

MODEL_FILE = "model.joblib"
DEFAULT_NGRAM_MAX = {"word": 2, "char": 4}
# Out-of-core training (above ``out_of_core_rows()`` training texts): the features are hashed
# n-grams (no vocabulary to hold) and the estimator learns a chunk at a time, so memory does not
# grow with the vocabulary or with one sparse matrix of every text.
OUT_OF_CORE_CHUNK = 20_000  # texts vectorised at a time
OUT_OF_CORE_EPOCHS = 3  # passes of stochastic gradient descent over the shuffled texts
HASH_FEATURES = 2**20
_LOG_SAMPLE = 20_000  # training texts the training loss and accuracy are measured on


def word_tokens(text: str) -> list[str]:
    """Word tokenizer for TF-IDF (module-level so that pickled models find it)."""
    return tokenize(text, "word")


class _TfidfClassifier(ClassifierMixin, BaseEstimator):
    """TF-IDF features feeding one linear estimator; subclasses choose the estimator."""

    model_id: ClassVar[str] = ""

    def __init__(
        self,
        ngram_max: int | None,
        min_df: int,
        max_features: int | None,
        sublinear_tf: bool,
        class_weight: bool,
        token_unit: str,
        seed: int,
    ):
        # scikit-learn reads each subclass's own __init__ signature for get_params, so the
        # subclasses list every parameter and hand the shared ones to this one.
        self.ngram_max = ngram_max
        self.min_df = min_df
        self.max_features = max_features
        self.sublinear_tf = sublinear_tf
        self.class_weight = class_weight
        self.token_unit = token_unit
        self.seed = seed

    # -- subclass hooks ------------------------------------------------------------------

    def _estimator(self, y: np.ndarray) -> Any:
        raise NotImplementedError

    def _class_weights(self) -> np.ndarray:
        """Per-class linear weights ``(n_classes, n_features)`` behind the decision."""
        raise NotImplementedError

    # -- training ------------------------------------------------------------------------

    def _vectorizer(self) -> TfidfVectorizer:
        unit = self.token_unit
        n = int(self.ngram_max or DEFAULT_NGRAM_MAX.get(unit, 2))
        common = dict(
            min_df=int(self.min_df),
            max_features=self.max_features,
            sublinear_tf=bool(self.sublinear_tf),
            lowercase=False,  # standardize() lowercases after Unicode normalisation
            dtype=np.float64,
        )
        if unit == "char":
            return TfidfVectorizer(
                analyzer="char_wb", preprocessor=standardize, ngram_range=(1, n), **common
            )
        return TfidfVectorizer(
            tokenizer=word_tokens, token_pattern=None, ngram_range=(1, n), **common
        )

    def fit(
        self,
        texts: Sequence[str],
        labels: Sequence[str],
        val_texts: Sequence[str] | None = None,
        val_labels: Sequence[str] | None = None,
        callbacks: TrainCallbacks | None = None,
    ):
        """Fit the vectorizer and estimator on the training texts (one step: no epochs)."""
        hooks = callbacks or TrainCallbacks()
        hooks.stop_if_asked()
        texts, label_list = check_training_input(texts, labels)
        labels = np.array(label_list, dtype=object)
        limit = out_of_core_rows()
        if len(texts) > limit:
            self.training_mode_ = {
                "mode": "out_of_core",
                "reason": f"{len(texts):,} training texts > SLM_OUT_OF_CORE_ROWS={limit:,}: "
                f"hashed n-grams, learned {OUT_OF_CORE_CHUNK:,} texts at a time",
                "threshold": limit,
                "rows": len(texts),
                "chunk": OUT_OF_CORE_CHUNK,
            }
            return self._fit_out_of_core(texts, labels, val_texts, val_labels, hooks)
        self.training_mode_ = {
            "mode": "in_memory",
            "reason": f"{len(texts):,} training texts ≤ SLM_OUT_OF_CORE_ROWS={limit:,}",
            "threshold": limit,
            "rows": len(texts),
        }
        hooks.on_batch(0, 0, 1)
        self.vectorizer_ = self._vectorizer()
        try:
            features = self.vectorizer_.fit_transform(texts)
        except ValueError as exc:  # e.g. "After pruning, no terms remain"
            raise TrainError("errors.linear.no_usable_words", exc=exc) from exc
        self.estimator_ = self._estimator(labels)
        self._fit_estimator(features, labels)
        hooks.stop_if_asked()
        self.classes_ = [str(c) for c in self.estimator_.classes_]
        self.history_: dict[str, list[float]] = {}
        self.n_params_ = int(self._count_params())
        logs = self._logs(features, labels)
        if val_texts is not None and val_labels is not None and len(val_texts) > 0:
            logs.update(
                {
                    "val_" + k: v
                    for k, v in self._logs(
                        self.vectorizer_.transform(val_texts), val_labels
                    ).items()
                }
            )
        self.served_check_ = self._check_served_form(val_texts, val_labels)
        hooks.on_batch(0, 1, 1)
        hooks.on_epoch(0, 1, logs)
        return self

    # -- out of core ---------------------------------------------------------------------

    def _hashed(self) -> bool:
        return isinstance(getattr(self, "vectorizer_", None), HashedTfidf)

    def _hasher(self) -> HashingVectorizer:
        """A HashingVectorizer with the settings of :meth:`_vectorizer` (norm applied later)."""
        unit = self.token_unit
        n = int(self.ngram_max or DEFAULT_NGRAM_MAX.get(unit, 2))
        common = dict(
            n_features=HASH_FEATURES,
            alternate_sign=False,  # counts stay counts (complement naive Bayes needs them)
            norm=None,
            lowercase=False,
            ngram_range=(1, n),
            dtype=np.float64,
        )
        if unit == "char":
            return HashingVectorizer(analyzer="char_wb", preprocessor=standardize, **common)
        return HashingVectorizer(tokenizer=word_tokens, token_pattern=None, **common)

    def _online_estimator(self, labels: np.ndarray) -> Any:
        """The estimator that learns a chunk at a time (``partial_fit``) for this model."""
        raise NotImplementedError

    def _sample_weights(self, labels: np.ndarray) -> dict[str, float] | None:
        if not self.class_weight:
            return None
        classes, counts = np.unique(labels, return_counts=True)
        share = len(labels) / len(classes)
        return {str(c): share / int(n) for c, n in zip(classes, counts, strict=True)}

    def _fit_out_of_core(self, texts, labels, val_texts, val_labels, hooks) -> _TfidfClassifier:
        """Hashed TF-IDF features and ``partial_fit`` over shuffled chunks of the texts.

        Memory holds the texts, one chunk's sparse features and the weights
        (classes x ``HASH_FEATURES``), never a vocabulary or every text's features at once.
        """
        n = len(texts)
        chunk = OUT_OF_CORE_CHUNK
        starts = range(0, n, chunk)
        self.vectorizer_ = HashedTfidf(self._hasher(), bool(self.sublinear_tf))
        hooks.on_stage("hashing", 0, n)
        self.vectorizer_.fit_idf((texts[i : i + chunk] for i in starts), n, int(self.min_df))
        hooks.stop_if_asked()
        if not self.vectorizer_.idf_.any():
            raise TrainError("errors.linear.no_usable_words", exc="no n-gram left")
        self.estimator_ = self._online_estimator(labels)
        classes = np.unique(labels)
        weights = self._sample_weights(labels)
        rng = np.random.default_rng(int(self.seed))
        epochs = 1 if isinstance(self.estimator_, ComplementNB) else OUT_OF_CORE_EPOCHS
        total = epochs * len(starts)
        step = 0
        for _ in range(epochs):
            order = rng.permutation(n)
            for start in starts:
                picked = order[start : start + chunk]
                features = self.vectorizer_.transform([texts[i] for i in picked])
                y = labels[picked]
                sample_weight = None
                if weights is not None:
                    sample_weight = np.array([weights[str(v)] for v in y], dtype=np.float64)
                self.estimator_.partial_fit(
                    features, y, classes=classes, sample_weight=sample_weight
                )
                hooks.on_batch(0, step, total)
                hooks.stop_if_asked()
                step += 1
        self.classes_ = [str(c) for c in self.estimator_.classes_]
        self.history_ = {}
        self.n_params_ = int(self._count_params())
        sample = rng.permutation(n)[:_LOG_SAMPLE]
        logs = self._logs(self.vectorizer_.transform([texts[i] for i in sample]), labels[sample])
        if val_texts is not None and val_labels is not None and len(val_texts) > 0:
            val_features = self._transform_chunked(list(val_texts))
            logs.update({"val_" + k: v for k, v in self._logs(val_features, val_labels).items()})
        self.served_check_ = {
            "form": "sklearn",
            "error": render("errors.linear_form.unsupported", settings="hashed n-grams"),
        }
        hooks.on_batch(0, total - 1, total)
        hooks.on_epoch(0, 1, logs)
        return self

    def _transform_chunked(self, texts: list[str]):
        import scipy.sparse as sp

        parts = [
            self.vectorizer_.transform(texts[i : i + OUT_OF_CORE_CHUNK])
            for i in range(0, len(texts), OUT_OF_CORE_CHUNK)
        ]
        return sp.vstack(parts, format="csr")

    def _check_served_form(self, val_texts, val_labels) -> dict[str, Any]:
        """Compile the NumPy served form and compare it with this model on the validation
        texts (held out from training), so a model serves fast from the moment it is saved.
        The benchmark checks it again on the test split."""
        from slm_core.runtime.linear_form import FORM_NAME, LinearFormError, compile_linear
        from slm_core.runtime.parity import exact_parity

        try:
            form = compile_linear(self)
        except LinearFormError as exc:
            return {"form": "sklearn", "error": str(exc)}
        if val_texts is None or val_labels is None or len(val_texts) == 0:
            return {"form": FORM_NAME, "parity": None}
        texts = list(val_texts)
        reference = self.predict_proba(texts)
        check = exact_parity(form.predict_proba(texts), reference, self.classes_, val_labels)
        return {"form": FORM_NAME if check.passed else "sklearn", "parity": check.to_dict()}

    def _fit_estimator(self, features, labels: np.ndarray) -> None:
        self.estimator_.fit(features, labels)

    def _logs(self, features, labels) -> dict[str, float]:
        labels = np.array([str(v) for v in labels], dtype=object)
        proba = self.estimator_.predict_proba(features)
        known = np.isin(labels, self.estimator_.classes_)
        accuracy = float(np.mean(self.estimator_.classes_[proba.argmax(axis=1)] == labels))
        logs = {"accuracy": accuracy}
        if known.all():
            logs["loss"] = float(log_loss(labels, proba, labels=self.estimator_.classes_))
        return logs

    def _count_params(self) -> int:
        return int(self._class_weights().size + len(self.classes_))

    # -- inference -----------------------------------------------------------------------

    def _check_fitted(self) -> None:
        if not hasattr(self, "estimator_"):
            raise TrainError("errors.linear.not_trained", model_id=self.model_id)

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        self._check_fitted()
        texts = list(texts)
        if self._hashed() and len(texts) > OUT_OF_CORE_CHUNK:
            features = self._transform_chunked(texts)
        else:
            features = self.vectorizer_.transform(texts)
        return np.asarray(self.estimator_.predict_proba(features), dtype=np.float64)

    def predict(self, texts: Sequence[str]) -> list[str]:
        proba = self.predict_proba(texts)
        return [self.classes_[i] for i in proba.argmax(axis=1)]

    def token_contributions(self, text: str) -> list[tuple[str, float]]:
        """Each feature of ``text`` and how far it pushes the predicted class, largest first.

        Contribution = the feature's TF-IDF value x (the predicted class's weight minus the mean
        weight over classes). Their sum plus the centred intercept is the predicted class's
        centred score, so the split is exact for logistic regression and naive Bayes; for the
        calibrated SVM it uses the mean weights of the cross-validated SVMs.
        """
        self._check_fitted()
        row = self.vectorizer_.transform([text]).tocsr()
        if row.nnz == 0:
            return []
        weights = self._class_weights()
        centred = weights - weights.mean(axis=0, keepdims=True)
        k = int(self.predict_proba([text])[0].argmax())
        values = row.data * centred[k, row.indices]
        if self._hashed():  # no vocabulary: the text's own n-grams name their columns
            names = self._hashed_names(text)
            pairs = [
                (names.get(int(j), f"#{j}"), float(v))
                for j, v in zip(row.indices, values, strict=True)
            ]
            return sorted(pairs, key=lambda p: -abs(p[1]))
        names = self._feature_names()
        pairs = [(str(names[j]), float(v)) for j, v in zip(row.indices, values, strict=True)]
        return sorted(pairs, key=lambda p: -abs(p[1]))

    def _hashed_names(self, text: str) -> dict[int, str]:
        """Column -> the first of ``text``'s n-grams hashed to it (the hasher's own hashing)."""
        from sklearn.feature_extraction import FeatureHasher

        grams = list(dict.fromkeys(self.vectorizer_.build_analyzer()(text)))
        if not grams:
            return {}
        n_features = self.vectorizer_.hasher.n_features
        hasher = FeatureHasher(n_features, input_type="string", alternate_sign=False)
        columns = hasher.transform([[g] for g in grams]).indices
        names: dict[int, str] = {}
        for gram, column in zip(grams, columns.tolist(), strict=True):
            names.setdefault(int(column), gram)
        return names

    def _feature_names(self) -> np.ndarray:
        if getattr(self, "feature_names_", None) is None:
            self.feature_names_ = self.vectorizer_.get_feature_names_out()
        return self.feature_names_

    # -- persistence ---------------------------------------------------------------------

    def save(self, directory: Path) -> None:
        """Write ``model.joblib`` (the scikit-learn reference), ``linear_form.npz`` (the served
        form, NumPy only) and ``model.json`` (with the served form's validation check)."""
        self._check_fitted()
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        joblib.dump(self, directory / MODEL_FILE, compress=3)
        params = self.get_params()
        files = {"model": MODEL_FILE}
        served = dict(getattr(self, "served_check_", None) or {"form": "numpy", "parity": None})
        if "error" not in served:
            from slm_core.runtime.linear_form import FORM_FILE, LinearFormError, compile_linear

            try:
                compile_linear(self).save(directory / FORM_FILE)
                files["served_form"] = FORM_FILE
            except LinearFormError as exc:
                served = {"form": "sklearn", "error": str(exc)}
        write_meta(
            directory,
            model_id=self.model_id,
            family="linear",
            params=params,
            classes=self.classes_,
            token_unit=self.token_unit,
            extra={
                "n_params": self.n_params_,
                "n_features": self.vectorizer_.hasher.n_features
                if self._hashed()
                else int(len(self.vectorizer_.vocabulary_)),
                "files": files,
                "served": served,
                "training": getattr(self, "training_mode_", None),
            },
        )


def _two_class(weights: np.ndarray) -> np.ndarray:
    """scikit-learn stores one row for two classes (the second's); expand to both rows."""
    return np.vstack([-weights[0], weights[0]]) / 2.0 if weights.shape[0] == 1 else weights


class TfidfLogisticRegression(_TfidfClassifier):
    """TF-IDF + multinomial logistic regression."""

    model_id: ClassVar[str] = "tfidf_lr"

    def __init__(
        self,
        C: float = 5.0,
        *,
        ngram_max: int | None = None,
        min_df: int = 2,
        max_features: int | None = None,
        sublinear_tf: bool = True,
        class_weight: bool = False,
        max_iter: int = 1000,
        token_unit: str = "word",
        seed: int = 42,
    ):
        self.C = C
        self.max_iter = max_iter
        super().__init__(
            ngram_max, min_df, max_features, sublinear_tf, class_weight, token_unit, seed
        )

    def _estimator(self, y):
        return LogisticRegression(
            C=float(self.C),
            max_iter=int(self.max_iter),
            class_weight="balanced" if self.class_weight else None,
            random_state=int(self.seed),
        )

    def _online_estimator(self, labels):
        # LogisticRegression's C is SGD's alpha = 1 / (C x texts): the same penalty per text.
        return SGDClassifier(
            loss="log_loss", alpha=1.0 / (float(self.C) * len(labels)), random_state=int(self.seed)
        )

    def _class_weights(self):
        return _two_class(self.estimator_.coef_)


class TfidfLinearSVM(_TfidfClassifier):
    """TF-IDF + linear SVM, with probabilities from sigmoid calibration on 3 folds."""

    model_id: ClassVar[str] = "tfidf_svm"

    def __init__(
        self,
        C: float = 0.5,
        *,
        ngram_max: int | None = None,
        min_df: int = 2,
        max_features: int | None = None,
        sublinear_tf: bool = True,
        class_weight: bool = False,
        token_unit: str = "word",
        seed: int = 42,
    ):
        self.C = C
        super().__init__(
            ngram_max, min_df, max_features, sublinear_tf, class_weight, token_unit, seed
        )

    def _estimator(self, y):
        smallest = int(np.unique(y, return_counts=True)[1].min())
        if smallest < 2:
            raise TrainError("errors.linear.svm_label_too_rare")
        svm = LinearSVC(
            C=float(self.C),
            class_weight="balanced" if self.class_weight else None,
            random_state=int(self.seed),
        )
        # Shuffled folds: uploaded files are often sorted (by label, by source), and unshuffled
        # folds then calibrate on a different mix than they train on (-5 points on the tweets).
        folds = StratifiedKFold(min(3, smallest), shuffle=True, random_state=int(self.seed))
        return CalibratedClassifierCV(svm, cv=folds, method="sigmoid")

    def _online_estimator(self, labels):
        # The modified Huber loss is a smoothed hinge (an SVM's) that gives probabilities
        # without the three calibration folds, which would each need another pass.
        return SGDClassifier(
            loss="modified_huber",
            alpha=1.0 / (float(self.C) * len(labels)),
            random_state=int(self.seed),
        )

    def _class_weights(self):
        if isinstance(self.estimator_, SGDClassifier):
            return _two_class(self.estimator_.coef_)
        svms = [c.estimator for c in self.estimator_.calibrated_classifiers_]
        return _two_class(np.mean([s.coef_ for s in svms], axis=0))

    def _count_params(self):
        if isinstance(self.estimator_, SGDClassifier):
            return int(self.estimator_.coef_.size + self.estimator_.intercept_.size)
        cals = self.estimator_.calibrated_classifiers_
        svm_params = sum(c.estimator.coef_.size + c.estimator.intercept_.size for c in cals)
        return int(svm_params + sum(2 * len(c.calibrators) for c in cals))


class TfidfComplementNB(_TfidfClassifier):
    """TF-IDF + complement naive Bayes (robust to uneven class sizes, very fast)."""

    model_id: ClassVar[str] = "nb"

    def __init__(
        self,
        alpha: float = 0.3,
        *,
        ngram_max: int | None = None,
        min_df: int = 2,
        max_features: int | None = None,
        sublinear_tf: bool = True,
        class_weight: bool = False,
        token_unit: str = "word",
        seed: int = 42,
    ):
        self.alpha = alpha
        super().__init__(
            ngram_max, min_df, max_features, sublinear_tf, class_weight, token_unit, seed
        )

    def _estimator(self, y):
        return ComplementNB(alpha=float(self.alpha))

    def _online_estimator(self, labels):
        return ComplementNB(alpha=float(self.alpha))  # counts add up: one pass is the model

    def _fit_estimator(self, features, labels):
        weights = None
        if self.class_weight:
            classes, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
            weights = (len(labels) / (len(classes) * counts))[inverse]
        self.estimator_.fit(features, labels, sample_weight=weights)

    def _class_weights(self):
        return self.estimator_.feature_log_prob_


# The linear models by id: a new one is a _TfidfClassifier subclass added here (and its spec).
LINEAR_CLASSES: dict[str, type[_TfidfClassifier]] = {
    cls.model_id: cls for cls in (TfidfLogisticRegression, TfidfLinearSVM, TfidfComplementNB)
}


def build(model_id: str, params: dict[str, Any], *, token_unit: str, seed: int) -> _TfidfClassifier:
    """An untrained linear model ``model_id`` with ``params`` (the registry has checked them)."""
    return LINEAR_CLASSES[model_id](**params, token_unit=token_unit, seed=seed)


def load(directory: Path, meta: dict[str, Any]) -> _TfidfClassifier:
    """Load a joblib model this app saved (never load a file from elsewhere: it is a pickle)."""
    model = joblib.load(Path(directory) / MODEL_FILE)
    if not isinstance(model, _TfidfClassifier) or model.model_id != meta["model_id"]:
        raise TrainError(
            "errors.linear.no_saved_model", directory=directory, model_id=meta["model_id"]
        )
    return model
