"""Transform steps: CreateTransformJob arguments, scored by the local model server.

The model is the one named by ``ModelName`` (a ModelStep's CreateModel: its PrimaryContainer
image, ``ModelDataUrl`` and environment), fetched and served by the local hosting's model
server process (``hosting/model_server.py``: ``model_fn``/``input_fn``/``predict_fn``/
``output_fn`` of the model's ``SAGEMAKER_PROGRAM``), exactly as a local endpoint serves it.
A built-in XGBoost model (its image, no ``SAGEMAKER_PROGRAM``) is served by the algorithm's own
handlers (``hosting/artifacts.py`` picks ``algorithms/xgboost_serve.py``), as on an endpoint.
A ``ModelName`` that does not exist fails the job with SageMaker's message
(``Could not find model "<model ARN>".``, as aws/deep-learning-containers#586 quotes it).

Semantics (API reference ``CreateTransformJob``, ``TransformInput``, ``TransformOutput``,
``DataProcessing``; developer guide "Batch transform" and "Associate prediction results
with input records"):

- every object under ``TransformInput.DataSource.S3DataSource.S3Uri`` (S3Prefix) is one input
  file; its output is ``<S3OutputPath>/<its name under the prefix>.out``;
- ``SplitType`` None: the whole file is one record; Line: one record per line; RecordIO and
  TFRecord: refused (the local cloud does not parse them);
- ``BatchStrategy`` SingleRecord: one request per record; MultiRecord: as many records as fit
  in ``MaxPayloadInMB`` (default 6) per request, joined by newlines, the response split back
  into one line per record; a single record over the limit fails the job, as on SageMaker;
- ``DataProcessing``: ``InputFilter`` on each record before it is sent, ``JoinSource`` Input
  joins the (unfiltered) input record with its prediction, ``OutputFilter`` on the result
  (``record_filter.py``);
- ``AssembleWith`` Line: outputs joined with newlines; None: concatenated as they come;
- ``MaxConcurrentTransforms``: at most that many requests at once (unset or 0: 1, the API's
  default without execution-parameters), bounded by this machine's cores like tuning's
  ``MaxParallelTrainingJobs``; the model server gets as many worker processes, and the outputs
  keep the records' order.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ClassVar

from botocore.exceptions import ClientError

from shared.local_cloud.hosting.artifacts import ArtifactError, ArtifactStore
from shared.local_cloud.hosting.model_server import ModelServerProcess, ServerFailed
from shared.local_cloud.sagemaker import s3io
from shared.local_cloud.sagemaker.errors import StepFailure, StepStopped
from shared.local_cloud.sagemaker.steps import record_filter
from shared.local_cloud.sagemaker.steps.base import (
    ResolvesArguments,
    StepContext,
    StepOutcome,
    iso_now,
    recorded_job,
)

KIND = "TransformJob"
DEFAULT_MAX_PAYLOAD_MB = 6  # CreateTransformJob: MaxPayloadInMB default 6, max 100
_SERVER_START_SECONDS = 60.0


def _one_of(values: tuple[str, ...]) -> str:
    return f"{', '.join(values[:-1])} or {values[-1]}"


def concurrency(requested: int) -> int:
    """Requests in flight at once: ``MaxConcurrentTransforms`` (0/unset: 1), at most the cores."""
    return max(1, min(requested or 1, os.cpu_count() or 1))


class TransformExecutor(ResolvesArguments):
    step_type: ClassVar[str] = "Transform"

    def run(self, ctx: StepContext) -> StepOutcome:
        args = ctx.arguments
        plan = _Plan.from_arguments(args)
        started = iso_now()
        with recorded_job(ctx, KIND) as job:
            self._transform(ctx, plan)
        properties = {
            **args,
            "TransformJobName": ctx.job_name,
            "TransformJobArn": job.arn,
            "TransformJobStatus": "Completed",
            "TransformStartTime": started,
            "TransformEndTime": iso_now(),
        }
        return StepOutcome(properties=properties, metadata=job.metadata)

    def _transform(self, ctx: StepContext, plan: _Plan) -> None:
        s3 = ctx.services.s3
        store = ArtifactStore(ctx.services.sagemaker, s3, s3io.ensure_dir(ctx.work_dir / "model"))
        _require_model(ctx, plan.model_name)
        try:
            model = store.model(plan.model_name)
        except ArtifactError as exc:
            raise StepFailure(f"ClientError: {exc}") from None
        keys = s3io.list_keys(s3, plan.input_uri)
        if not keys:
            raise StepFailure(f"ClientError: no input objects under {plan.input_uri}")
        server = ModelServerProcess(
            model_dir=model.model_dir,
            code_dir=model.code_dir,
            program=model.program,
            environment={**ctx.services.container_env, **model.environment, **plan.environment},
            log_path=ctx.work_dir / "model-server.log",
            workers=plan.concurrency if plan.concurrency > 1 else None,
        )
        try:
            server.start(timeout=_SERVER_START_SECONDS).wait_healthy(_SERVER_START_SECONDS)
        except ServerFailed as exc:
            raise StepFailure(f"ClientError: the model {plan.model_name} cannot be served: {exc}") from None
        _, prefix = s3io.split_uri(plan.input_uri)
        bucket_out, prefix_out = s3io.split_uri(plan.output_path.rstrip("/") + "/")
        bucket_in = s3io.split_uri(plan.input_uri)[0]
        try:
            with ThreadPoolExecutor(max_workers=plan.concurrency, thread_name_prefix="transform") as pool:
                for key in keys:
                    if ctx.stop.is_set():
                        raise StepStopped(f"transform job {ctx.job_name} stopped")
                    body = s3.get_object(Bucket=bucket_in, Key=key)["Body"].read()
                    output = b"".join(self._score_file(plan, server, body, key, pool))
                    name = s3io.relative_name(key, prefix)
                    s3.put_object(Bucket=bucket_out, Key=f"{prefix_out}{name}.out", Body=output)
        finally:
            server.stop()
            shutil.rmtree(ctx.work_dir / "model", ignore_errors=True)

    def _score_file(
        self, plan: _Plan, server: ModelServerProcess, body: bytes, key: str, pool: ThreadPoolExecutor
    ) -> Iterator[bytes]:
        records = plan.split(body)
        separator = b"\n" if plan.assemble_with == "Line" else b""
        first = True

        def score(batch: list[bytes]) -> list[bytes]:
            payload = b"\n".join(plan.prepare(r) for r in batch) if len(batch) > 1 else plan.prepare(batch[0])
            status, data, _ = _post(server, payload, plan)
            if status != 200:
                raise StepFailure(
                    f"ClientError: the model returned {status} for a request from {key}: "
                    f"{data.decode('utf-8', 'replace')[:300]}"
                )
            outputs = _split_response(data, len(batch)) if len(batch) > 1 else [data.rstrip(b"\r\n")]
            if len(outputs) != len(batch):
                raise StepFailure(
                    f"ClientError: MultiRecord: the model returned {len(outputs)} lines for {len(batch)} records "
                    f"of {key}; it must return one line per record"
                )
            return outputs

        # At most plan.concurrency requests in flight (the pool's threads); map keeps the order.
        batches = list(plan.batches(records, key))
        for batch, outputs in zip(batches, pool.map(score, batches), strict=True):
            for record, output in zip(batch, outputs, strict=True):
                if not first:
                    yield separator
                first = False
                yield plan.finish(record, output)
        if plan.assemble_with == "Line" and not first:
            yield b"\n"


def _require_model(ctx: StepContext, model_name: str) -> None:
    """SageMaker's own words for a missing model, rather than DescribeModel's error."""
    try:
        ctx.services.sagemaker.describe_model(ModelName=model_name)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ValidationException":
            raise
        arn = f"arn:aws:sagemaker:{ctx.region}:{ctx.account_id}:model/{model_name}"
        raise StepFailure(f'ClientError: Could not find model "{arn}".') from None


def _post(server: ModelServerProcess, payload: bytes, plan: _Plan) -> tuple[int, bytes, str]:
    import http.client

    conn = http.client.HTTPConnection(server.host, server.port, timeout=600)
    try:
        headers = {"Content-Type": plan.content_type, "Accept": plan.accept}
        conn.request("POST", "/invocations", body=payload, headers=headers)
        response = conn.getresponse()
        return response.status, response.read(), response.getheader("Content-Type") or ""
    finally:
        conn.close()


def _split_response(data: bytes, expected: int) -> list[bytes]:
    lines = [line for line in data.splitlines() if line.strip()]
    if len(lines) == 1 and expected > 1 and b"," in lines[0] and lines[0].count(b",") == expected - 1:
        # A CSV model answering a batch with one comma-separated line of predictions.
        return [part.strip() for part in lines[0].split(b",")]
    return lines


class _Plan:
    def __init__(self, args: Mapping[str, Any]) -> None:
        transform_input = args.get("TransformInput") or {}
        source = (transform_input.get("DataSource") or {}).get("S3DataSource") or {}
        output = args.get("TransformOutput") or {}
        processing = args.get("DataProcessing") or {}
        self.model_name = str(args.get("ModelName") or "")
        self.input_uri = str(source.get("S3Uri") or "")
        self.data_type = str(source.get("S3DataType") or "S3Prefix")
        self.content_type = str(transform_input.get("ContentType") or "application/octet-stream")
        self.compression = str(transform_input.get("CompressionType") or "None")
        self.split_type = str(transform_input.get("SplitType") or "None")
        self.output_path = str(output.get("S3OutputPath") or "")
        self.accept = str(output.get("Accept") or self.content_type)
        self.assemble_with = str(output.get("AssembleWith") or "None")
        self.strategy = str(args.get("BatchStrategy") or "MultiRecord")
        self.max_payload = int(args.get("MaxPayloadInMB") or DEFAULT_MAX_PAYLOAD_MB) * 1024 * 1024
        self.input_filter = processing.get("InputFilter")
        self.output_filter = processing.get("OutputFilter")
        self.join_source = str(processing.get("JoinSource") or "None")
        self.environment = {str(k): str(v) for k, v in (args.get("Environment") or {}).items()}
        # botocore's sagemaker model: MaxConcurrentTransforms is an integer, at least 0.
        self.concurrency = concurrency(int(args.get("MaxConcurrentTransforms") or 0))

    @classmethod
    def from_arguments(cls, args: Mapping[str, Any]) -> _Plan:
        plan = cls(args)
        if not plan.model_name:
            raise StepFailure("ClientError: ValidationException: ModelName is required")
        if not plan.input_uri or not plan.output_path:
            raise StepFailure(
                "ClientError: ValidationException: TransformInput S3Uri and TransformOutput S3OutputPath are required"
            )
        if plan.data_type != "S3Prefix":
            raise StepFailure(
                f"ClientError: S3DataType {plan.data_type} is not supported locally (S3Prefix only)"
            )
        if plan.compression != "None":
            raise StepFailure(
                f"ClientError: CompressionType {plan.compression} is not supported locally (None only)"
            )
        if plan.split_type in ("RecordIO", "TFRecord"):
            raise StepFailure(
                f"ClientError: SplitType {plan.split_type} is not supported locally: the local cloud does not parse "
                f"{plan.split_type} files; use Line or None"
            )
        # The enums of CreateTransformJob (botocore's sagemaker model: SplitType, BatchStrategy,
        # AssembleWith, JoinSource), in the order they are checked.
        for member, value, allowed in (
            ("SplitType", plan.split_type, ("None", "Line", "RecordIO", "TFRecord")),
            ("BatchStrategy", plan.strategy, ("SingleRecord", "MultiRecord")),
            ("AssembleWith", plan.assemble_with, ("None", "Line")),
            ("JoinSource", plan.join_source, ("None", "Input")),
        ):
            if value not in allowed:
                raise StepFailure(
                    f"ClientError: ValidationException: {member} {value!r} is not {_one_of(allowed)}"
                )
        if not 0 < plan.max_payload <= 100 * 1024 * 1024:
            raise StepFailure("ClientError: ValidationException: MaxPayloadInMB must be between 1 and 100")
        return plan

    @property
    def filters(self) -> bool:
        return bool(self.input_filter or self.output_filter or self.join_source == "Input")

    def split(self, body: bytes) -> list[bytes]:
        if self.split_type == "Line":
            return [line for line in body.splitlines() if line.strip()]
        return [body]

    def batches(self, records: list[bytes], key: str) -> Iterator[list[bytes]]:
        batch: list[bytes] = []
        size = 0
        for record in records:
            if len(record) > self.max_payload:
                raise StepFailure(
                    f"ClientError: a record of {key} is {len(record)} bytes, over MaxPayloadInMB "
                    f"({self.max_payload // (1024 * 1024)} MB)"
                )
            if self.strategy == "SingleRecord" or self.split_type == "None":
                yield [record]
                continue
            if batch and size + len(record) + 1 > self.max_payload:
                yield batch
                batch, size = [], 0
            batch.append(record)
            size += len(record) + 1
        if batch:
            yield batch

    def prepare(self, record: bytes) -> bytes:
        """The record as sent to the model (InputFilter applied)."""
        if not self.input_filter:
            return record
        value = record_filter.apply(self.input_filter, record_filter.parse(record, self.content_type))
        return record_filter.render(value, self.content_type)

    def finish(self, record: bytes, output: bytes) -> bytes:
        """The record's output as written (JoinSource and OutputFilter applied)."""
        if self.join_source != "Input" and not self.output_filter:
            return output
        predicted = record_filter.parse(output, self.accept)
        if isinstance(predicted, list) and len(predicted) == 1 and "csv" in self.accept:
            predicted = predicted[0]
        value = (
            record_filter.join(record_filter.parse(record, self.content_type), predicted)
            if self.join_source == "Input"
            else predicted
        )
        value = record_filter.apply(self.output_filter, value)
        # Joined output is written in the input's format (SageMaker: "the joined record is in the
        # format of the input data").
        return record_filter.render(value, self.content_type if self.join_source == "Input" else self.accept)
