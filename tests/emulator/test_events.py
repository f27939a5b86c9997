"""Event loading shared by the local and remote invoke."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from lambdapack.events import SEED_EVENT, EventError, load_event, parse_feature

EVENTS = Path(__file__).resolve().parents[2] / "examples" / "events"


def test_seed_is_the_guides_event() -> None:
    event = load_event("seed")
    assert event.payload == {"sl": 6.9, "sw": 3.1, "pl": 5.1, "pw": 2.3}
    assert event.body == b'{"sl": 6.9, "sw": 3.1, "pl": 5.1, "pw": 2.3}'
    assert json.loads((EVENTS / "seed-direct.json").read_text()) == SEED_EVENT


def test_file_stdin_and_inline() -> None:
    from_file = load_event(str(EVENTS / "http-api-v2-post.json"))
    assert from_file.payload["version"] == "2.0"
    assert from_file.source.endswith("http-api-v2-post.json")
    assert load_event("-", stdin=io.StringIO('{"a": 1}')).payload == {"a": 1}
    assert load_event('{"instances": [[1, 2, 3, 4]]}').payload == {"instances": [[1, 2, 3, 4]]}
    assert load_event("[1, 2]").payload == [1, 2]


def test_feature_flags_build_or_override_the_event() -> None:
    assert load_event(None, [("sl", 1.0), ("pw", 0.2)]).payload == {"sl": 1.0, "pw": 0.2}
    merged = load_event("seed", {"pw": 0.2, "extra": "x"})
    assert merged.payload == {**SEED_EVENT, "pw": 0.2, "extra": "x"}


def test_parse_feature_values() -> None:
    assert parse_feature("sl=6.9") == ("sl", 6.9)
    assert parse_feature("n=3") == ("n", 3)
    assert parse_feature("species=setosa") == ("species", "setosa")
    assert parse_feature(" sl = 1e2 ") == ("sl", 100.0)
    for bad in ("sl", "=3", ""):
        with pytest.raises(EventError, match="NAME=VALUE"):
            parse_feature(bad)


@pytest.mark.parametrize(("content", "fragment"), [
    ('{"sl": 6.9,', "not valid JSON"),
    ("", "is empty"),
    ('{"sl": NaN}', "not valid JSON"),
    ("{'sl': 6.9}", "line 1, column 2"),
])
def test_malformed_event_files(tmp_path: Path, content: str, fragment: str) -> None:
    path = tmp_path / "event.json"
    path.write_text(content)
    with pytest.raises(EventError, match=fragment) as info:
        load_event(str(path))
    assert str(path) in info.value.message
    assert info.value.hint


def test_missing_directory_and_binary_files(tmp_path: Path) -> None:
    with pytest.raises(EventError, match="does not exist"):
        load_event(str(tmp_path / "nope.json"))
    with pytest.raises(EventError, match="is a directory"):
        load_event(str(tmp_path))
    binary = tmp_path / "event.bin"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(EventError, match="not UTF-8"):
        load_event(str(binary))


def test_no_event_at_all_and_features_on_a_list() -> None:
    with pytest.raises(EventError, match="no event given"):
        load_event(None, {})
    with pytest.raises(EventError, match="JSON object"):
        load_event("[1, 2]", {"sl": 1.0})
