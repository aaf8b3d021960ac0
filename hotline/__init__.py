"""hotline: command line, settings and process wiring for the call-center controller."""

__version__ = "0.1.0"
