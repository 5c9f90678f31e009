"""Source bytes -> text the parser reads: the dataset's encoding, a per-line fallback.

Rule (data.md, Bronze): a line (ending at LF) valid in the dataset's `encoding` is read as
it is; only a line that is not is decoded with `fallback_encoding`, and such lines are
counted. A line valid in neither fails with `encoding`, naming the file and the line.

Speed: a valid file never reaches `decode_lines` (`first_invalid_offset` is Arrow's
vectorized UTF-8 check). A file that does is taken in blocks of about 1 MiB ending at a
line end: a valid block is kept as it is; in a block that is not, the invalid lines are
found for the whole block at once (`_decode_each_line`), never with a call per line.
Measured on the bench's 1M-row NSDE file (113 MB): one stray byte costs about what the
whole-file fallback cost before; 300,000 cp1252 lines about 1.7x more.
"""

from __future__ import annotations

import codecs

import numpy as np
import pyarrow as pa

from ppdw.errors import DataQualityError

UTF8_NAMES = frozenset({"utf8", "utf-8", "utf_8", "utf-8-sig", "utf_8_sig"})
_CHECK_CHUNK = 1 << 22
_BLOCK = 1 << 20


def first_invalid_offset(raw: pa.Buffer, encoding: str) -> int | None:
    """Byte offset of the first byte not valid in `encoding`, or None (streamed, flat memory)."""
    if encoding.lower() in UTF8_NAMES and valid_utf8(raw):
        return None  # Arrow's vectorized check; the decoder below only to find the offset
    decoder = codecs.getincrementaldecoder(encoding)()
    view = memoryview(raw)
    for start in range(0, len(view), _CHECK_CHUNK):
        chunk = view[start : start + _CHECK_CHUNK]
        try:
            decoder.decode(chunk, final=start + _CHECK_CHUNK >= len(view))
        except UnicodeDecodeError as exc:
            return start + exc.start
    return None


def valid_utf8(raw: pa.Buffer) -> bool:
    """The whole buffer is valid UTF-8 (the buffer seen as one large_string value)."""
    offsets = pa.array([0, raw.size], pa.int64()).buffers()[1]
    try:
        pa.LargeStringArray.from_buffers(1, offsets, raw).validate(full=True)
    except pa.ArrowInvalid:
        return False
    return True


def decode_lines(
    raw: pa.Buffer, first_bad: int, encoding: str, fallback: str | None, source_name: str
) -> tuple[bytes, int]:
    """`raw` (not valid in `encoding` at byte `first_bad`) as UTF-8, each line decoded on its
    own (module docstring); and how many lines were decoded with `fallback`."""
    data = raw.to_pybytes()
    if not fallback or not (_ascii_compatible(encoding) and _ascii_compatible(fallback)):
        raise encoding_error(data, first_bad, encoding, fallback, source_name)
    utf8 = encoding.lower() in UTF8_NAMES
    parts: list[bytes] = []
    lines = start = 0
    while start < len(data):
        newline = data.find(b"\n", start + _BLOCK)
        end = len(data) if newline < 0 else newline + 1
        block = data[start:end]
        if start + len(block) <= first_bad or _valid(block, encoding, utf8):
            parts.append(block if utf8 else block.decode(encoding).encode("utf-8"))
        else:
            text, count = _decode_each_line(block, start, data, encoding, fallback, source_name)
            parts.append(text)
            lines += count
        start = end
    return b"".join(parts), lines


def _valid(block: bytes, encoding: str, utf8: bool) -> bool:
    if utf8:
        return valid_utf8(pa.py_buffer(block))
    try:
        block.decode(encoding)
    except UnicodeDecodeError:
        return False
    return True


def _decode_each_line(
    block: bytes, offset: int, data: bytes, encoding: str, fallback: str, source_name: str
) -> tuple[bytes, int]:
    """One block (starting at byte `offset` of `data`) as UTF-8, decoded line by line.

    The lines not valid in `encoding` are found without a decode call per line: the block
    is decoded whole keeping each undecodable byte 0xNN as the lone surrogate U+DCNN
    (`surrogateescape`), which `surrogatepass` writes back as the bytes ED B2..B3 xx, bytes
    valid text never holds; numpy finds them and their lines (a LF byte is LF and only LF,
    `_ascii_compatible`). Those lines are then decoded with `fallback` in one call, and
    put back between the unchanged runs of valid lines.
    """
    marked = block.decode(encoding, _ESCAPE).encode("utf-8", "surrogatepass")
    codes = np.frombuffer(marked, dtype=np.uint8)
    escapes = np.flatnonzero((codes[:-1] == 0xED) & ((codes[1:] & 0xFE) == 0xB2))
    invalid = np.unique(np.searchsorted(np.flatnonzero(codes == 0x0A), escapes))
    newlines = np.flatnonzero(np.frombuffer(block, dtype=np.uint8) == 0x0A)
    # Invalid line i is block[starts[i]:ends[i]], its LF left out (it stays in the valid
    # run after it), so the invalid lines can be joined, decoded and split at LF.
    starts = np.concatenate(([0], newlines + 1))[invalid].tolist()
    ends = np.concatenate((newlines, [len(block)]))[invalid].tolist()
    invalid_lines = [block[start:end] for start, end in zip(starts, ends, strict=True)]
    try:
        decoded = b"\n".join(invalid_lines).decode(fallback).encode("utf-8").split(b"\n")
    except UnicodeDecodeError as exc:
        error = _line_error(invalid_lines, starts, offset, data, encoding, fallback, source_name)
        raise error from exc
    if len(decoded) != len(invalid_lines):  # a fallback decoding other bytes to LF
        raise encoding_error(data, offset + starts[0], encoding, fallback, source_name)
    runs = [block[a:b] for a, b in zip([0, *ends], [*starts, len(block)], strict=True)]
    if encoding.lower() not in UTF8_NAMES:
        runs = [run.decode(encoding).encode("utf-8") for run in runs]
    parts: list[bytes] = [b""] * (2 * len(runs) - 1)
    parts[0::2] = runs
    parts[1::2] = decoded
    return b"".join(parts), len(invalid_lines)


def _line_error(
    lines: list[bytes],
    starts: list[int],
    offset: int,
    data: bytes,
    encoding: str,
    fallback: str,
    source_name: str,
) -> DataQualityError:
    """The error naming the first of `lines` (at `starts` in the block) valid in neither."""
    for line, start in zip(lines, starts, strict=True):
        try:
            line.decode(fallback)
        except UnicodeDecodeError as exc:
            return encoding_error(data, offset + start + exc.start, encoding, fallback, source_name)
    return encoding_error(data, offset + starts[0], encoding, fallback, source_name)


_ESCAPE = "surrogateescape"


def _ascii_compatible(encoding: str) -> bool:
    """Every ASCII byte is that ASCII character, alone (UTF-8, cp1252, latin-1; not UTF-16):
    then a LF byte always ends a line, and a line of ASCII bytes is valid."""
    ascii_bytes = bytes(range(0x80))
    try:
        return ascii_bytes.decode(encoding) == ascii_bytes.decode("ascii")
    except UnicodeDecodeError:
        return False


def encoding_error(
    data: bytes, bad: int, encoding: str, fallback: str | None, source_name: str
) -> DataQualityError:
    tried = encoding + (f" or {fallback}" if fallback else "")
    line = data.count(b"\n", 0, bad) + 1
    return DataQualityError(
        "encoding",
        f"{source_name}: line {line} (byte {bad}) is not valid {tried}",
        hint="set source.encoding / source.fallback_encoding in dataset.json",
    )
