"""Stage 4, delivery: put generated rows where users read them, and log every step.

Writes a file source's synthetic rows again in the source's own format, uploads files to
Cloud Storage, loads target BigQuery tables idempotently per batch, and writes the audit
and quality log tables. Hands loaded ``TableResult``s to evaluation.
"""
