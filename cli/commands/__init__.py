"""The `crs` commands, grouped by what they touch: steps write, queries and audit read."""
