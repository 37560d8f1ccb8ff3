"""Errors a user can fix: bad paths, unknown names, unusable data.

Library code raises ``ThesisError`` (or a subclass) with a message that names the file or the
value and what is wrong with it. The ``thesis`` command prints such errors as one line and exits
with status 2; notebooks show the message at the top of the failed cell instead of a deep
traceback from TensorFlow.
"""


class ThesisError(Exception):
    """A problem in the user's input, reported as a single clear line."""


class ConfigError(ThesisError, ValueError):
    """An invalid option: unknown variant, layer name, backbone, image size..."""


class DataError(ThesisError):
    """An unusable dataset, manifest or image file."""


def show_thesis_errors_briefly() -> None:
    """In IPython, show a ``ThesisError`` as its one-line message instead of a traceback.

    Other exceptions keep their full traceback (they are bugs, and the traceback helps).
    """
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is None:
        return

    def one_line(shell, etype, value, tb, tb_offset=None):
        shell.showtraceback((etype, value, tb), exception_only=True)

    shell.set_custom_exc((ThesisError,), one_line)
