"""The native module (PyO3); use the functions of the gradflow package instead."""

from typing import List, Optional, Sequence, Tuple

import numpy as np
import numpy.typing as npt

__version__: str

class NativeError(Exception): ...

_Layers = List[npt.NDArray[np.float64]]

def run(
    config_json: str,
    origin: str,
    x: Optional[npt.NDArray[np.float64]] = ...,
    y: Optional[npt.NDArray[np.float64]] = ...,
    weights: Optional[Sequence[npt.NDArray[np.float64]]] = ...,
    inputs: Optional[str] = ...,
    out: Optional[str] = ...,
) -> Tuple[str, _Layers, float]: ...
def check(
    config_json: str,
    origin: str,
    x: Optional[npt.NDArray[np.float64]] = ...,
    y: Optional[npt.NDArray[np.float64]] = ...,
    weights: Optional[Sequence[npt.NDArray[np.float64]]] = ...,
    inputs: Optional[str] = ...,
    out: Optional[str] = ...,
    claims: Optional[Sequence[str]] = ...,
    paper: Optional[str] = ...,
    claims_file: Optional[str] = ...,
) -> Tuple[str, _Layers, float, str]: ...
def replay(report: str) -> str: ...
def sweep(
    text: Optional[str] = ...,
    origin: Optional[str] = ...,
    path: Optional[str] = ...,
    out: Optional[str] = ...,
    jobs: Optional[int] = ...,
    fresh: bool = ...,
) -> str: ...
def read_config(path: str) -> str: ...
def claims(paper: Optional[str] = ..., claims_file: Optional[str] = ...) -> str: ...
def claim_source(id: str, claims_file: Optional[str] = ...) -> str: ...
def examples() -> List[Tuple[str, str, str]]: ...
def example_json(name: str) -> str: ...
def set_limits(
    max_memory: Optional[str] = ..., max_trace_rows: Optional[int] = ..., max_sweep_points: Optional[int] = ...
) -> None: ...
def _panic_for_tests() -> None: ...
