"""The Google layer: BigQuery and Cloud Storage clients, SQL quoting, schema conversion.

Every stage reaches Google Cloud through these modules; they know nothing of the pipeline.
"""
