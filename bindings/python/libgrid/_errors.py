"""Exception classes of libgrid, one per ``lg_error`` code.

Every error the library reports is raised as a subclass of :class:`Error`; the
message is the library's own (``lg_context_message``), naming the file, the
record and the reason. ``ERRORS`` is the single table that maps the C codes to
classes; the C extension looks codes up in it.
"""

from __future__ import annotations

from typing import Dict, Type

__all__ = [
    "Error",
    "NoMemoryError",
    "ArgumentError",
    "FileError",
    "FormatError",
    "UnsupportedError",
    "CRSError",
    "GeometryError",
    "NotFoundError",
    "CapacityError",
    "InternalError",
    "CancelledError",
    "ERRORS",
]


class Error(Exception):
    """Base class of every libgrid error. ``code`` is the C ``lg_error`` value."""

    code = 0


class NoMemoryError(Error, MemoryError):
    """An allocation failed (LG_ERR_NOMEM)."""

    code = 1


class ArgumentError(Error, ValueError):
    """An invalid argument: NULL, NaN, out of range, bad option (LG_ERR_ARG)."""

    code = 2


class FileError(Error, OSError):
    """A file cannot be opened, read or written (LG_ERR_IO)."""

    code = 3

    def __str__(self) -> str:
        # OSError formats "[Errno ...]" when given two arguments; we give one.
        return str(self.args[0]) if self.args else ""


class FormatError(Error):
    """Malformed file contents (LG_ERR_FORMAT)."""

    code = 4


class UnsupportedError(Error):
    """Well-formed but unsupported input, or a feature not built in (LG_ERR_UNSUPPORTED)."""

    code = 5


class CRSError(Error):
    """A CRS cannot be parsed, or a transform failed (LG_ERR_CRS)."""

    code = 6


class GeometryError(Error):
    """Unusable geometry: non-finite, unclosed or short ring (LG_ERR_GEOMETRY)."""

    code = 7


class NotFoundError(Error, LookupError):
    """A named field, id or item does not exist (LG_ERR_NOT_FOUND).

    A LookupError but deliberately not a KeyError, whose str() would quote the message.
    """

    code = 8


class CapacityError(Error):
    """A caller-supplied output is too small (LG_ERR_CAPACITY)."""

    code = 9


class InternalError(Error):
    """A failure inside GEOS/PROJ or a libgrid bug (LG_ERR_INTERNAL)."""

    code = 10


class CancelledError(Error):
    """Stopped by a progress callback (LG_ERR_CANCELLED)."""

    code = 11


#: lg_error code -> exception class; the one place codes become classes.
ERRORS: Dict[int, Type[Error]] = {
    cls.code: cls
    for cls in (
        NoMemoryError,
        ArgumentError,
        FileError,
        FormatError,
        UnsupportedError,
        CRSError,
        GeometryError,
        NotFoundError,
        CapacityError,
        InternalError,
        CancelledError,
    )
}
