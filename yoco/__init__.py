"""YOCO: prune condensed datasets by the two rules of "You Only Condense Once" (NeurIPS 2023)."""
__version__ = "0.1.0"
