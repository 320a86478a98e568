"""A job's output in CloudWatch Logs, where SageMaker puts it and the SDK tails it.

SageMaker writes each instance's stdout/stderr to the log group of the job's kind
(``/aws/sagemaker/TrainingJobs``, ``ProcessingJobs``, ``TransformJobs``), one stream per
instance named ``<job name>/<host>-<epoch seconds>``; the SDK's ``wait(logs=True)`` lists the
streams by the ``<job name>/`` prefix and prints new events as they come. ``JobLogShipper``
follows each local instance's log file (``<work dir>/<host>/job.log``, as
``steps/container.py`` writes it) and sends its complete lines every ``period`` seconds while
the job runs, and the rest when it ends.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_logs import CloudWatchLogsClient

LOG = logging.getLogger(__name__)

# PutLogEvents: at most 10,000 events and 1,048,576 bytes per call, each event counting its
# UTF-8 size plus 26 bytes, an event at most 256 KB (CloudWatch Logs API reference).
MAX_EVENTS = 10_000
MAX_BATCH_BYTES = 1_048_576
EVENT_OVERHEAD = 26
MAX_EVENT_BYTES = 256 * 1024 - EVENT_OVERHEAD


@dataclass
class _Followed:
    stream: str
    offset: int = 0
    partial: bytes = b""


@dataclass
class JobLogShipper:
    logs: CloudWatchLogsClient
    group: str
    job_name: str
    work_dir: Path
    epoch: int = field(default_factory=lambda: int(time.time()))
    _followed: dict[Path, _Followed] = field(default_factory=dict)
    _group_ready: bool = False
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    written: int = 0

    def start(self, period: float = 1.0) -> JobLogShipper:
        def follow() -> None:
            while not self._stop.wait(period):
                try:
                    self.ship()
                except Exception:  # the job must not fail for its logs; finish() tries again
                    LOG.warning("could not send the logs of %s", self.job_name, exc_info=True)

        self._thread = threading.Thread(target=follow, name=f"logs-{self.job_name}", daemon=True)
        self._thread.start()
        return self

    def finish(self) -> int:
        """Stop following and send everything left; the number of events sent in all."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.ship(final=True)
        return self.written

    def ship(self, *, final: bool = False) -> None:
        for log_file in sorted(self.work_dir.glob("*/job.log")):
            followed = self._followed.get(log_file)
            if followed is None:
                followed = self._followed[log_file] = self._new_stream(log_file.parent.name)
            with open(log_file, "rb") as handle:
                handle.seek(followed.offset)
                data = handle.read()
            followed.offset += len(data)
            lines = (followed.partial + data).split(b"\n")
            followed.partial = lines.pop()  # an unfinished line, or b"" after a newline
            if final and followed.partial:
                lines.append(followed.partial)
                followed.partial = b""
            self._put(followed.stream, lines)

    def _new_stream(self, host: str) -> _Followed:
        if not self._group_ready:
            try:
                self.logs.create_log_group(logGroupName=self.group)
            except self.logs.exceptions.ResourceAlreadyExistsException:
                pass
            self._group_ready = True
        stream = f"{self.job_name}/{host}-{self.epoch}"
        self.logs.create_log_stream(logGroupName=self.group, logStreamName=stream)
        return _Followed(stream)

    def _put(self, stream: str, lines: list[bytes]) -> None:
        now_ms = int(time.time() * 1000)
        batch: list[dict[str, Any]] = []
        size = 0
        for line in lines:
            message = line[:MAX_EVENT_BYTES].decode("utf-8", errors="replace") or " "
            cost = len(message.encode("utf-8")) + EVENT_OVERHEAD
            if batch and (len(batch) >= MAX_EVENTS or size + cost > MAX_BATCH_BYTES):
                self._send(stream, batch)
                batch, size = [], 0
            batch.append({"timestamp": now_ms, "message": message})
            size += cost
        if batch:
            self._send(stream, batch)

    def _send(self, stream: str, batch: list[dict[str, Any]]) -> None:
        self.logs.put_log_events(logGroupName=self.group, logStreamName=stream, logEvents=batch)  # type: ignore[arg-type]
        self.written += len(batch)
