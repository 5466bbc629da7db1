"""Stage 5, report: what a body did, for the client (``builder``), for the database (``outcome``:
the report, freshness and audit in the body's last transaction) and for Prometheus
(``counting``: every point counted once, after its write is committed)."""
