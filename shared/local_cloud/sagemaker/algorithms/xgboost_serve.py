"""The built-in XGBoost algorithm's inference, as the container serves a model it trained.

The model server (``hosting/model_server.py``) loads this module's handlers for a model whose
image is ``sagemaker-xgboost`` and that names no inference script of its own; batch transform
calls ``score``. The contract (aws/sagemaker-xgboost-container ``algorithm_mode/serve_utils.py``
and the XGBoost algorithm's "Inference" docs):

- requests: ``text/csv`` (the default; one record per line, features only, no header),
  ``text/libsvm``/``text/x-libsvm`` (``index:value ...`` per line), or ``application/json``
  (``{"instances": [{"features": [...]}, ...]}``, ``{"instances": [[...], ...]}`` or a list of rows);
- responses (``Accept``; ``text/csv`` when none or ``*/*``): ``text/csv`` one prediction per
  line (a multi-class ``multi:softprob`` row as comma-separated probabilities), or
  ``application/json`` ``{"predictions": [{"score": ...}, ...]}``;
- a request the client got wrong (an unsupported content type or accept, rows that do not
  parse, a feature count the model was not trained on) raises ``InvalidInput``: a 4XX.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import xgboost as xgb
from scipy import sparse

from shared.local_cloud.sagemaker.algorithms import xgboost_data as data
from shared.local_cloud.sagemaker.algorithms.xgboost_hyperparameters import UserError
from shared.local_cloud.sagemaker.algorithms.xgboost_train import MODEL_FILE

CSV, LIBSVM, JSON = "text/csv", "text/libsvm", "application/json"
CONTENT_TYPES = (CSV, LIBSVM, "text/x-libsvm", JSON)
ACCEPTS = (CSV, JSON)


class InvalidInput(ValueError):
    """The request cannot be scored as sent (the model server answers 4XX)."""


def model_fn(model_dir: str) -> xgb.Booster:
    path = Path(model_dir) / MODEL_FILE
    if not path.is_file():
        found = ", ".join(sorted(p.name for p in Path(model_dir).iterdir())) or "nothing"
        raise FileNotFoundError(f"the model artifact has no {MODEL_FILE} (it holds: {found})")
    booster = xgb.Booster()
    try:
        booster.load_model(bytearray(path.read_bytes()))  # raw bytes: no guessing from the file name
    except xgb.core.XGBoostError:
        # Older containers pickled the Booster; read that too (a trusted artifact: our own job's output).
        with open(path, "rb") as handle:
            booster = pickle.load(handle)  # noqa: S301
    return booster


def _media_type(value: str | None, default: str) -> str:
    media = (value or "").split(";", 1)[0].strip().lower()
    return default if media in ("", "*/*") else media


def input_fn(body: bytes, content_type: str | None) -> np.ndarray[Any, Any] | sparse.csr_matrix:
    kind = _media_type(content_type, CSV)
    if kind not in CONTENT_TYPES:
        raise InvalidInput(
            f"Content-type {kind} not supported. Supported content-type is {', '.join(CONTENT_TYPES)}"
        )
    if not body.strip():
        raise InvalidInput("the request has no records")
    try:
        if kind == CSV:
            return data.parse_csv(body)
        if kind == JSON:
            return data.parse_json(body)
        return data.parse_libsvm(body, with_label=False)[1]
    except (ValueError, UserError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"cannot parse the {kind} request: {exc}") from None


def predict_fn(
    features: np.ndarray[Any, Any] | sparse.csr_matrix, model: xgb.Booster
) -> np.ndarray[Any, Any]:
    expected = model.num_features()
    width = int(features.shape[1])
    if sparse.issparse(features) and width < expected:
        features = sparse.csr_matrix(
            features, shape=(features.shape[0], expected)
        )  # libsvm: absent = missing
    elif width != expected:
        raise InvalidInput(f"the model takes {expected} features per record, the request has {width}")
    return np.asarray(model.predict(xgb.DMatrix(features, missing=np.nan)))


def response_content_type(accept: str | None) -> str:
    kind = _media_type(accept, CSV)
    if kind not in ACCEPTS:
        raise InvalidInput(f"Accept {kind} not supported. Supported accept is {', '.join(ACCEPTS)}")
    return kind


def output_fn(predictions: np.ndarray[Any, Any], accept: str | None) -> bytes:
    kind = response_content_type(accept)
    if kind == JSON:
        return json.dumps({"predictions": [{"score": p} for p in predictions.tolist()]}).encode()
    if predictions.ndim == 2:
        return "\n".join(",".join(repr(float(v)) for v in row) for row in predictions).encode()
    return "\n".join(repr(float(v)) for v in predictions).encode()


def score(model_dir: Path, body: bytes, content_type: str | None, accept: str | None) -> tuple[bytes, str]:
    """Batch transform's entry point: one payload scored with the model in ``model_dir``
    (``InvalidInput`` for a payload the container would reject)."""
    model = model_fn(str(model_dir))
    kind = response_content_type(accept)
    return output_fn(predict_fn(input_fn(body, content_type), model), kind), kind
