"""What every invocation leaves behind: CloudWatch metrics and data capture, batched.

The router calls ``record`` on the request's hot path: one deque append, nothing else. A
background thread flushes:

- metrics every 100 ms into the local CloudWatch (namespace ``AWS/SageMaker``, dimensions
  EndpointName + VariantName): ``Invocations``, ``Invocation4XXErrors``,
  ``Invocation5XXErrors`` (sums per flush, zeros included, as SageMaker publishes them) and
  ``ModelLatency`` / ``OverheadLatency`` in microseconds as ``Values``/``Counts`` (3
  significant digits), so percentile statistics and alarms work;
- data capture every second to ``<DestinationS3Uri>/<endpoint>/<variant>/yyyy/mm/dd/hh/
  <mm-ss-mmm>-<uuid>.jsonl`` in SageMaker's capture format, one JSON line per sampled
  invocation.

Timestamps are the local cloud's AWS time (``LocalCloud.now()``), so an alarm period of 60 s
lasts 60 s of local time, like every other wait on the local clock.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import uuid
from collections import Counter, defaultdict, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

LOG = logging.getLogger(__name__)
NAMESPACE = "AWS/SageMaker"
_MAX_VALUES = 150  # CloudWatch's limit of distinct Values in one datum

Now = Callable[[], datetime]


def naive_utc(t: datetime) -> datetime:
    """moto keeps naive UTC datetimes."""
    return t.astimezone(UTC).replace(tzinfo=None) if t.tzinfo else t


class _Flusher:
    """A daemon thread that calls ``flush`` every ``interval`` seconds, and once more on stop."""

    def __init__(self, name: str, interval: float) -> None:
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._flush_lock = threading.Lock()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        self.flush()

    def flush(self) -> None:
        with self._flush_lock:
            try:
                self._flush()
            except Exception:  # telemetry must never take the data plane down
                LOG.exception("%s flush failed", self._thread.name)

    def _flush(self) -> None:
        raise NotImplementedError

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self.flush()


def _drain(queue: deque[Any]) -> list[Any]:
    out = []
    while True:
        try:
            out.append(queue.popleft())
        except IndexError:
            return out


# ---- metrics ----------------------------------------------------------------------------------
class MetricsPublisher(_Flusher):
    def __init__(self, now: Now, interval: float = 0.1) -> None:
        super().__init__("hosting-metrics", interval)
        self._now = now
        self._pending: deque[tuple[str, str, str, str, int, int, int]] = deque()

    def record(
        self,
        account: str,
        region: str,
        endpoint: str,
        variant: str,
        status: int,
        model_us: int,
        overhead_us: int,
    ) -> None:
        self._pending.append((account, region, endpoint, variant, status, model_us, overhead_us))

    def _flush(self) -> None:
        batch = _drain(self._pending)
        if not batch:
            return
        from moto.cloudwatch.models import cloudwatch_backends

        timestamp = naive_utc(self._now())
        groups: dict[tuple[str, str, str, str], list[tuple[int, int, int]]] = defaultdict(list)
        for account, region, endpoint, variant, status, model_us, overhead_us in batch:
            groups[(account, region, endpoint, variant)].append((status, model_us, overhead_us))
        for (account, region, endpoint, variant), calls in groups.items():
            dims = [{"Name": "EndpointName", "Value": endpoint}, {"Name": "VariantName", "Value": variant}]
            data: list[dict[str, Any]] = [
                _datum("Invocations", len(calls), "None", dims, timestamp),
                _datum(
                    "Invocation4XXErrors", sum(400 <= s < 500 for s, _, _ in calls), "None", dims, timestamp
                ),
                _datum("Invocation5XXErrors", sum(s >= 500 for s, _, _ in calls), "None", dims, timestamp),
                *_distribution("ModelLatency", (m for _, m, _ in calls), dims, timestamp),
                *_distribution("OverheadLatency", (o for _, _, o in calls), dims, timestamp),
            ]
            cloudwatch_backends[account][region].put_metric_data(NAMESPACE, data)


def _datum(name: str, value: float, unit: str, dims: list[dict[str, str]], ts: datetime) -> dict[str, Any]:
    return {"MetricName": name, "Value": value, "Unit": unit, "Dimensions": dims, "Timestamp": ts}


def _distribution(
    name: str, values: Iterable[int], dims: list[dict[str, str]], ts: datetime
) -> list[dict[str, Any]]:
    counts = sorted(Counter(float(f"{v:.3g}") for v in values).items())
    return [
        {
            "MetricName": name,
            "Values": [v for v, _ in chunk],
            "Counts": [c for _, c in chunk],
            "Unit": "Microseconds",
            "Dimensions": dims,
            "Timestamp": ts,
        }
        for chunk in (counts[i : i + _MAX_VALUES] for i in range(0, len(counts), _MAX_VALUES))
    ]


# ---- data capture -----------------------------------------------------------------------------
@dataclass(frozen=True)
class CaptureSettings:
    """An endpoint config's ``DataCaptureConfig``, ready for the hot path."""

    destination: str
    sampling_percent: float
    capture_input: bool
    capture_output: bool
    csv_types: frozenset[str]
    json_types: frozenset[str]

    @classmethod
    def from_config(cls, config: Mapping[str, Any] | None) -> CaptureSettings | None:
        if not config or not config.get("EnableCapture") or not config.get("DestinationS3Uri"):
            return None
        modes = {str(o.get("CaptureMode", "")).lower() for o in config.get("CaptureOptions") or []}
        headers = config.get("CaptureContentTypeHeader") or {}
        return cls(
            destination=str(config["DestinationS3Uri"]).rstrip("/"),
            sampling_percent=float(config.get("InitialSamplingPercentage", 100)),
            capture_input="input" in modes or not modes,
            capture_output="output" in modes or not modes,
            csv_types=frozenset(t.lower() for t in headers.get("CsvContentTypes") or []),
            json_types=frozenset(t.lower() for t in headers.get("JsonContentTypes") or []),
        )

    def encode(self, data: bytes, content_type: str | None, mode: str) -> dict[str, str]:
        """SageMaker's capture record; without CaptureContentTypeHeader everything is BASE64."""
        media = (content_type or "").split(";")[0].strip().lower()
        encoding = "CSV" if media in self.csv_types else "JSON" if media in self.json_types else "BASE64"
        try:
            text = data.decode() if encoding != "BASE64" else None
        except UnicodeDecodeError:
            text, encoding = None, "BASE64"
        return {
            "observedContentType": content_type or "",
            "mode": mode,
            "data": text if text is not None else base64.b64encode(data).decode(),
            "encoding": encoding,
        }


@dataclass(frozen=True)
class Captured:
    settings: CaptureSettings
    endpoint: str
    variant: str
    time: datetime  # naive UTC, local cloud time
    inference_id: str | None
    request: bytes
    request_type: str | None
    response: bytes
    response_type: str | None


class CaptureWriter(_Flusher):
    def __init__(self, s3: S3Client, now: Now, interval: float = 1.0) -> None:
        super().__init__("hosting-capture", interval)
        self._s3 = s3
        self._now = now
        self._pending: deque[Captured] = deque()

    def record(
        self,
        settings: CaptureSettings,
        endpoint: str,
        variant: str,
        inference_id: str | None,
        request: bytes,
        request_type: str | None,
        response: bytes,
        response_type: str | None,
    ) -> None:
        self._pending.append(
            Captured(
                settings,
                endpoint,
                variant,
                naive_utc(self._now()),
                inference_id,
                request,
                request_type,
                response,
                response_type,
            )
        )

    def _flush(self) -> None:
        files: dict[tuple[str, str, str, str], list[Captured]] = defaultdict(list)
        for c in _drain(self._pending):
            files[(c.settings.destination, c.endpoint, c.variant, f"{c.time:%Y/%m/%d/%H}")].append(c)
        for (destination, endpoint, variant, hour), records in files.items():
            bucket, _, prefix = destination.removeprefix("s3://").partition("/")
            first = records[0].time
            name = f"{first:%M-%S}-{first.microsecond // 1000:03d}-{uuid.uuid4()}.jsonl"
            key = "/".join(p for p in (prefix, endpoint, variant, hour, name) if p)
            body = "".join(json.dumps(_line(c), separators=(",", ":")) + "\n" for c in records)
            try:
                self._s3.put_object(Bucket=bucket, Key=key, Body=body.encode())
            except Exception as exc:  # capture is best effort, as on AWS: the invocation already succeeded
                LOG.warning("data capture to s3://%s/%s failed: %s", bucket, key, exc)


def _line(c: Captured) -> dict[str, Any]:
    data: dict[str, Any] = {}
    if c.settings.capture_input:
        data["endpointInput"] = c.settings.encode(c.request, c.request_type, "INPUT")
    if c.settings.capture_output:
        data["endpointOutput"] = c.settings.encode(c.response, c.response_type, "OUTPUT")
    metadata = {"eventId": str(uuid.uuid4()), "inferenceTime": f"{c.time:%Y-%m-%dT%H:%M:%SZ}"}
    if c.inference_id:
        metadata["inferenceId"] = c.inference_id
    return {"captureData": data, "eventMetadata": metadata, "eventVersion": "0"}
