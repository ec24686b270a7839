"""Stage 3, generation: turn a ``TablePlan`` into rows.

Compiles the plan into a Snowfakery recipe (and checks recipes for safety), runs it with
the bqsynth plugin (keys, references, sampling, copula draws, rules, source-value
exclusions) and hands NDJSON files of shaped rows to delivery.
"""
