"""Stage 5, evaluation: measure what landed.

Integrity by SQL on every row of the targets, samples of source and target, fidelity,
privacy and validity metrics, the quality report and the run summary (``RunSummary``).
"""
