"""AWS access: the only part of the Lambda code that imports boto3 (the CLI reaches AWS through it too).

One way to reach AWS, two shapes for two kinds of thing:
- a DynamoDB table is a class bound to its table name (records.DeploymentRecords, state.ServiceState,
  state.RolloutWaits, approvals.ApprovalStore, release_controls.Overrides), built on dynamo.Table, whose
  conditional writes say what they lost to (Table.attempt);
- any other service is a module of functions (ecs, ecr, s3, sfn, sns, registry, secrets, the release
  controls' alarms and calendars).
Both take the boto3 client as an optional, typed argument (ECSClient, SFNClient, ... from boto3-stubs,
so mypy checks every call), defaulting to the shared client of clients.client(); tests pass fakes there.
Every call runs inside clients.aws_call, which names what was being done and turns botocore's errors
into handoff's: throttling into TransientAwsError (the workflow retries it), missing things into
NotFound, the rest into AwsAccessError."""
