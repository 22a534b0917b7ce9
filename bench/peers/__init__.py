"""The peers the store benchmark measures wfkit against, each doing the same 5-step workflow.

Each module has `measure(url, runs=, inflight=, warmup=, threads=) -> Result` and imports its
library only when called: the libraries live in bench/requirements.txt, never in wfkit's dependencies.
"""
