"""``python -m agreement.cli``: the ``agree`` command."""

from agreement.cli import main

if __name__ == "__main__":
    main()
