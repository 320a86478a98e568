"""Fix: optimised ``.sync`` integrations (``glue:startJobRun.sync``) crash when the run ends.

moto 5.2.5's ``StateTaskServiceCallback._eval_integration_pattern`` calls
``callback_endpoint.interrupt_all()`` in a ``finally`` block, but the endpoint only exists
for ``.waitForTaskToken`` tasks; for ``.sync`` it is ``None`` and the task fails with
``'NoneType' object has no attribute 'interrupt_all'`` after the job has finished. This is
moto's method with that one line guarded; nothing else differs.
"""

from __future__ import annotations

import json
from typing import Any

from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
    state_task_service_callback as callback_module,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.resource import ResourceCondition
from moto.stepfunctions.parser.asl.eval.callback.callback import (
    CallbackEndpoint,
    CallbackOutcome,
    CallbackOutcomeFailure,
    CallbackOutcomeFailureError,
    CallbackOutcomeSuccess,
    CallbackOutcomeTimedOut,
    CallbackTimeoutError,
    HeartbeatEndpoint,
    HeartbeatTimedOut,
    HeartbeatTimeoutError,
)

from shared.local_cloud.patches import Patch

Callback = callback_module.StateTaskServiceCallback


PATCH = Patch(__name__)


@PATCH.replaces(Callback, "_eval_integration_pattern", "3b97ada1d4cb7280")
def _eval_integration_pattern(
    self: Any,
    env: Any,
    resource_runtime_part: Any,
    normalised_parameters: dict[str, Any],
    state_credentials: Any,
) -> None:
    task_output = env.stack.pop()

    callback_endpoint: CallbackEndpoint | None = None
    if ResourceCondition.WaitForTaskToken in self._supported_integration_patterns:
        callback_id = env.states.context_object.context_object_data["Task"]["Token"]
        callback_endpoint = env.callback_pool_manager.get(callback_id)

    self.timeout.eval(env=env)
    timeout_seconds = env.stack.pop()

    heartbeat_endpoint: HeartbeatEndpoint | None = None
    if self.heartbeat:
        self.heartbeat.eval(env=env)
        heartbeat_seconds = env.stack.pop()
        heartbeat_endpoint = callback_endpoint.setup_heartbeat_endpoint(  # type: ignore[union-attr]
            heartbeat_seconds=heartbeat_seconds
        )

    outcome: CallbackOutcome | Any
    try:
        if self.resource.condition == ResourceCondition.WaitForTaskToken:
            outcome = self._eval_wait_for_task_token(
                env=env,
                timeout_seconds=timeout_seconds,
                callback_endpoint=callback_endpoint,
                heartbeat_endpoint=heartbeat_endpoint,
            )
        else:
            env.stack.append(task_output)
            build = (
                self._build_sync_resolver
                if self.resource.condition == ResourceCondition.Sync
                else self._build_sync2_resolver
            )
            sync_resolver = build(
                env=env,
                resource_runtime_part=resource_runtime_part,
                normalised_parameters=normalised_parameters,
                state_credentials=state_credentials,
            )
            outcome = self._eval_sync(
                env=env,
                timeout_seconds=timeout_seconds,
                callback_endpoint=callback_endpoint,
                heartbeat_endpoint=heartbeat_endpoint,
                sync_resolver=sync_resolver,
            )
    except Exception as integration_exception:
        outcome = integration_exception
    finally:
        if callback_endpoint is not None:  # the fix: None for .sync integrations
            callback_endpoint.interrupt_all()

    if isinstance(outcome, CallbackOutcomeTimedOut):
        raise CallbackTimeoutError()
    elif isinstance(outcome, HeartbeatTimedOut):
        raise HeartbeatTimeoutError()
    elif isinstance(outcome, CallbackOutcomeFailure):
        raise CallbackOutcomeFailureError(callback_outcome_failure=outcome)
    elif isinstance(outcome, CallbackOutcomeSuccess):
        env.stack.append(json.loads(outcome.output))
    elif isinstance(outcome, Exception):
        raise outcome
    else:
        env.stack.append(outcome)
