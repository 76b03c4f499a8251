"""The accounts domain: one module per verb group of ``instantly accounts`` (mirrors
commands/accounts)."""
