"""Server text frames built by hand must be what websockets' own parser reads back."""

from __future__ import annotations

import pytest
from websockets.frames import Frame, Opcode
from websockets.streams import StreamReader

from marketcast.api.transport.frames import LastFrame, text_frame


def parse(data: bytes) -> Frame:
    reader = StreamReader()
    reader.feed_data(data)
    parser = Frame.parse(reader.read_exact, mask=False)
    with pytest.raises(StopIteration) as done:
        next(parser)
    frame = done.value.value
    assert isinstance(frame, Frame)
    assert not reader.buffer  # the frame is exactly its header and payload
    return frame


# Each length form of RFC 6455 5.2 and both of its edges.
@pytest.mark.parametrize("size", [0, 1, 125, 126, 127, 65_535, 65_536, 200_000])
def test_every_length_form_parses_back_to_the_payload(size: int) -> None:
    payload = (b"0123456789abcdef" * (size // 16 + 1))[:size]
    frame = parse(text_frame(payload))
    assert (frame.opcode, frame.fin, frame.data) == (Opcode.TEXT, True, payload)


def test_header_is_as_small_as_the_length_allows() -> None:
    assert len(text_frame(b"x" * 125)) == 2 + 125
    assert len(text_frame(b"x" * 126)) == 4 + 126
    assert len(text_frame(b"x" * 65_536)) == 10 + 65_536


def test_non_ascii_text_is_carried_as_utf8() -> None:
    text = '{"symbol":"€→Ω"}'
    assert bytes(parse(LastFrame().of(text)).data).decode() == text


def test_last_frame_builds_once_per_text_object() -> None:
    frames = LastFrame()
    text = "".join(["{", '"a":1', "}"])  # built at run time: its own object
    first = frames.of(text)
    assert frames.of(text) is first  # same object: not rebuilt
    equal = "".join(["{", '"a":1', "}"])
    assert equal is not text
    assert frames.of(equal) == first  # an equal text gets an equal frame
    assert parse(frames.of("{}")).data == b"{}"
