"""The demo: a seeded retail-bank warehouse (``warehouse``) and two delimited feeds (``feeds``).

Test data and the ``make demo`` source, kept out of the library and the component image.
"""
