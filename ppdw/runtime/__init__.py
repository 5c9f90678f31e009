"""What runs in Lambda and Glue (and in-process on the local runner).

Nothing here may import the CLI, pydantic or rich at module level: the fetch Lambda ships
with the standard library and boto3 only.
"""
