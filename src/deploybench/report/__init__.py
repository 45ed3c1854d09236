"""Reports: side-by-side tables and A vs B comparisons of stored results."""
