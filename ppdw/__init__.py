"""ppdw: build and run the PP medallion data warehouse on AWS with boto3.

Kept import-free: the Lambda bundle and the Glue runtime package import submodules of
``ppdw`` and must not pull in the CLI's dependencies.
"""

__version__ = "0.1.0"
