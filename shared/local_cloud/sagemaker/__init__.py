"""The local SageMaker: a docker-free executor of pipeline definitions (schema 2020-12-01) and
the jobs its steps run, standalone or in a pipeline.

``executor.run_definition(definition_json, parameters, s3=..., sagemaker=...)`` runs one
execution directly; ``worker.attach(cloud)`` makes the local cloud run every
``StartPipelineExecution`` with it. Nothing here is imported by the pipeline definition itself:
the JSON is the contract. This package imports none of its modules on import, so light ones
(``algorithms``, ``errors``) can be used by the local hosting without a cycle through the
step executors (the transform step uses the hosting's model server).
"""
