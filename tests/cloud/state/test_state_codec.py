"""The journal's record format (basegear/cloud/state/codec.py): every record reads back as written,
and no damage to a file — cut anywhere, any byte changed, zeros after the end — makes the reader
raise or return a record that was not written whole."""

from __future__ import annotations

import contextlib

from hypothesis import given, settings
from hypothesis import strategies as st

from basegear.cloud.state.codec import (
    FILE_HEADER,
    CodecError,
    ImageRecord,
    Record,
    RequestRecord,
    decode,
    encode,
    file_header,
    frame,
    scan,
)

texts = st.text(max_size=40)
pairs = st.lists(st.tuples(texts, texts), max_size=6).map(tuple)
request_records = st.builds(
    RequestRecord,
    time=st.floats(allow_nan=False),
    seed=st.integers(0, 2**64 - 1),
    method=texts,
    path=texts,
    service=texts,
    region=texts,
    account=texts,
    action=st.none() | texts,
    query=pairs,
    headers=pairs,
    body=st.binary(max_size=300),
)
image_records = st.builds(
    ImageRecord, time=st.floats(allow_nan=False), key=texts, data=st.binary(max_size=300)
)
records = st.one_of(request_records, image_records)


def journal_file(items: list[Record], generation: int = 7) -> bytes:
    return file_header(generation) + b"".join(
        frame(seq, encode(record)) for seq, record in enumerate(items, start=1)
    )


@given(records)
def test_a_record_reads_back_as_written(record: Record) -> None:
    assert decode(encode(record)) == record


@given(st.binary(max_size=200))
def test_decoding_arbitrary_bytes_never_raises_anything_but_a_codec_error(data: bytes) -> None:
    with contextlib.suppress(CodecError):
        decode(data)


@given(st.lists(records, max_size=5), st.integers(0, 40))
def test_a_file_reads_back_whole_with_its_preallocated_zeros(
    items: list[Record], zeros: int
) -> None:
    found = scan(journal_file(items) + bytes(zeros))
    assert found.generation == 7
    assert [record for _, record in found.records] == items
    assert [seq for seq, _ in found.records] == list(range(1, len(items) + 1))
    assert not found.damaged


@settings(max_examples=200)
@given(st.lists(records, min_size=1, max_size=4), st.data())
def test_a_file_cut_anywhere_gives_the_records_written_whole_before_the_cut(
    items: list[Record], data: st.DataObject
) -> None:
    whole = journal_file(items)
    cut = data.draw(st.integers(0, len(whole)))
    found = scan(whole[:cut])
    ends = [
        len(journal_file(items[:count])) for count in range(len(items) + 1)
    ]  # where each prefix of whole records ends
    complete = max((count for count, end in enumerate(ends) if end <= cut), default=0)
    assert [record for _, record in found.records] == items[:complete]
    assert found.valid_length == (ends[complete] if cut >= FILE_HEADER.size else 0)


@settings(max_examples=300)
@given(st.lists(records, min_size=1, max_size=4), st.data())
def test_a_changed_byte_never_yields_a_record_that_was_not_written(
    items: list[Record], data: st.DataObject
) -> None:
    whole = bytearray(journal_file(items))
    position = data.draw(st.integers(0, len(whole) - 1))
    whole[position] ^= data.draw(st.integers(1, 255))
    found = scan(bytes(whole))
    got = [record for _, record in found.records]
    assert got == items[: len(got)]  # a prefix of what was written, never anything else
    if position >= FILE_HEADER.size:
        assert found.damaged or len(got) == len(items)


def test_a_torn_header_is_an_empty_journal() -> None:
    found = scan(file_header(3)[:5])
    assert found.generation is None
    assert found.records == ()
    assert found.damaged
