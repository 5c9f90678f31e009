"""The contracts between the control plane (deploy, runs) and the data plane (the jobs).

Rule: standard library, `ppdw.naming` and `ppdw.errors` only; the fetch Lambda's import
closure may reach this package. Each contract has one owner module here, and both sides
use it.
"""
