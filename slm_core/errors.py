"""User-facing error types.

Every error a user can cause (bad file, wrong column, cancelled job) is raised as an
``SlmError`` whose ``str()`` is a single readable sentence. The UI shows it as-is and the
CLI prints it on one line and exits 2, so no traceback ever reaches a user.
"""

from __future__ import annotations


class SlmError(Exception):
    """Base class: the message is a one-line reason a non-engineer can act on."""


class DataError(SlmError):
    """The uploaded file or the column mapping cannot be used."""


class TrainError(SlmError):
    """A training run failed for a reason the user can act on."""


class CancelledError(SlmError):
    """The user cancelled a running job."""


class NotFoundError(SlmError):
    """A dataset, run or artifact id does not exist."""
