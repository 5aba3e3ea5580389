"""handoff: continuous delivery for Amazon ECS, driven by S3 uploads and Step Functions."""

__version__ = "0.1.0"
