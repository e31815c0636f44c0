import sys

from .cli import main

if __name__ == "__main__":  # a spawned child (feedd/lemmas.py) imports this as __mp_main__
    sys.exit(main())
