"""Shared argument checks and text parsers, imported by every layer.

Standard library only (``trainables``, ``search_spaces``, ``study`` and ``analysis`` all import it,
so it must never pull in torch, Ray, MLflow, pandas or NumPy). ``common.checks`` validates values,
``common.parsing`` turns command-line text into values.
"""
