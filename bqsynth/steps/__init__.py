"""The pipeline's steps, one module each, and the machinery they share (``audited``, ``artifacts``).

A step reads its artifacts, calls the stages, writes its artifacts and audit rows; the
KFP components in ``components/`` call the steps and nothing else.
"""
