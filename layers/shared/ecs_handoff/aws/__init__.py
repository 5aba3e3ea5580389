"""AWS access: the only part of handoff that imports boto3."""
