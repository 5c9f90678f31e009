"""Reading the warehouse: catalog views, time travel, history, diffs, run listings, engines.

Rule: readers see only what the Glue catalog registers (data.md, Reading). Pure logic
(as-of filters, SQL rewriting, history, diffs, run summaries) is separate from the I/O
that fetches registered partitions and run records, and from the engines (DuckDB in this
process, Athena on AWS).
"""
