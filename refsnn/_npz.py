"""Reading an ``.npz`` file that may come from anywhere, without trusting it.

``refsnn compare`` reads a user's file and ``refsnn train --resume`` a checkpoint; both
go through :func:`read_npz`, which, before it decompresses a byte of array data:

- checks that the path is a regular file (``open`` on a FIFO blocks forever, a device
  can be endless);
- tells apart a pickle, a single ``.npy`` array and a file that is no zip archive;
- reads every member's ``.npy`` header alone and refuses a header longer than NumPy's
  safe limit (:data:`HEADER_LIMIT`), an object dtype (that would need pickle; refsnn
  never unpickles) and a declared shape whose bytes do not match the member's size;
- adds up the declared sizes of all members and refuses the file if the total exceeds
  ``max_bytes``, so a small archive that would decompress to gigabytes (or whose header
  declares shape ``(10**12,)``) is refused up front, naming the member.

The zip format stores each member's uncompressed size and :mod:`zipfile` stops
decompressing there, so a member can never produce more bytes than it declares; the
declared sizes are therefore a true bound on what is read. Every refusal is a
:class:`NpzError` whose message starts with the path (or the given ``where``).
"""

from __future__ import annotations

import math
import os
import stat
import zipfile
import zlib

import numpy as np
from numpy.lib import format as npformat

__all__ = ["NpzError", "HEADER_LIMIT", "check_regular_file", "read_npz", "format_bytes"]

#: NumPy's own default ``max_header_size``: a longer ``.npy`` header is not parsed.
HEADER_LIMIT = 10000


class NpzError(ValueError):
    """The file cannot be read as a plain ``.npz`` archive; the message says why."""


def format_bytes(n):
    """``n`` bytes in B, KiB, MiB, GiB, ... (powers of 1024), for messages."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.4g} {unit}"
        n /= 1024


def check_regular_file(path, where=None):
    """Raise :class:`NpzError` unless ``path`` names an existing regular file.

    Checked before the file is opened: a FIFO would block the ``open`` forever."""
    where = where or str(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise NpzError(f"{where}: no such file") from None
    except (OSError, ValueError) as exc:    # permission, a name too long, an embedded NUL
        raise NpzError(f"{where} cannot be read ({exc})") from None
    if stat.S_ISDIR(st.st_mode):
        raise NpzError(f"{where} is a directory, not an .npz file")
    if not stat.S_ISREG(st.st_mode):
        kind = ("a FIFO (named pipe)" if stat.S_ISFIFO(st.st_mode) else "a socket" if stat.S_ISSOCK(st.st_mode)
                else "a device" if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode) else "not a regular file")
        raise NpzError(f"{where} is {kind}, not a regular .npz file")
    return st


def _header(z, info, where, key):
    """``(shape, fortran_order, dtype, offset)`` of one member, from its header alone."""
    with z.open(info) as fh:
        magic = fh.read(8)
        if len(magic) < 8 or magic[:6] != npformat.MAGIC_PREFIX:
            raise NpzError(f"{where}: entry {key!r} is not an .npy array")
        version = (magic[6], magic[7])
        if version == (1, 0):
            length, offset = int.from_bytes(fh.read(2), "little"), 10
        elif version in ((2, 0), (3, 0)):
            length, offset = int.from_bytes(fh.read(4), "little"), 12
        else:
            raise NpzError(f"{where}: entry {key!r} has an unknown .npy format version {version}")
    if length > HEADER_LIMIT:
        raise NpzError(f"{where}: entry {key!r} has an .npy header of {length} bytes, above NumPy's safe limit of "
                       f"{HEADER_LIMIT}; np.save never writes such a header, so the file is damaged or crafted")
    if version == (3, 0):
        raise NpzError(f"{where}: entry {key!r} is an .npy of format 3.0 (structured field names); "
                       "save plain numeric arrays and strings")
    with z.open(info) as fh:
        npformat.read_magic(fh)
        read = npformat.read_array_header_1_0 if version == (1, 0) else npformat.read_array_header_2_0
        try:
            shape, fortran, dtype = read(fh, max_header_size=HEADER_LIMIT)
        except (ValueError, TypeError, SyntaxError) as exc:
            raise NpzError(f"{where}: entry {key!r} has a malformed .npy header ({exc})") from None
    return shape, fortran, dtype, offset + length


def read_npz(path, max_bytes, where=None):
    """The arrays of the ``.npz`` at ``path`` as a dict ``{name: ndarray}`` (never unpickling).

    ``max_bytes`` bounds the total of the arrays' declared sizes; a file above it is
    refused before any array is read. Raises :class:`NpzError` naming what is wrong."""
    where = where or str(path)
    check_regular_file(path, where)
    try:
        with open(path, "rb") as fh:
            head = fh.read(6)
    except OSError as exc:
        raise NpzError(f"{where} cannot be read ({exc})") from None
    if head[:1] == b"\x80":
        raise NpzError(f"{where} is a pickle; refsnn never unpickles. Save the arrays with np.savez(path, **arrays)")
    if head.startswith(b"\x93NUMPY"):
        raise NpzError(f"{where} is a single .npy array, not an .npz archive of named arrays")
    if not head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        raise NpzError(f"{where} is not a readable .npz archive. Save the arrays with np.savez(path, **arrays)")
    try:
        z = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError) as exc:
        raise NpzError(f"{where} is not a readable .npz archive ({type(exc).__name__}: {exc})") from None
    with z:
        plan, total = [], 0
        for info in z.infolist():
            if info.is_dir():
                continue
            key = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
            if not info.filename.endswith(".npy"):
                raise NpzError(f"{where}: member {info.filename!r} is not an .npy array (an .npz holds only "
                               "arrays saved by np.savez)")
            try:
                shape, fortran, dtype, offset = _header(z, info, where, key)
            except NpzError:
                raise
            except (zipfile.BadZipFile, OSError, EOFError, zlib.error, NotImplementedError, RuntimeError) as exc:
                raise NpzError(f"{where}: entry {key!r} cannot be read ({type(exc).__name__}: {exc})") from None
            if dtype.hasobject:
                raise NpzError(f"{where}: entry {key!r} holds pickled Python objects; refsnn never unpickles. "
                               "Save plain arrays and strings (np.savez(..., preset=np.str_(...)))")
            nbytes = math.prod(shape) * dtype.itemsize
            total += nbytes
            if total > max_bytes:
                before = "" if total == nbytes else f", {format_bytes(total)} with the entries before it"
                raise NpzError(f"{where}: entry {key!r} declares shape {shape} of {dtype} ({format_bytes(nbytes)}"
                               f"{before}), above the limit of {format_bytes(max_bytes)}; nothing was decompressed")
            if offset + nbytes != info.file_size:
                raise NpzError(f"{where}: entry {key!r} declares shape {shape} of {dtype} ({nbytes} bytes of data) "
                               f"but its member holds {info.file_size - offset}; the file is damaged")
            plan.append((key, info))
        out = {}
        for key, info in plan:
            try:
                with z.open(info) as fh:
                    out[key] = npformat.read_array(fh, allow_pickle=False, max_header_size=HEADER_LIMIT)
            except (zipfile.BadZipFile, OSError, EOFError, zlib.error, ValueError, NotImplementedError,
                    RuntimeError) as exc:
                raise NpzError(f"{where}: entry {key!r} cannot be read, the file is damaged "
                               f"({type(exc).__name__}: {exc})") from None
    return out
