"""Stage 2, planning: decide what to generate, for all tables jointly.

Finds relationships (declared, then inferred from names and values), picks keys and one
generator per column from the closed vocabulary of ``models``. Hands a ``DatasetPlan``
to generation.
"""
