"""The embedded AWS: the real template, state machine and handlers on an in-process moto server."""
