"""feedd: drop plain-text articles into seeds/, get RSS and Atom feeds in feeds/."""

__version__ = "0.1.0"
