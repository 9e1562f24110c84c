"""The AWS target (``provider: aws``, the ``aws`` extra: boto3): IAM Identity Center account
assignments, or IAM roles and groups where Identity Center is not used. See ``target``."""

from engine.targets.aws.target import AwsTarget

__all__ = ["AwsTarget"]
