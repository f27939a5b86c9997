"""Rows as the estimator takes them: the one conversion both the handler and the package-time proof use.

A model fitted on a pandas DataFrame whose column transformer selects columns by name needs a
DataFrame with those names (``model.json``'s ``input_frame``: ``pandas``; ``pandas_categorical``
gives category columns the pandas ``category`` dtype with the learned categories, for models
that read categories from the dtype). Otherwise an array: float64 when every input is a
number, else an object array holding numbers and categories. A missing value is NaN.
"""

from __future__ import annotations

FRAMES = (None, "pandas", "pandas_categorical")


def estimator_input(rows: list, fields: list, frame: str | None):
    import numpy as np

    if frame not in FRAMES:
        raise ValueError(f"unknown input frame {frame!r}")
    if frame is not None:
        import pandas as pd

        columns = {}
        for i, field in enumerate(fields):
            values = [row[i] for row in rows]
            if field.kind == "number":
                columns[field.name] = np.array(values, dtype=np.float64)
            elif frame == "pandas_categorical" and field.kind == "category":  # unknown: missing, as pandas makes it
                known = set(field.categories)
                columns[field.name] = pd.Categorical([v if v in known else None for v in values],
                                                     categories=field.categories)
            else:
                columns[field.name] = np.array([np.nan if v is None else v for v in values], dtype=object)
        return pd.DataFrame(columns, columns=[f.name for f in fields])
    if all(field.kind == "number" for field in fields):
        return np.array(rows, dtype=np.float64)
    X = np.empty((len(rows), len(fields)), dtype=object)
    for r, row in enumerate(rows):
        for i, value in enumerate(row):
            X[r, i] = np.nan if value is None else value
    return X
