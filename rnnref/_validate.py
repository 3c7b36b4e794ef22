"""Argument checks shared by the layers: every message names the argument and
the shape it should have, so a caller can fix the call without reading our code."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def float_array(name: str, value: object, shape: Sequence[int | str | None]) -> np.ndarray:
    """Return `value` as a floating ndarray whose shape matches `shape`.

    `shape` lists the expected extents; an int must match exactly, a str or None
    (a letter such as "N") matches any extent. Raises TypeError for a non-array or
    non-float value and ValueError for the wrong rank or extent.
    """
    arr = _as_array(name, value)
    if arr.dtype.kind != "f":  # (np.issubdtype, spelled out: this runs on every call of every layer)
        raise TypeError(f"{name} must be a float array of shape {_fmt(shape)}; got dtype {arr.dtype}")
    _check_shape(name, arr, shape)
    return arr


def int_array(name: str, value: object, shape: Sequence[int | str | None]) -> np.ndarray:
    """Return `value` as an integer ndarray of the expected shape (see float_array)."""
    arr = _as_array(name, value)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{name} must be an integer array of shape {_fmt(shape)} (token ids); got dtype {arr.dtype}")
    _check_shape(name, arr, shape)
    return arr


def any_float_array(name: str, value: object) -> np.ndarray:
    """Return `value` as a floating ndarray of any shape (elementwise layers)."""
    arr = _as_array(name, value)
    if arr.dtype.kind != "f":
        raise TypeError(f"{name} must be a float array; got dtype {arr.dtype}")
    return arr


def class_labels(name: str, value: object, shape: Sequence[int], V: int) -> np.ndarray:
    """Class ids of `shape` in [0, V), given as ints or one-hot rows of shape (*shape, V)
    (the class is where a row is largest). Raises naming the first id out of range."""
    arr = _as_array(name, value)
    if arr.ndim == len(shape) + 1:  # one-hot labels
        if arr.shape != (*shape, V):
            raise ValueError(f"one-hot {name} must have shape {_fmt((*shape, V))}; got {arr.shape}")
        arr = arr.argmax(axis=-1)
    arr = int_array(name, arr, shape)
    bad = (arr < 0) | (arr >= V)
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(f"{name} holds label {int(arr[where])} at index {where}; labels must lie in [0, {V})")
    return arr


def binary_labels(name: str, value: object, shape: Sequence[int]) -> np.ndarray:
    """Labels of `shape` in {0, 1} (int or bool), as int64."""
    arr = _as_array(name, value)
    if not (np.issubdtype(arr.dtype, np.integer) or arr.dtype == np.bool_):
        raise TypeError(f"{name} must be an integer array of 0s and 1s of shape {_fmt(shape)}; got dtype {arr.dtype}")
    _check_shape(name, arr, shape)
    bad = (arr != 0) & (arr != 1)
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(f"{name} holds {int(arr[where])} at index {where}; binary labels must be 0 or 1")
    return arr.astype(np.int64)


def onehot_rows(name: str, value: object, shape: Sequence[int | str | None]) -> np.ndarray:
    """Words given as one-hot rows (ints, bools or floats) of `shape`, the last axis
    the vocabulary: every row holds one 1 and 0 elsewhere. Returned as given."""
    arr = _as_array(name, value)
    if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_):
        raise TypeError(f"{name} must be one-hot rows of shape {_fmt(shape)}; got dtype {arr.dtype}")
    _check_shape(name, arr, shape)
    ones = arr == 1
    bad = ~((ones | (arr == 0)).all(axis=-1) & (ones.sum(axis=-1) == 1))
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(f"{name}[{', '.join(map(str, where))}] is not a one-hot row (one 1, zeros elsewhere)")
    return arr


def same_dtype(name: str, arr: np.ndarray, dtype: np.dtype) -> None:
    if arr.dtype != dtype:
        raise TypeError(f"{name} must have the parameters' dtype {dtype}; got {arr.dtype}")


def _as_array(name: str, value: object) -> np.ndarray:
    if isinstance(value, np.ndarray):
        return value
    try:
        return np.asarray(value)
    except Exception as exc:  # ragged lists, objects NumPy cannot hold
        raise TypeError(f"{name} must be an array; got {type(value).__name__}") from exc


def _check_shape(name: str, arr: np.ndarray, shape: Sequence[int | str | None]) -> None:
    ok = arr.ndim == len(shape)
    if ok:
        for got, want in zip(arr.shape, shape, strict=True):
            if isinstance(want, int) and got != want:
                ok = False
                break
    if not ok:
        raise ValueError(f"{name} must have shape {_fmt(shape)}; got {arr.shape}")


def _fmt(shape: Sequence[int | str | None]) -> str:
    parts = ["?" if s is None else str(s) for s in shape]
    return "(" + ", ".join(parts) + ("," if len(parts) == 1 else "") + ")"
