"""``python -m tests.bench``: the benchmark of issue 6 (``make bench``).

Measures, in one run and on the same tables: raw COPY of the rows the app stores (the physical
limit), end-to-end HTTP ingest of a large payload (fresh, all duplicates, 50 % overlap), many small
syncs at several concurrencies against their floors (R_small), and the server's peak RSS. See
``__main__.py`` and docs/performance.md.
"""
