"""The incremental reader: appended bytes only, partial last lines, bad and huge lines."""

from __future__ import annotations

import json
import os
from pathlib import Path

from threadline.jsonl import JsonlTail, read_range


def append(path: Path, data: bytes) -> None:
    with open(path, "ab") as handle:
        handle.write(data)


def test_reads_only_what_was_appended(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    append(path, b'{"n": 1}\n{"n": 2}\n')
    tail = JsonlTail(str(path))
    records, reset = tail.read_new()
    assert [r.data["n"] for r in records] == [1, 2] and not reset
    assert tail.offset == path.stat().st_size
    assert tail.read_new() == ([], False)
    append(path, b'{"n": 3}\n')
    records, _ = tail.read_new()
    assert [r.data["n"] for r in records] == [3]
    assert records[0].offset == len(b'{"n": 1}\n{"n": 2}\n')


def test_holds_back_an_unterminated_last_line_until_complete(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    append(path, b'{"n": 1}\n{"n": ')
    tail = JsonlTail(str(path))
    assert [r.data["n"] for r in tail.read_new()[0]] == [1]
    assert tail.malformed == 0
    append(path, b'2, "text": "caf\xc3')  # even a UTF-8 sequence cut in two
    assert tail.read_new()[0] == []
    append(path, b'\xa9"}\n')
    records, _ = tail.read_new()
    assert records[0].data == {"n": 2, "text": "café"}
    assert tail.malformed == 0


def test_skips_malformed_lines_and_counts_them(tmp_path: Path, caplog) -> None:
    path = tmp_path / "t.jsonl"
    append(path, b'{"n": 1}\nnot json\n[1, 2]\n\n{"n": 2}\n')
    tail = JsonlTail(str(path))
    records, _ = tail.read_new()
    assert [r.data["n"] for r in records] == [1, 2]
    assert tail.malformed == 2
    assert "t.jsonl:2" in caplog.text and "t.jsonl:3" in caplog.text
    tail.read_new()
    assert caplog.text.count("t.jsonl:2") == 1  # logged once, never re-read


def test_skips_a_line_over_the_limit_without_holding_it(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    big = json.dumps({"blob": "x" * 5000}).encode()
    append(path, b'{"n": 1}\n' + big[:3000])
    tail = JsonlTail(str(path), max_line_bytes=1024)
    assert [r.data["n"] for r in tail.read_new()[0]] == [1]
    append(path, big[3000:] + b'\n{"n": 2}\n')
    records, _ = tail.read_new()
    assert [r.data["n"] for r in records] == [2]
    assert tail.oversized == 1 and tail.malformed == 0


def test_a_replaced_or_truncated_file_is_read_again(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    append(path, b'{"n": 1}\n{"n": 2}\n')
    tail = JsonlTail(str(path))
    tail.read_new()
    replacement = tmp_path / "new.jsonl"
    replacement.write_bytes(b'{"n": 9}\n')
    os.replace(replacement, path)
    records, reset = tail.read_new()
    assert reset and [r.data["n"] for r in records] == [9]


def test_a_missing_file_is_no_error(tmp_path: Path) -> None:
    tail = JsonlTail(str(tmp_path / "absent.jsonl"))
    assert tail.read_new() == ([], False)


def test_read_range_returns_the_lines_between_offsets(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    append(path, b'{"n": 1}\n{"n": 2}\nbad\n{"n": 3}\n{"n": 4')
    tail = JsonlTail(str(path))
    records, _ = tail.read_new()
    middle = read_range(str(path), records[1].offset, records[2].offset + 9)
    assert [r.data["n"] for r in middle] == [2, 3]
    assert [r.data["n"] for r in read_range(str(path), 0, path.stat().st_size)] == [1, 2, 3]
