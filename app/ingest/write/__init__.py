"""Stage 4, write: normalised rows into their tables.

- ``strategy``: how a body's writes are grouped into transactions (one for a small body, one per
  series otherwise, and the fall back from the first to the second).
- ``units``: one series or section as the strategy writes it, with its bookkeeping (quality
  flags, digests, the report's counts).
- ``series``: the writer of the time-series tables, choosing a straight COPY or a merge.
- ``workouts``: the writer of workouts with their series and routes.
"""
