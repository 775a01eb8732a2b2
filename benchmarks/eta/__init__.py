"""The parts of benchmarks/eta_scale.py, split by what they hold.

The entry point stays `benchmarks/eta_scale.py`; it runs with benchmarks/ on sys.path, so
these modules import each other as `eta.<module>`. benchmarks/eta_update.py writes its
history with the same generator (`eta.history.generate`).
"""
