"""Exceptions shared by every layer: the ones the command line reports as user errors.

A :class:`UserError` means the input or an option is wrong, not the code: the command line prints its message
as one line and exits with code 2, without a traceback. Library functions raise it (or a subclass) when a
path, a file's content or an argument cannot be used, with a message that names the file or option.
"""

from __future__ import annotations


class UserError(ValueError):
    """Bad input or option: the message names the file or option and says what is wrong with it."""
