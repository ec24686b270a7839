"""The Google layer: BigQuery and Cloud Storage clients, SQL quoting, schema conversion.

Also the pure spellings both services impose: ``gs://`` URIs (``uris``) and valid BigQuery
names and table ids (``names``). Every stage reaches Google Cloud through these modules;
they know nothing of the pipeline's stages.
"""
