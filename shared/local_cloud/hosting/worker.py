"""SageMaker hosting on a running local cloud: ``attach(cloud)`` wires it in.

It registers the deployer on ``EndpointDeploymentRequested`` (published by CreateEndpoint
and UpdateEndpoint), installs the router InvokeEndpoint goes through, starts the metrics
and data-capture flushers, and registers ``stop``, which stops every model server, so a
stopped local cloud leaves no process behind.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import boto3

from shared.local_cloud import hooks
from shared.local_cloud.hosting import endpoints
from shared.local_cloud.hosting.artifacts import ArtifactStore
from shared.local_cloud.hosting.deployment import Deployer
from shared.local_cloud.hosting.endpoints import Router
from shared.local_cloud.hosting.telemetry import CaptureWriter, MetricsPublisher
from shared.local_cloud.patches import cloudwatch_alarms

if TYPE_CHECKING:
    from shared.local_cloud.cloud import LocalCloud


@dataclass
class Hosting:
    router: Router
    deployer: Deployer
    metrics: MetricsPublisher
    capture: CaptureWriter
    work_dir: Path

    def stop(self) -> None:
        self.deployer.stop()
        if endpoints.current() is self.router:
            endpoints.install(None)
        self.router.stop()
        self.metrics.stop()
        self.capture.stop()
        shutil.rmtree(self.work_dir, ignore_errors=True)


def attach(cloud: LocalCloud) -> Hosting:
    env = cloud.env()
    session = boto3.session.Session(
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        region_name=cloud.region,
    )
    sagemaker = session.client("sagemaker", endpoint_url=cloud.endpoint)
    s3 = session.client("s3", endpoint_url=cloud.endpoint)
    work_dir = cloud.mkdtemp("dualloop-hosting-")
    (work_dir / "logs").mkdir()
    metrics = MetricsPublisher(now=cloud.now)
    capture = CaptureWriter(s3, now=cloud.now)
    router = Router(metrics, capture)
    deployer = Deployer(
        router,
        ArtifactStore(sagemaker, s3, work_dir / "artifacts"),
        cloudwatch_alarms.evaluator(),  # one evaluator: bakes and metric writes share alarm state
        metrics,
        work_dir / "logs",
    )
    hosting = Hosting(router, deployer, metrics, capture, work_dir)
    metrics.start()
    capture.start()
    endpoints.install(router)
    cloud.hooks.register(hooks.EndpointDeploymentRequested, deployer.handle)
    cloud.add_worker(hosting.stop)
    return hosting
