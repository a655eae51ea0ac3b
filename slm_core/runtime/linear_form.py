"""The served form of the TF-IDF linear models: vocabulary -> weight rows, in NumPy only.

scikit-learn spends most of a single-text call on input validation and sparse-matrix
bookkeeping (0.9 ms for logistic regression, 3.6 ms for the calibrated SVM's folds), and
importing it costs ~1.5 s and tens of MB. This form is compiled once from a fitted model
(:func:`compile_linear`) and then needs neither: it tokenises exactly as the fitted
``TfidfVectorizer`` does (the same tokenizer / preprocessor functions, the same n-gram loops),
counts the terms it knows, applies sublinear tf, idf and the l2 norm, sums the weight rows of
those terms, adds the intercept and maps the scores to probabilities exactly as the model's
estimator does:

* logistic regression: softmax (several classes) or the logistic function (two);
* complement naive Bayes: the log-likelihoods normalised by their log-sum-exp;
* the calibrated linear SVM: every fold's SVM scores in one matrix product, each fold's sigmoid
  calibrators, each fold's normalisation, then the mean over folds (as
  ``CalibratedClassifierCV`` with ``ensemble=True`` does).

Only the order of floating-point sums differs from scikit-learn, so probabilities agree to
~1e-15 (tests hold them to 1e-6). Saved as one ``.npz`` (no pickle): the arrays plus a JSON
header with the terms, classes and analyzer settings.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import Any

import numpy as np

from slm_core.errors import SlmError
from slm_core.models.tokenize import standardize, tokenize

FORM_NAME = "numpy"
FORM_FILE = "linear_form.npz"
FORMAT_VERSION = 1
KINDS = ("softmax", "expit", "log_softmax", "sigmoid_folds")
# scikit-learn's CountVectorizer collapses runs of whitespace before char_wb n-grams.
_WHITE_SPACES = re.compile(r"\s\s+")
# CalibratedClassifierCV rounds probabilities a hair above 1 down to 1.
_ABOVE_ONE = 1e-5


class LinearFormError(SlmError):
    """A fitted model uses a setting this form does not reproduce."""


@dataclass(frozen=True)
class AnalyzerSpec:
    """How texts become terms: the fitted vectorizer's settings this form reproduces."""

    token_unit: str  # "word": word tokens and their n-grams; "char": char_wb n-grams
    ngram_min: int
    ngram_max: int
    sublinear_tf: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "token_unit": self.token_unit,
            "ngram_min": self.ngram_min,
            "ngram_max": self.ngram_max,
            "sublinear_tf": self.sublinear_tf,
        }


@dataclass(frozen=True)
class SparseRows:
    """TF-IDF rows of several texts, l2-normalised, in CSR layout (what ``vectorize`` gives)."""

    indices: np.ndarray  # int64 (nnz,): term columns
    values: np.ndarray  # float64 (nnz,)
    indptr: np.ndarray  # int64 (n_texts + 1,)

    def __len__(self) -> int:
        return len(self.indptr) - 1


class LinearForm:
    """A compiled linear model: ``predict_proba(texts)`` without scikit-learn.

    ``weights`` is ``(n_terms, n_outputs)`` so a text's terms gather contiguous rows;
    outputs are the estimator's score columns (one per class, one for two-class models, or
    every fold's columns side by side for the calibrated SVM).
    """

    def __init__(
        self,
        *,
        model_id: str,
        kind: str,
        classes: Sequence[str],
        analyzer: AnalyzerSpec,
        terms: Sequence[str],
        idf: np.ndarray,
        weights: np.ndarray,
        intercept: np.ndarray,
        calibration: dict[str, np.ndarray] | None = None,
    ):
        if kind not in KINDS:
            raise LinearFormError("errors.linear_form.unknown_kind", kind=kind)
        self.model_id = model_id
        self.kind = kind
        self.classes_ = [str(c) for c in classes]
        self.analyzer = analyzer
        self.terms = list(terms)
        self.idf = np.ascontiguousarray(idf, dtype=np.float64)
        self.weights = np.ascontiguousarray(weights, dtype=np.float64)
        self.intercept = np.ascontiguousarray(intercept, dtype=np.float64)
        self.calibration = {k: np.asarray(v) for k, v in (calibration or {}).items()}
        if self.weights.shape != (len(self.terms), len(self.intercept)):
            raise LinearFormError("errors.linear_form.shape_mismatch")
        # Internally term j is row j + 1 and row 0 is zeros: a lookup miss (None) is then
        # dropped by filter(None, ...) in C, with no Python-level loop over the n-grams.
        self._index = {t: j + 1 for j, t in enumerate(self.terms)}
        self._idf = np.concatenate([[0.0], self.idf])
        self._weights = np.vstack([np.zeros((1, len(self.intercept))), self.weights])
        if kind == "sigmoid_folds":
            fold, column = self.calibration["fold"], self.calibration["column_class"]
            self._n_folds = int(fold.max()) + 1
            per_fold = 1 if len(self.classes_) == 2 else len(self.classes_)
            regular_column = np.arange(per_fold) + (1 if len(self.classes_) == 2 else 0)
            self._regular_folds = len(fold) == self._n_folds * per_fold and bool(
                (fold == np.repeat(np.arange(self._n_folds), per_fold)).all()
                and (column == np.tile(regular_column, self._n_folds)).all()
            )
        build = _word_analyzer if analyzer.token_unit == "word" else _char_wb_analyzer
        self._analyze = build(analyzer)

    # -- text -> TF-IDF ------------------------------------------------------------------

    def terms_of(self, text: object) -> list[str]:
        """Every term (n-gram) of ``text`` as the fitted vectorizer's analyzer produces it."""
        return self._analyze(text)

    def vectorize(self, texts: Sequence[object]) -> SparseRows:
        """TF-IDF rows of ``texts``: counts of known terms, sublinear tf, idf, l2 norm.

        The rows' ``indices`` are internal row numbers (term column + 1), for :meth:`scores`.
        """
        get, analyze = self._index.get, self._analyze
        rows = [Counter(filter(None, map(get, analyze(text)))) for text in texts]
        if len(rows) == 1:  # the single-text path: no per-row bookkeeping
            row = rows[0]
            indices = np.fromiter(row.keys(), np.int64, len(row))
            tf = np.fromiter(row.values(), np.float64, len(row))
            bounds = np.array([0, len(row)], dtype=np.int64)
        else:
            indices = np.fromiter(chain.from_iterable(rows), np.int64)
            tf = np.fromiter(chain.from_iterable(r.values() for r in rows), np.float64)
            bounds = np.zeros(len(rows) + 1, dtype=np.int64)
            np.cumsum([len(r) for r in rows], out=bounds[1:])
        if self.analyzer.sublinear_tf:
            tf = np.log(tf)
            tf += 1.0
        values = tf * self._idf[indices]
        if len(rows) == 1:
            norm = math.sqrt(float(values @ values))
            if norm > 0:
                values /= norm
        elif len(values):
            lengths = np.diff(bounds)
            sums = np.zeros(len(lengths))
            filled = lengths > 0
            sums[filled] = np.add.reduceat(values * values, bounds[:-1][filled])
            norms = np.sqrt(sums)
            norms[norms == 0] = 1.0
            values /= np.repeat(norms, lengths)
        return SparseRows(indices, values, bounds)

    # -- TF-IDF -> probabilities ---------------------------------------------------------

    def scores(self, rows: SparseRows) -> np.ndarray:
        """The estimator's raw scores ``(n, n_outputs)``: weight rows summed + intercept."""
        n = len(rows)
        if n == 1:
            return (rows.values @ self._weights[rows.indices] + self.intercept)[None, :]
        out = np.tile(self.intercept, (n, 1))
        if len(rows.values):
            lengths = np.diff(rows.indptr)
            filled = lengths > 0
            gathered = self._weights[rows.indices] * rows.values[:, None]
            out[filled] += np.add.reduceat(gathered, rows.indptr[:-1][filled], axis=0)
        return out

    def probabilities(self, rows: SparseRows) -> np.ndarray:
        """Class probabilities ``(n, n_classes)`` from vectorised texts."""
        s = self.scores(rows)
        if self.kind == "softmax":
            return _softmax(s)
        if self.kind == "expit":
            p = _expit(s[:, 0])
            return np.stack([1.0 - p, p], axis=1)
        if self.kind == "log_softmax":
            top = s.max(axis=1, keepdims=True)
            log_total = np.log(np.exp(s - top).sum(axis=1, keepdims=True)) + top
            return np.exp(s - log_total)
        return self._calibrated(s)

    def _calibrated(self, s: np.ndarray) -> np.ndarray:
        """CalibratedClassifierCV(method='sigmoid', ensemble=True).predict_proba on scores:
        each fold's calibrated column per class, normalised per fold, then the fold mean."""
        cal = self.calibration
        n, n_classes, n_folds = len(s), len(self.classes_), self._n_folds
        p = _expit(-(cal["a"] * s + cal["b"]))
        if self._regular_folds:  # every fold scores every class, in class order
            proba = p.reshape(n, n_folds, -1)
            if n_classes == 2:
                proba = np.stack([1.0 - proba[:, :, 0], proba[:, :, 0]], axis=2)
        else:
            proba = np.zeros((n, n_folds, n_classes))
            proba[:, cal["fold"], cal["column_class"]] = p
            if n_classes == 2:
                proba[:, :, 0] = 1.0 - proba[:, :, 1]
        if n_classes > 2:
            total = proba.sum(axis=2, keepdims=True)
            proba = np.divide(
                proba, total, out=np.full_like(proba, 1.0 / n_classes), where=total != 0
            )
        proba[(proba > 1.0) & (proba <= 1.0 + _ABOVE_ONE)] = 1.0
        return proba.sum(axis=1) / n_folds

    def predict_proba(self, texts: Sequence[object]) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, len(self.classes_)))
        return self.probabilities(self.vectorize(texts))

    def predict(self, texts: Sequence[object]) -> list[str]:
        return [self.classes_[i] for i in self.predict_proba(texts).argmax(axis=1)]

    # -- persistence ---------------------------------------------------------------------

    def header(self) -> dict[str, Any]:
        return {
            "version": FORMAT_VERSION,
            "model_id": self.model_id,
            "kind": self.kind,
            "classes": self.classes_,
            "analyzer": self.analyzer.to_dict(),
            "terms": self.terms,
        }

    def save(self, path: Path) -> int:
        """Write the form as one ``.npz`` (arrays + a JSON header, no pickle); returns bytes."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        header = json.dumps(self.header(), ensure_ascii=False).encode("utf-8")
        arrays = {
            "header": np.frombuffer(header, dtype=np.uint8),
            "idf": self.idf,
            "weights": self.weights,
            "intercept": self.intercept,
            **{f"cal_{k}": v for k, v in self.calibration.items()},
        }
        # np.savez appends ".npz" to a name without it: write under a name that has it.
        tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp.npz")
        np.savez_compressed(tmp, **arrays)
        os.replace(tmp, path)
        return path.stat().st_size

    @classmethod
    def load(cls, path: Path) -> LinearForm:
        with np.load(Path(path), allow_pickle=False) as data:
            header = json.loads(data["header"].tobytes().decode("utf-8"))
            if header.get("version") != FORMAT_VERSION:
                raise LinearFormError("errors.linear_form.version", version=header.get("version"))
            calibration = {k[4:]: data[k] for k in data.files if k.startswith("cal_")}
            return cls(
                model_id=header["model_id"],
                kind=header["kind"],
                classes=header["classes"],
                analyzer=AnalyzerSpec(**header["analyzer"]),
                terms=header["terms"],
                idf=data["idf"],
                weights=data["weights"],
                intercept=data["intercept"],
                calibration=calibration,
            )


# ------------------------------------------------------------------------ analyzers


def _word_analyzer(spec: AnalyzerSpec):
    """Word tokens, then CountVectorizer._word_ngrams: the tokens, then each n-gram size in
    order, each n-gram its tokens joined by one space (zip of shifted lists, in C)."""
    low, high = spec.ngram_min, spec.ngram_max

    def analyze(text: object) -> list[str]:
        tokens = tokenize(text, "word")
        if high == 1:
            return tokens
        grams = list(tokens) if low == 1 else []
        join = " ".join
        for n in range(max(low, 2), min(high, len(tokens)) + 1):
            grams.extend(map(join, zip(*(tokens[k:] for k in range(n)), strict=False)))
        return grams

    return analyze


def _char_wb_analyzer(spec: AnalyzerSpec):
    """standardize(), then CountVectorizer._char_wb_ngrams: n-grams inside each word padded
    with one space each side; a word no longer than n gives itself once and stops there."""
    low, high = spec.ngram_min, spec.ngram_max

    def analyze(text: object) -> list[str]:
        document = _WHITE_SPACES.sub(" ", standardize(text))
        grams: list[str] = []
        for word in document.split():
            word = " " + word + " "
            length = len(word)
            for n in range(low, high + 1):
                last = length - n
                if last <= 0:  # scikit-learn's loop yields word[0:n] == word, then breaks
                    grams.append(word)
                    break
                grams.extend([word[i : i + n] for i in range(last + 1)])
        return grams

    return analyze


def _softmax(s: np.ndarray) -> np.ndarray:
    e = np.exp(s - s.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _expit(x: np.ndarray) -> np.ndarray:
    """The logistic function; tanh never overflows, and differs from 1 / (1 + exp(-x)) by
    rounding only (~1e-16)."""
    return 0.5 + 0.5 * np.tanh(0.5 * x)


# ------------------------------------------------------------------------ compiling


def _analyzer_spec(model) -> AnalyzerSpec:
    """The fitted vectorizer's settings, refusing any this form would not reproduce."""
    vec = model.vectorizer_
    unit = str(model.token_unit)
    expected = {
        "lowercase": False,
        "strip_accents": None,
        "stop_words": None,
        "binary": False,
        "norm": "l2",
        "use_idf": True,
        "input": "content",
    }
    different = [k for k, v in expected.items() if getattr(vec, k, v) != v]
    if unit == "word":
        tokenizer = getattr(vec, "tokenizer", None)
        if vec.analyzer != "word" or getattr(tokenizer, "__name__", "") != "word_tokens":
            different.append("analyzer")
    elif unit == "char":
        preprocessor = getattr(vec, "preprocessor", None)
        if vec.analyzer != "char_wb" or getattr(preprocessor, "__name__", "") != "standardize":
            different.append("analyzer")
    else:
        different.append("token_unit")
    if np.dtype(vec.dtype) != np.float64:
        different.append("dtype")
    if different:
        raise LinearFormError("errors.linear_form.unsupported", settings=", ".join(different))
    low, high = (int(v) for v in vec.ngram_range)
    return AnalyzerSpec(unit, low, high, bool(vec.sublinear_tf))


def _head(model) -> tuple[str, np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """(kind, weights (n_outputs, n_terms), intercept, calibration) of the fitted estimator."""
    est = model.estimator_
    n_classes = len(model.classes_)
    if model.model_id == "tfidf_lr":
        kind = "softmax" if n_classes > 2 else "expit"
        return kind, np.asarray(est.coef_), np.asarray(est.intercept_), {}
    if model.model_id == "nb":
        weights = np.asarray(est.feature_log_prob_)
        intercept = np.zeros(len(weights))
        if n_classes == 1:  # ComplementNB adds the prior only for a single class
            intercept = np.asarray(est.class_log_prior_, dtype=np.float64)
        return "log_softmax", weights, intercept, {}
    if model.model_id == "tfidf_svm":
        return _calibrated_head(est, n_classes)
    raise LinearFormError("errors.linear_form.unknown_model", model_id=model.model_id)


def _calibrated_head(est, n_classes: int):
    """Every fold's SVM rows side by side, with each column's calibrator and target class."""
    if getattr(est, "method", None) != "sigmoid":
        raise LinearFormError("errors.linear_form.unsupported", settings="method")
    classes = np.asarray(est.classes_)
    rows, intercepts, a, b, fold, column = [], [], [], [], [], []
    for k, calibrated in enumerate(est.calibrated_classifiers_):
        svm = calibrated.estimator
        coef = np.asarray(svm.coef_)
        # LabelEncoder order = sorted classes = the calibrated model's classes_.
        positions = np.searchsorted(classes, np.asarray(svm.classes_))
        if n_classes == 2:
            positions = positions[:1] + 1  # one score column, for the second class
        if len(calibrated.calibrators) != len(coef):
            raise LinearFormError("errors.linear_form.unsupported", settings="calibrators")
        for j, calibrator in enumerate(calibrated.calibrators):
            rows.append(coef[j])
            intercepts.append(float(np.ravel(svm.intercept_)[j]))
            a.append(float(calibrator.a_))
            b.append(float(calibrator.b_))
            fold.append(k)
            column.append(int(positions[j]))
    calibration = {
        "a": np.array(a),
        "b": np.array(b),
        "fold": np.array(fold, dtype=np.int64),
        "column_class": np.array(column, dtype=np.int64),
    }
    return "sigmoid_folds", np.vstack(rows), np.array(intercepts), calibration


def compile_linear(model) -> LinearForm:
    """The served form of a fitted TF-IDF linear model (tfidf_lr, tfidf_svm, nb).

    Reads the fitted scikit-learn attributes (vocabulary, idf, coefficients, calibrators); the
    result needs only NumPy. Raises :class:`LinearFormError` for settings it cannot reproduce.
    """
    analyzer = _analyzer_spec(model)
    kind, weights, intercept, calibration = _head(model)
    vocabulary = model.vectorizer_.vocabulary_
    terms = [""] * len(vocabulary)
    for term, j in vocabulary.items():
        terms[int(j)] = str(term)
    return LinearForm(
        model_id=str(model.model_id),
        kind=kind,
        classes=model.classes_,
        analyzer=analyzer,
        terms=terms,
        idf=np.asarray(model.vectorizer_.idf_, dtype=np.float64),
        weights=np.asarray(weights, dtype=np.float64).T,
        intercept=np.asarray(intercept, dtype=np.float64).ravel(),
        calibration=calibration,
    )
