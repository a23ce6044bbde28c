"""Estimates built on the specs and the cost graph: memory, timing, latency and throughput."""
