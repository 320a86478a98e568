"""Glue on the local cloud: a job run started there runs the job's real script with PySpark.

The script is fetched from the job's ``ScriptLocation`` (as Glue does), loaded as a module
and its ``main(argv[, spark])`` called with Glue's ``--KEY value`` arguments and one shared
SparkSession (starting Spark costs seconds; Glue keeps a warm pool too; ``warm()`` starts it
in the background for a command that knows a job is coming). The run moves RUNNING →
SUCCEEDED, or FAILED with the error message, which ``get_job_run`` reports. Runs are
serialised: one local Spark driver, like a job with MaxConcurrentRuns = 1. Spark logs only
errors (``spark-log4j2.properties``): a job's failure reaches the user as the run's
ErrorMessage, not as JVM log lines.

A driver whose JVM died (killed, out of memory) is noticed before the next run, forgotten
(PySpark would hand the dead session out again and every later run would fail with
``ConnectionRefusedError``) and replaced; a run during which it died fails with a reason
that says so (``SPARK_DRIVER_STOPPED``), not one that blames the data.
"""

from __future__ import annotations

import contextlib
import importlib.util
import inspect
import logging
import os
import shutil
import sys
import tempfile
import threading
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import boto3

from shared.local_cloud import backend_state, hooks
from shared.local_cloud.iam import sessions
from shared.outcome_advice import SPARK_DRIVER_STOPPED

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from shared.local_cloud.cloud import LocalCloud

LOG = logging.getLogger(__name__)
_LOG4J2 = Path(__file__).with_name("spark-log4j2.properties")


class LocalGlue:
    def __init__(self, scripts: Path | None = None) -> None:
        """``scripts``: where fetched job scripts go (the local cloud's folder for it)."""
        self._spark: SparkSession | None = None
        self._lock = threading.Lock()
        self._scripts = scripts or Path(tempfile.mkdtemp(prefix="dualloop-glue-"))

    def spark(self) -> SparkSession:
        if self._spark is not None and not _alive(self._spark):
            LOG.warning("the local Spark driver (JVM) is gone: starting a new one")
            _forget(self._spark)
            self._spark = None
        if self._spark is None:
            from pyspark.sql import SparkSession

            # The JVM resolves this host's name to pick an address and warns when it is
            # loopback; a local driver only ever needs loopback.
            os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
            java_options = (
                f"-XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Dlog4j2.configurationFile={_LOG4J2.as_uri()}"
            )
            self._spark = (
                SparkSession.builder.master("local[2]")
                .appName("dualloop-local-glue")
                .config("spark.ui.enabled", "false")
                .config("spark.ui.showConsoleProgress", "false")
                .config("spark.sql.shuffle.partitions", "4")
                .config("spark.driver.extraJavaOptions", java_options)
                .config("spark.sql.session.timeZone", "UTC")
                .getOrCreate()
            )
        return self._spark

    def warm(self) -> None:
        """Start Spark in the background, and run a tiny job shaped like ours through it.

        The JVM's first query loads and compiles most of Spark SQL (~7 s on 2 cores, more
        than starting Spark); done here, it overlaps with whatever the caller does meanwhile
        (provisioning the stack) instead of delaying the first Glue job.
        """

        def start() -> None:
            with self._lock:
                try:
                    _warm_up(self.spark(), self._scripts / "warm-up")
                except Exception as exc:  # the first job will start it again and report why
                    LOG.debug("warming Spark failed: %s", exc)

        threading.Thread(target=start, name="dualloop-spark-warm", daemon=True).start()

    def run(self, event: hooks.GlueJobRunStarted) -> None:
        with self._lock:
            try:
                # Glue runs the script as the job's role (and fetches ScriptLocation as it).
                role = backend_state.glue_job_session(event.account_id, event.region, event.job_name)
                with sessions.acting_as(role):
                    self._run(event)
            except BaseException as exc:
                reason = _reason(exc)
                if self._spark is not None and not _alive(self._spark):
                    reason = (
                        f"{SPARK_DRIVER_STOPPED} during the run ({reason}); the next run starts a new one"
                    )
                LOG.warning("glue job %s run %s failed: %s", event.job_name, event.run_id, reason)
                backend_state.set_glue_job_run_state(
                    event.account_id, event.region, event.job_name, event.run_id, "FAILED", reason
                )
                return
        backend_state.set_glue_job_run_state(
            event.account_id, event.region, event.job_name, event.run_id, "SUCCEEDED"
        )

    def _run(self, event: hooks.GlueJobRunStarted) -> None:
        module = self._load(event.script_location)
        argv = [event.job_name]
        for key, value in sorted(event.arguments.items()):
            argv += [key, value]
        # Spark starts only for scripts that take it (a plain Python shell job does not).
        if "spark" in inspect.signature(module.main).parameters:
            module.main(argv, spark=self.spark())
        else:
            module.main(argv)

    def _load(self, location: str | None) -> ModuleType:
        if not location:
            raise ValueError("the job has no Command.ScriptLocation")
        path = self._fetch(location)
        name = f"_glue_job_{path.stem}"
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise ValueError(f"cannot load the job script {location}")
        module = importlib.util.module_from_spec(spec)
        # Registered before running it, as an import would: pydantic resolves the
        # script's postponed annotations through sys.modules.
        sys.modules[name] = module
        spec.loader.exec_module(module)
        if not callable(getattr(module, "main", None)):
            raise ValueError(f"{location} has no main(argv, spark) entry point")
        return module

    def _fetch(self, location: str) -> Path:
        if not location.startswith("s3://"):
            return Path(location)
        bucket, _, key = location.removeprefix("s3://").partition("/")
        target = self._scripts / bucket / key
        target.parent.mkdir(parents=True, exist_ok=True)
        boto3.client("s3").download_file(bucket, key, str(target))
        return target

    def stop(self) -> None:
        with self._lock:
            if self._spark is not None:
                with contextlib.suppress(Exception):  # a dead driver cannot be stopped, only forgotten
                    self._spark.stop()
                self._spark = None
            shutil.rmtree(self._scripts, ignore_errors=True)  # the fetched job scripts


def _warm_up(spark: SparkSession, folder: Path) -> None:
    """CSV in with a header, cache, count, dedupe, aggregate, Parquet out and back: what ingest
    and data quality do, on three rows."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "in.csv").write_text("id,category,amount\n1,a,2.5\n2,b,3.5\n2,b,3.5\n")
    frame = spark.read.option("header", "true").option("inferSchema", "true").csv(str(folder / "in.csv"))
    frame = frame.persist()
    try:
        frame.dropDuplicates().count()
        frame.groupBy("category").agg({"amount": "avg", "id": "count"}).collect()
        frame.coalesce(1).write.mode("overwrite").parquet(str(folder / "out"))
        spark.read.parquet(str(folder / "out")).count()
    finally:
        frame.unpersist()


def _alive(spark: SparkSession) -> bool:
    """Whether the session's JVM still answers (a dead one refuses the py4j connection)."""
    try:
        context: Any = spark.sparkContext
        return not context._jsc.sc().isStopped()
    except Exception:  # Py4JNetworkError, ConnectionRefusedError, Py4JError: the JVM is gone
        return False


def _forget(spark: SparkSession) -> None:
    """Drop a dead session and its gateway, so the next ``getOrCreate`` starts a new JVM.

    PySpark keeps the active context, its gateway and the session as class attributes and
    hands them out again; stopping them needs the JVM, so they are reset here.
    """
    from pyspark import SparkContext
    from pyspark.sql import SparkSession

    gateway: Any = SparkContext._gateway
    process = getattr(gateway, "proc", None)
    if process is not None and process.poll() is None:
        process.kill()  # half alive (not answering): do not leave it behind
    with contextlib.suppress(Exception):
        gateway.shutdown()
    context: Any = SparkContext
    context._gateway = context._jvm = context._active_spark_context = None
    session: Any = SparkSession
    session._instantiatedSession = session._activeSession = None
    del spark


def _reason(exc: BaseException) -> str:
    if isinstance(exc, SystemExit):
        return f"the job script exited with status {exc.code}"
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"[:2048]


def attach(cloud: LocalCloud, *, glue: Any = None) -> LocalGlue:
    worker = glue or LocalGlue(cloud.mkdtemp("dualloop-glue-"))
    cloud.hooks.register(hooks.GlueJobRunStarted, worker.run)
    cloud.add_worker(worker.stop)
    return worker
