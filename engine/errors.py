"""One error hierarchy. Every error a user can meet says what went wrong and how to fix it.

The CLI's error boundary turns a ``GitjitError`` into one sentence on stderr and exit code 2;
anything else is a bug: it prints "please report" and exits 3.
"""

from __future__ import annotations


class GitjitError(Exception):
    """An expected failure whose message a user can act on."""


class UsageError(GitjitError):
    """The command line asks for something impossible (bad option value, missing file)."""


class ConfigurationError(GitjitError):
    """The repository's configuration cannot be used at all (not merely has findings)."""


class GitError(GitjitError):
    """A git command failed; the message carries the command and git's own words."""
