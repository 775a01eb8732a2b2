"""The parts of benchmarks/ingest_throughput.py, split by what they hold.

The entry point stays `benchmarks/ingest_throughput.py`; it runs with benchmarks/ on
sys.path, so these modules import each other as `ingest.<module>`. Other benchmarks on
PostgreSQL share the pieces that are not ingest's own (benchmarks/aftersales_throughput.py:
`prepare`, `processes`, `api`, `batches.post_facts`, `common`).
"""
