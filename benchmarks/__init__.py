"""Benchmarks of the exporter: scrape cost, poll rounds, memory, log ingest and load.

``python -m benchmarks`` runs them all (``--smoke`` for tiny sizes, ``--only`` to pick sections)
and prints one table; ``docs/performance.md`` says what each figure means.
"""
