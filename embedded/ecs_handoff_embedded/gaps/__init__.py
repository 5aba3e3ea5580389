"""Everything moto does not do the way AWS does, filled in here and nowhere else: one module per AWS
service, each change made with patching.replace (or .add), which hands back its undo and fails at start-up
when moto has changed under it. EmbeddedAws.start installs them all and EmbeddedAws.stop undoes them. The
lags and delays are off unless EmbeddedAws's fields turn them on (ecs_listing_lag_seconds,
ddb_index_lag_seconds, event_delivery_max_delay_seconds, sns_filter_policy_lag_seconds).

Each gap: the AWS service, its module here, what AWS does that moto does not, and the tests that hold it.
 1 Lambda (awslambda): the real handler runs in this process, no Docker. Every e2e test.
 2 S3 -> EventBridge (s3, events): increasing sequencers; asynchronous delivery as Lambda does it (its own
   retries, then the function's on-failure destination; the rule's dead-letter queue only for events Lambda
   never accepted). test_hostile_inputs, test_faults, test_async_delivery.
 3 ECS (ecs): rollouts end COMPLETED, or FAILED with the circuit breaker's rollback, with ECS's events.
   test_rollout_verdict, test_deployment_workflow.
 4 SNS (sns): email and chat subscriptions deliver, to the outbox. test_notifications, test_approval_gate.
 5 Step Functions (stepfunctions): SendTaskFailure keeps its cause. test_approval_gate.
 6 ECS (ecs): task definitions' fields, sort and paging, a bare family, memoryReservation. test_embedded_ecs.
 7 Step Functions (stepfunctions): StopExecution ends a task waiting for its token; status change events,
   without input over 248 KB, and lost when a test says so (best effort). test_execution_end, test_sweeper.
 8 S3 and ECS (s3, ecs): read-backs of the EventBridge notification and deploymentConfiguration. test_doctor.
 9 IAM (../iam.py): every function's call is authorized against its own role. test_iam, test_embedded_iam.
10 Step Functions (stepfunctions): a Choice on a missing path fails with States.Runtime. test_embedded_sfn.
11 Systems Manager (ssm): GetCalendarState; moto has no change calendars. test_release_controls.
12 ECS (ecs): reads are eventually consistent: DescribeServices can lag behind UpdateService (a set lag).
   test_ecs_consistency, test_rollout_judge.
13 Lambda (awslambda): reserved concurrency must leave 100 unreserved under the account's quota.
   test_concurrency_quota.
14 EventBridge (events): scheduled rules never fire by themselves (moto runs no schedules); fire_schedule is one
   tick, when a test asks. A scheduled rule matches no service event (moto matches it to all). test_sweeper.
   Deliveries can be delayed at random, so events arrive late and out of order. test_event_delivery_delay,
   test_lagging_aws.
15 DynamoDB (dynamodb): Query and Scan on a global secondary index see the table as it was a set lag ago.
   test_index_lag, test_lagging_aws.
16 SNS (sns): a subscription's filter policy change takes effect only after a set lag. test_sns_filter_lag.
17 ECS (ecs_deployments): BLUE_GREEN, LINEAR and CANARY service deployments (moto has none): lifecycle stages,
   test and production traffic on ELBv2 listener rules, bake times, Lambda and PAUSE hooks, deployment alarms,
   Continue/StopServiceDeployment, List/DescribeServiceDeployments and their events. test_ecs_deployments.
18 KMS (kms): a template's AWS::KMS::Key keeps its KeySpec and KeyUsage (moto makes every one symmetric), so
   the stack's promotion key signs with ECDSA P-256. test_promotion_signing.

IAM (9) is not a patch: iam.py puts its own WSGI layer in front of the moto server. tests/integration/
test_gaps.py installs and undoes every patch and checks moto is back as it was. (The state machine's
DefinitionSubstitutions are applied in provision.py.)"""

from __future__ import annotations

from ecs_handoff_embedded.gaps.awslambda import install_concurrency_quota, install_lambda_runner
from ecs_handoff_embedded.gaps.dynamodb import install_index_lag
from ecs_handoff_embedded.gaps.ecs import (
    FAIL_TAG_PREFIX,
    ecs_deployment_event,
    install_deployment_configuration_read_back,
    install_ecs_listing_lag,
    install_ecs_rollouts,
    install_ecs_task_definitions,
)
from ecs_handoff_embedded.gaps.ecs_deployments import (
    ServiceDeployments,
    hook_role_problem,
    install_ecs_deployments,
    lambda_hook_invoker,
)
from ecs_handoff_embedded.gaps.events import Deliveries, EventSink, aws_event, fire_schedule, put_event
from ecs_handoff_embedded.gaps.kms import install_template_key_specs
from ecs_handoff_embedded.gaps.patching import Undo, add, all_of, replace
from ecs_handoff_embedded.gaps.s3 import install_bucket_notification_read_back, install_s3_events, next_sequencer
from ecs_handoff_embedded.gaps.sns import CHAT_ENDPOINT, Outbox, install_email_outbox, install_filter_policy_lag
from ecs_handoff_embedded.gaps.ssm import install_change_calendars
from ecs_handoff_embedded.gaps.stepfunctions import (
    execution_status_event,
    install_execution_status_events,
    install_send_task_failure_cause,
    install_stop_execution,
    install_strict_choice,
)

__all__ = [
    "CHAT_ENDPOINT",
    "FAIL_TAG_PREFIX",
    "Deliveries",
    "EventSink",
    "Outbox",
    "ServiceDeployments",
    "Undo",
    "add",
    "all_of",
    "aws_event",
    "ecs_deployment_event",
    "execution_status_event",
    "fire_schedule",
    "hook_role_problem",
    "install_bucket_notification_read_back",
    "install_change_calendars",
    "install_concurrency_quota",
    "install_deployment_configuration_read_back",
    "install_ecs_deployments",
    "install_ecs_listing_lag",
    "install_ecs_rollouts",
    "install_ecs_task_definitions",
    "install_email_outbox",
    "install_execution_status_events",
    "install_filter_policy_lag",
    "install_index_lag",
    "install_lambda_runner",
    "install_s3_events",
    "install_send_task_failure_cause",
    "install_stop_execution",
    "install_strict_choice",
    "install_template_key_specs",
    "lambda_hook_invoker",
    "next_sequencer",
    "put_event",
    "replace",
]
