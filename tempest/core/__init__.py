"""Core of the framework: command line, checks, ASGI app, logging and context."""
