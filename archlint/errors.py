"""The error hierarchy: everything archlint reports to a user derives from ArchlintError.

The CLI turns an ArchlintError into one line on stderr and exit code 2; anything else is a bug,
InternalError or not: one line naming archlint's version and exit code 3, the traceback only
with --debug (or ARCHLINT_DEBUG=1).
"""


class ArchlintError(Exception):
    """Root of every error archlint reports to the user as one line."""


class ModelLoadError(ArchlintError):
    """The model file is missing, unreadable, not ONNX, or references data it may not read."""


class ShapeError(ArchlintError):
    """A tensor shape cannot be resolved without more input from the user."""


class ProfileError(ArchlintError):
    """A hardware profile is unknown or invalid."""


class UsageError(ArchlintError):
    """A command-line or configuration value is malformed."""


class InternalError(Exception):
    """A bug, in archlint or in a plugin's rule, met while working on valid input: exit code 3,
    so that CI can tell it from findings (1) and from bad input (2)."""
