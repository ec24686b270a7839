"""bqsynth: synthetic copies of BigQuery tables, with keys, privacy and an audit trail."""

__version__ = "0.1.0"
