# Types of the compiled byte loop (_midi_events.c); see musicneurons.data.midi_bytes for what it returns.
def parse_tracks(
    data: bytes, bodies: list[tuple[int, int]]
) -> tuple[bytes, bytes, list[tuple[int, bool]], list[tuple[bool, int, int, int]], int] | None: ...
