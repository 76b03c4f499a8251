"""Allow ``python -m instantly_cli``."""

from instantly_cli.cli import main

if __name__ == "__main__":
    main()
