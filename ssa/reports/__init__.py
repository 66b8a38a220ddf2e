"""Period reports of a fund: money in, credits out, coverage and runway."""
