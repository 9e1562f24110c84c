"""Fixtures of the notices tests: the loopback channels."""

from tests.notices.helpers import channels

__all__ = ["channels"]
