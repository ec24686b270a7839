"""Stage 1, sources: read what a source table is.

Profiles BigQuery tables (schema, declared keys, statistics by SQL, a bounded sample) and
delimited files in Cloud Storage (format detection, types, statistics). Hands a
``TableProfile`` per source to planning.
"""
