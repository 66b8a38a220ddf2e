"""ssa: the ledger of a social food security fund (sécurité sociale de l'alimentation)."""

__version__ = "0.1.0"
