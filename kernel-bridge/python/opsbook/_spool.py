"""The tracking client's overflow: an append-only file of compact binary records under
``<workspace>/.opsbook/spool/``.

When more metric points wait than the client keeps in memory, everything queued after that point
(metric points, and the params, run creations and run ends that follow them, so the order holds) is
appended here and read back, in order, once the sender has caught up. The file belongs to one
process: ``<host>-<pid>-<random>.spool``, removed when drained.

Layout: an 8-byte magic, then records ``tag (1 byte) | payload length (uint32 LE) | payload``:

- ``P`` points of one run: ``header length (uint32 LE) | header JSON {"run", "keys", "n"} | n key
  indexes (uint32) | n values (float64) | n steps (int64) | n timestamps (float64, seconds)``, all
  little-endian: 28 bytes a point.
- ``O`` any other request: JSON ``{"kind", "run", "body"}``.

The caller serialises appends and the counters (the client holds its lock); reads happen on the
sender thread only, up to an end offset the caller read under that lock, so a record being appended
is never half-read.

Stdlib only: this module is imported with ``opsbook``.
"""

from __future__ import annotations

import json
import os
import socket
import struct
import sys
import uuid
from array import array
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from ._daemon import process_exists

MAGIC = b"OBSPOOL1"
POINTS, OP = b"P", b"O"
_RECORD = struct.Struct("<cI")
_HEADER_LENGTH = struct.Struct("<I")
_SWAP = sys.byteorder == "big"  # records are little-endian on every machine
_UINT32 = next(code for code in ("I", "L") if array(code).itemsize == 4)

# (key, value, step, unix time in seconds), as the client queues them.
Point = Tuple[str, float, int, float]
# (kind, run id, body) for a request, or ("metrics", run id, points).
Entry = Tuple[str, str, Any]


def _le(values: array) -> bytes:
    if _SWAP:
        values = array(values.typecode, values)
        values.byteswap()
    return values.tobytes()


def encode_points(run_id: str, points: Sequence[Point]) -> bytes:
    """One ``P`` record holding ``points`` of ``run_id``."""
    keys, values, steps, stamps = zip(*points)
    names = list(dict.fromkeys(keys))  # distinct keys, in order of first use
    if len(names) == 1:  # the common case: one metric logged in a loop
        indexes = array(_UINT32, bytes(4 * len(keys)))
    else:
        indexes = array(_UINT32, map({name: i for i, name in enumerate(names)}.__getitem__, keys))
    header = json.dumps({"run": run_id, "keys": names, "n": len(points)}).encode("utf-8")
    payload = b"".join(
        (
            _HEADER_LENGTH.pack(len(header)),
            header,
            _le(indexes),
            _le(array("d", values)),
            _le(array("q", steps)),
            _le(array("d", stamps)),
        )
    )
    return _RECORD.pack(POINTS, len(payload)) + payload


def encode_op(kind: str, run_id: str, body: Optional[Dict[str, Any]]) -> bytes:
    """One ``O`` record for a request that is not metric points."""
    payload = json.dumps({"kind": kind, "run": run_id, "body": body}, allow_nan=False).encode("utf-8")
    return _RECORD.pack(OP, len(payload)) + payload


def _decode_points(payload: bytes) -> Tuple[str, List[Point]]:
    (length,) = _HEADER_LENGTH.unpack_from(payload)
    header = json.loads(payload[4 : 4 + length])
    n = header["n"]
    offset = 4 + length
    columns = []
    for code, size in ((_UINT32, 4), ("d", 8), ("q", 8), ("d", 8)):
        column = array(code)
        column.frombytes(payload[offset : offset + n * size])
        if _SWAP:
            column.byteswap()
        columns.append(column.tolist())
        offset += n * size
    names = header["keys"]
    return header["run"], list(zip([names[i] for i in columns[0]], columns[1], columns[2], columns[3]))


class SpoolCorrupt(OSError):
    """The spool file does not hold the records this process wrote (it was changed or cut short)."""


class Spool:
    """One process's spool file; created on the first :meth:`append`."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.path: Optional[Path] = None
        self.written = 0  # bytes in the file
        self.read_offset = 0  # bytes already read back
        self.points = 0  # points written and not yet read back
        self.ops = 0  # requests (points records included) written and not yet read back
        self._writer: Any = None
        self._reader: Any = None

    def append(self, records: bytes, points: int, ops: int) -> None:
        """Append encoded records; on failure the file is cut back to what it held before.

        Raises:
            OSError: the folder or file cannot be created or written (disk full, permissions).
        """
        if self._writer is None:
            self._create()
        before = self.written
        try:
            self._writer.write(records)
        except OSError:
            try:
                self._writer.truncate(before)
            except OSError:
                pass
            raise
        self.written += len(records)
        self.points += points
        self.ops += ops

    def read(self, max_points: int, end: int) -> Tuple[List[Entry], int, int]:
        """Records from the read offset up to ``end`` (an offset :attr:`written` had), stopping after
        the record that brings the points read to ``max_points``.

        Returns:
            (entries, points read, requests read); the counters are the caller's to subtract.

        Raises:
            OSError: the file cannot be read; SpoolCorrupt when its content is not what was written.
        """
        if self._reader is None:
            assert self.path is not None
            self._reader = open(self.path, "rb")
        reader = self._reader
        reader.seek(self.read_offset)
        entries: List[Entry] = []
        points = ops = 0
        offset = self.read_offset
        while offset < end and points < max_points:
            head = reader.read(_RECORD.size)
            if len(head) != _RECORD.size:
                raise SpoolCorrupt(f"{self.path} ends inside a record at byte {offset}")
            tag, length = _RECORD.unpack(head)
            payload = reader.read(length)
            if len(payload) != length:
                raise SpoolCorrupt(f"{self.path} ends inside a record at byte {offset}")
            offset += _RECORD.size + length
            try:
                if tag == POINTS:
                    run_id, chunk = _decode_points(payload)
                    entries.append(("metrics", run_id, chunk))
                    points += len(chunk)
                elif tag == OP:
                    document = json.loads(payload)
                    entries.append((document["kind"], document["run"], document["body"]))
                else:
                    raise SpoolCorrupt(f"{self.path} holds an unknown record {tag!r} at byte {offset}")
            except (ValueError, KeyError, IndexError, TypeError, struct.error) as error:
                raise SpoolCorrupt(f"{self.path}: unreadable record at byte {offset}: {error}") from error
            ops += 1
        self.read_offset = offset
        return entries, points, ops

    @property
    def drained(self) -> bool:
        return self.read_offset >= self.written

    def remove(self) -> None:
        """Close and delete the file (nothing is left to read, or the process is done with it)."""
        for handle in (self._reader, self._writer):
            if handle is not None:
                try:
                    handle.close()
                except OSError:
                    pass
        self._reader = self._writer = None
        if self.path is not None:
            try:
                self.path.unlink()
            except OSError:
                pass  # gone already, or still open elsewhere on Windows: it holds nothing we need
        self.path = None
        self.written = self.read_offset = self.points = self.ops = 0

    def _create(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        _remove_orphans(self.directory)
        path = self.directory / f"{_host()}-{os.getpid()}-{uuid.uuid4().hex[:12]}.spool"
        # Unbuffered: each append is one write() the reader's own handle sees at once.
        writer = open(path, "xb", buffering=0)
        try:
            writer.write(MAGIC)
        except OSError:
            writer.close()
            path.unlink()
            raise
        self._writer, self.path = writer, path
        self.written = self.read_offset = len(MAGIC)


def _host() -> str:
    return "".join(c if c.isalnum() else "_" for c in socket.gethostname())[:40] or "host"


def _remove_orphans(directory: Path) -> None:
    """Delete spool files a process of this host left when it died mid-outage: nothing reads them
    back (the requests before the spilled ones died with that process), so they only take space."""
    if os.name == "nt":
        return  # os.kill(pid, 0) would terminate the process there, not probe it
    host = _host()
    for path in directory.glob(f"{host}-*.spool"):
        try:
            pid = int(path.name[len(host) + 1 :].split("-", 1)[0])
        except ValueError:
            continue
        if pid != os.getpid() and not process_exists(pid):
            try:
                path.unlink()
            except OSError:
                pass

