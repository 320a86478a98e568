"""Where asynchronous work that failed goes, so that no failure is silent.

Every Lambda function invoked asynchronously (the relays, the drift trigger, the lock
release: EventBridge invokes them) sends an event it could not handle, after Lambda's own
retries, to one dead-letter queue; every EventBridge target that could not be delivered to
after its retry policy lands there too. An alarm on the queue tells the SNS topic the
moment anything arrives: a lost pipeline or approval event is then a notification, not a
silent multi-hour wait (the state machine's own bound, RunInnerPipeline's re-checks, still
ends the retrain).
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.context import StackContext


class DeadLetters(Construct):
    def __init__(self, scope: Construct, construct_id: str, ctx: StackContext, *, topic: sns.ITopic) -> None:
        super().__init__(scope, construct_id)
        names, data = ctx.names, ctx.data
        self.queue = sqs.Queue(
            self,
            "Queue",
            queue_name=names.dead_letter_queue,
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=data.key,
            enforce_ssl=True,
            retention_period=Duration.days(14),  # SQS's maximum: time to look and replay
        )
        # EventBridge writes undeliverable events to the queue, and the alarm publishes to the
        # topic: both are SSE-KMS with the project key, so both services need it
        # (docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-dlq.html; SNS "Enable
        # compatibility between event sources from AWS services and encrypted topics").
        data.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="DeadLettersAndAlarms",
                principals=[
                    iam.ServicePrincipal("events.amazonaws.com"),
                    iam.ServicePrincipal("cloudwatch.amazonaws.com"),
                ],
                actions=["kms:Decrypt", "kms:GenerateDataKey"],
                resources=["*"],  # in a key policy, "*" is this key
                conditions={"StringEquals": {"aws:SourceAccount": names.account}},
            )
        )
        self.alarm = cloudwatch.Alarm(
            self,
            "Alarm",
            alarm_name=names.dead_letter_queue,
            alarm_description="An asynchronous dualloop Lambda or EventBridge target gave up on an event: "
            f"read it from the SQS queue {names.dead_letter_queue}",
            metric=self.queue.metric_approximate_number_of_messages_visible(
                period=Duration.minutes(1), statistic="Maximum"
            ),
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self.alarm.add_alarm_action(cloudwatch_actions.SnsAction(topic))
