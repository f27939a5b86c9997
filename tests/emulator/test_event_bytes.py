"""invoke --local hands the runtime the event's bytes exactly as given, like Lambda's Invoke API."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from emulator_support import make_function

from lambdapack.events import load_event

ECHO = '''
import math

def lambda_handler(event, context):
    sl = event.get("sl")
    return {"sl_is_infinite": isinstance(sl, float) and math.isinf(sl), "keys": list(event)}
'''
EVENT = '{"sl":1e400, "sw":3.1,"pl":5.1,"pw":2.3}'


def test_json_text_events_keep_their_bytes(tmp_path: Path) -> None:
    assert load_event(EVENT).body == EVENT.encode()
    path = tmp_path / "event.json"
    path.write_text(EVENT + "\n")
    assert load_event(str(path)).body == (EVENT + "\n").encode()
    # feature flags change the event, so it is encoded anew
    assert json.loads(load_event(EVENT, {"pw": 0.2}).body)["pw"] == 0.2
    assert json.loads(load_event("seed").body) == {"sl": 6.9, "sw": 3.1, "pl": 5.1, "pw": 2.3}


def test_an_out_of_range_number_reaches_the_handler_not_an_unmarshal_error(
        run_cli: Callable, tiny: tuple[Path, Path], tmp_path: Path) -> None:
    function_zip = make_function(tmp_path, ECHO, name="echo.zip")
    result = run_cli("invoke", "--local", "--layer", str(tiny[1]), "--function", str(function_zip),
                     "--event", EVENT)
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == {"sl_is_infinite": True, "keys": ["sl", "sw", "pl", "pw"]}
    assert "UnmarshalError" not in result.stderr
