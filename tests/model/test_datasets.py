"""Bundled datasets and CSV loading: names, aliases, and one clear error per bad file."""

from __future__ import annotations

from pathlib import Path

import pytest

from lambdapack.errors import ModelError
from lambdapack.model.datasets import BUNDLED, load_bundled, load_csv, short_alias


@pytest.mark.parametrize("name", list(BUNDLED))
def test_bundled_datasets_load_without_network(name: str) -> None:
    data = load_bundled(name)
    assert data.rows == len(data.y) > 100
    assert len(data.feature_names) == len(data.aliases) == len(data.X[0])
    names_and_aliases = [*data.feature_names, *(a for a in data.aliases if a)]
    assert len(set(names_and_aliases)) == len(names_and_aliases)
    if data.task == "classification":
        assert data.target_names is not None and len(data.target_names) == len(set(data.y))
    else:
        assert data.target_names is None


def test_iris_uses_the_guides_aliases() -> None:
    data = load_bundled("iris")
    assert data.aliases == ("sl", "sw", "pl", "pw")
    assert data.target_names == ("setosa", "versicolor", "virginica")


def test_short_aliases() -> None:
    assert short_alias("mean radius") == "mean_radius"
    assert short_alias("od280/od315_of_diluted_wines") == "od280_od315_of_diluted_wines"
    assert short_alias("alcohol") is None  # already an identifier
    assert short_alias("3rd") is None
    assert load_bundled("breast_cancer").aliases[0] == "mean_radius"


def test_unknown_dataset() -> None:
    with pytest.raises(ModelError, match="unknown dataset 'mnist'") as info:
        load_bundled("mnist")
    assert "iris" in info.value.hint and "--csv" in info.value.hint


def _csv(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "data.csv"
    path.write_text(text)
    return path


GOOD = "a,b,label\n1,2,x\n3,4,y\n5,6,x\n7,8,y\n"


def test_csv_string_labels(tmp_path: Path) -> None:
    data = load_csv(_csv(tmp_path, GOOD), "label", "classification")
    assert data.feature_names == ("a", "b")
    assert list(data.y) == ["x", "y", "x", "y"]
    assert data.X[1] == [3.0, 4.0]
    assert (data.name, data.source, data.target) == ("data.csv", "csv", "label")


def test_csv_target_column_may_be_anywhere_and_int_labels_stay_ints(tmp_path: Path) -> None:
    data = load_csv(_csv(tmp_path, "cls,f one,f2\n0,1.5,2\n1,2.5,3\n"), "cls", "classification")
    assert data.feature_names == ("f one", "f2")
    assert data.aliases == ("f_one", None)
    assert list(data.y) == [0, 1]


def test_csv_regression_target(tmp_path: Path) -> None:
    data = load_csv(_csv(tmp_path, "x,y\n1,0.5\n2,1e3\n"), "y", "regression")
    assert list(data.y) == [0.5, 1000.0]


@pytest.mark.parametrize(
    ("text", "target", "task", "message"),
    [
        ("", "label", "classification", "the file is empty"),
        ("\n\n  \n", "label", "classification", "the file is empty"),
        ("a,b,label\n", "label", "classification", "no data rows"),
        ("a,b,c\n1,2,3\n", "label", "classification", r"no column 'label' \(columns: a, b, c\)"),
        ("a,,label\n1,2,x\n", "label", "classification", "column 2 of the header has no name"),
        ("a,a,label\n1,2,x\n", "label", "classification", "repeats column 'a'"),
        ("label\nx\ny\n", "label", "classification", "only the target column"),
        ("a,b,label\n1,2,x\n3,oops,y\n", "label", "classification", r"line 3, column 'b': 'oops' is not a number"),
        ("a,b,label\n1,,x\n3,4,y\n", "label", "classification", r"line 2, column 'b': an empty cell is not a number"),
        ("a,b,label\n1,nan,x\n3,4,y\n", "label", "classification", r"line 2, column 'b': nan is not a finite"),
        ("a,b,label\n1,2,x\n3,-inf,y\n", "label", "classification", r"line 3, column 'b': -inf is not a finite"),
        ("a,b,label\n1,2,x\n3,4\n", "label", "classification", "line 3 has 2 fields, the header has 3"),
        ("a,b,label\n1,2,x\n3,4,\n", "label", "classification", "line 3: target column 'label' is empty"),
        ("a,b,label\n1,2,x\n3,4,x\n", "label", "classification", "single class"),
        ("a,y\n1,2\n2,big\n", "y", "regression", r"line 3: target 'y' value 'big' is not a finite number"),
        ("a,y\n1,2\n2,inf\n", "y", "regression", "not a finite number"),
    ],
)
def test_bad_csv(tmp_path: Path, text: str, target: str, task: str, message: str) -> None:
    with pytest.raises(ModelError, match=message) as info:
        load_csv(_csv(tmp_path, text), target, task)
    assert info.value.hint


def test_line_numbers_count_blank_lines(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="line 4, column 'a'"):
        load_csv(_csv(tmp_path, "a,label\n1,x\n\nq,y\n"), "label", "classification")


def test_csv_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="no such file"):
        load_csv(tmp_path / "nope.csv", "label", "classification")


def test_csv_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin.csv"
    path.write_bytes("a,label\n1,caf\xe9\n".encode("latin-1"))
    with pytest.raises(ModelError, match="not UTF-8"):
        load_csv(path, "label", "classification")


def test_csv_needs_target(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="--csv needs --target"):
        load_csv(_csv(tmp_path, GOOD), None, "classification")
