"""The dugong test suite (a package, so that ``tests.servers`` imports cleanly)."""
