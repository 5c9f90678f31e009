"""Thin wrappers, one per AWS service; the only modules that import boto3/botocore."""
