"""Payments at the till, payment requests from the phone, and refunds."""
