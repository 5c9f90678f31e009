"""Start and follow pipeline runs (local and Step Functions runners) and report status."""
