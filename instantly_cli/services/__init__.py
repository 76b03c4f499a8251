"""The domain: callable and testable without Typer or a terminal (no typer, rich or output)."""
