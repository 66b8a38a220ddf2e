"""Monthly credits: issuing a period to every eligible household, and closing it."""
