"""The after-sales throughput benchmark's parts; benchmarks/aftersales_throughput.py runs them."""
