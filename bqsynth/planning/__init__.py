"""Stage 2, planning: decide what to generate, for all tables jointly.

Finds relationships (declared, then inferred from names and values), picks keys and one
generator per column from the closed vocabulary of ``models``, and fits what generation
must reproduce: fan-out skew and the copula that correlates columns. Hands a
``DatasetPlan`` to generation, which compiles its recipes.
"""
