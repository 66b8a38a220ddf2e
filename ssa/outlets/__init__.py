"""Outlets: registration, accreditation status per fund, staff and till terminals."""
