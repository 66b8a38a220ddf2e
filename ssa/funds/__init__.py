"""Funds (caisses locales): each has its own policy, members, outlets and books."""
