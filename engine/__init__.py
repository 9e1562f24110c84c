"""gitjit: just-in-time privileged access, approved in git."""

__version__ = "0.1.0"
