"""The `crs` command-line tool: parse, call the pathway service, render (CONTRACT.md).

The only layer that reads the clock, the environment and the terminal; everything below it
takes those as arguments.
"""
