"""instantly-cli: administer Instantly.ai sending accounts from the command line."""

__version__ = "0.1.0"
