"""Residency rules, free of I/O: what a resident-record change (住民記録異動) means for pension work."""
