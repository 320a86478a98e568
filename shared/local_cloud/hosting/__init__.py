"""SageMaker hosting on the local cloud: real model servers behind CreateEndpoint/UpdateEndpoint.

- ``model_server``: the model server process (SageMaker's ``/ping`` + ``/invocations`` contract)
  and the handle that starts and stops one.
- ``artifacts``: where a model's artifact and inference code come from (model package, S3).
- ``policy``: UpdateEndpoint's ``DeploymentConfig``, parsed and checked against SageMaker's limits.
- ``endpoints``: the data plane: fleets of model servers and the router InvokeEndpoint goes through.
- ``telemetry``: the CloudWatch metrics and the data capture every invocation produces.
- ``alarms``: CloudWatch alarm evaluation (moto stores alarms but never evaluates them).
- ``deployment``: the control plane: create, blue/green update, auto-rollback.
- ``worker``: ``attach(cloud)``, which wires all of it into a running local cloud.
- ``cli``: ``dualloop invoke``.

The moto side (UpdateEndpoint, InvokeEndpoint routing, endpoint state) is
``shared/local_cloud/patches/sagemaker_hosting.py``.
"""
