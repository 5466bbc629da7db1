"""All ingest SQL, one module per table family.

- ``tables``: what the writers need to know of a table (key, types, partition column).
- ``series``: the time-series tables (metrics, sleep, events): direct COPY, staging and merge,
  and the index probes that decide between them.
- ``workouts``: workouts, their series and routes, beyond the generic merge.
- ``catalog``: metric type ids.
- ``archive``: the raw body archive, which is also the job queue.
- ``locks``: the per-user writer locks every writer takes, in one order.
- ``digests``: series digests, which answer a large series sent again byte for byte.
"""
