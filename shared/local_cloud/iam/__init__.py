"""IAM on the local cloud: every workload calls AWS as its own execution role.

- ``policy``: evaluates identity-based policies as AWS does (explicit Deny wins, then any
  Allow; Action/NotAction, Resource/NotResource, the condition operators the stack uses).
- ``requests``: what a request asks for: the IAM action, the resource ARNs it touches and
  the condition keys known for it.
- ``template``: the roles and policies of the synthesized CloudFormation template, with
  its intrinsics resolved to the local cloud's names.
- ``sessions``: temporary credentials of a role (STS AssumeRole inside moto) for the
  service that runs as it, and who a request's credentials belong to.
- ``stack_template``: the synthesized template, cached by the content of its inputs.

The user's own credentials (``LOCAL_ACCESS_KEY``) stay an administrator; only workloads
are confined. ``patches/iam_enforcement.py`` wires this into moto's request path.
"""
