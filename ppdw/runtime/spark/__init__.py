"""The Spark engine: the same bronze and silver as the Arrow engine, spread over a cluster.

Rule: pyspark is imported only inside this package's functions, and only when the Spark
engine runs: importing the package loads no pyspark, and an Arrow-engine job never loads
pyspark nor starts a session.
The rules of data.md are not restated here: every per-row or per-key decision is the Arrow
engine's own function (`readers`, `bronze`, `silver`, `hashing`), applied by Spark tasks to
batches that hold all rows of the keys they touch; Spark does the shuffles (rows to their
key's task) and the scheduling. See docs/engines.md.
"""
