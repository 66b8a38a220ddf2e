"""Households: persons, member numbers, allowances, PINs and contributions."""
