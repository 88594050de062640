"""File I/O: gauge-field formats (registered through the ``formats`` hook) and the results file."""
