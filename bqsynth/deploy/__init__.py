"""Shipping the pipeline to Vertex AI Pipelines: submission, schedules, dry runs.

Used by ``submit.py`` only; the component image does not contain it.
"""
