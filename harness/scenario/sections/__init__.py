"""The parsers of a scenario file's sections, one module per section or close group of them;
harness.scenario.parse reads the file and calls them in order.
"""
