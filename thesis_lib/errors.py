"""Errors a user can fix: bad paths, unknown names, unusable data.

Library code raises ``ThesisError`` (or a subclass) with a message that names the file or the
value and what is wrong with it. The ``thesis`` command prints such errors as one line and exits
with status 2; notebooks show the message at the top of the failed cell instead of a deep
traceback from TensorFlow.
"""


class ThesisError(Exception):
    """A problem in the user's input, reported as a single clear line."""

    def _render_traceback_(self) -> list[str]:
        # IPython's hook for how an exception shows in a notebook: the one line, no traceback
        # (other exceptions are bugs and keep theirs).
        return [f"{type(self).__name__}: {self}"]


class ConfigError(ThesisError, ValueError):
    """An invalid option: unknown variant, layer name, backbone, image size..."""


class DataError(ThesisError):
    """An unusable dataset, manifest or image file."""
