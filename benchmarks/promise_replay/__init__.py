"""The parts of benchmarks/olist_promise.py, split by what they hold.

The entry point stays `benchmarks/olist_promise.py`; it runs with benchmarks/ on sys.path, so
these modules import each other as `promise_replay.<module>`.
"""
