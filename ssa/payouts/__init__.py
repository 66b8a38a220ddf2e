"""Payouts: paying outlets what the fund owes them, by SEPA credit transfer."""
