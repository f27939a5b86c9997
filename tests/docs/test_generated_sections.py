"""Sections the bench renderers write (docs/benchmarks.md and others) equal their recorded runs."""

from __future__ import annotations

from pathlib import Path

import generated as gen
import pytest

SECTIONS = [s for path in gen.doc_paths() for s in gen.sections(path)]


def test_the_benchmark_figures_are_generated_sections() -> None:
    # the full peer run, the cold-start run and the handler run, at least
    commands = " ".join(s.command for s in SECTIONS)
    for json_file in ("docs/bench/full-run.json", "docs/bench/coldstart.json", "docs/bench/handler.json"):
        assert json_file in commands


@pytest.mark.parametrize("section", SECTIONS, ids=[s.where for s in SECTIONS])
def test_the_section_is_what_its_command_prints(section: gen.Section) -> None:
    assert not gen.stale(section), (f"{section.where} differs from `{section.command}`; "
                                    "regenerate: python tests/docs/generated.py --update")


def test_a_stale_or_broken_section_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gen, "ROOT", tmp_path)
    doc = tmp_path / "page.md"
    command = "python bench/run.py --from-json docs/bench/full-run.json"
    doc.write_text(f"Text.\n<!-- generated: {command} -->\n| old | table |\n<!-- end generated -->\n")
    [section] = gen.sections(doc)
    assert (section.command, section.body) == (command, ("| old | table |",))
    doc.write_text("<!-- generated: python bench/x.py -->\nno end\n")
    with pytest.raises(gen.GeneratedError, match="never closed"):
        gen.sections(doc)
    with pytest.raises(gen.GeneratedError, match="renderer under bench/"):
        gen.output_of("rm -rf /")


def test_update_rewrites_only_the_section(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bench = tmp_path / "bench"
    bench.mkdir()
    (bench / "say.py").write_text("print('| new |')\nprint('| table |')\n")
    monkeypatch.setattr(gen, "ROOT", tmp_path)
    doc = tmp_path / "page.md"
    doc.write_text("before\n<!-- generated: python bench/say.py -->\n| old |\n<!-- end generated -->\nafter\n")
    [section] = gen.sections(doc)
    assert gen.stale(section)
    assert gen.update(doc) == 1
    assert doc.read_text() == ("before\n<!-- generated: python bench/say.py -->\n| new |\n| table |\n"
                               "<!-- end generated -->\nafter\n")
    assert not gen.stale(gen.sections(doc)[0]) and gen.update(doc) == 0
