"""Type stubs of the gradflow package (see __init__.py for the documentation)."""

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

import numpy as np
import numpy.typing as npt

__version__: str

ArrayLike = npt.ArrayLike
ConfigLike = Union[Mapping[str, Any], str, os.PathLike[str]]
PathLike = Union[str, os.PathLike[str]]

class GradflowError(Exception): ...
class ConfigError(GradflowError, ValueError): ...
class ShapeError(GradflowError, ValueError): ...
class DataError(GradflowError, ValueError): ...
class ClaimsError(GradflowError, ValueError): ...
class UsageError(GradflowError, ValueError): ...
class InputFileError(GradflowError, OSError): ...
class WriteError(GradflowError, OSError): ...
class OutputSetError(GradflowError, OSError): ...
class IntegrationError(GradflowError): ...
class InternalError(GradflowError): ...

@dataclass
class RunResult:
    weights: List[npt.NDArray[np.float64]]
    summary: Dict[str, Any]
    status: str
    message: str
    t: float
    trace: Optional[Dict[str, npt.NDArray[Any]]] = ...
    trace_events: List[Dict[str, Any]] = ...
    out: Optional[Path] = ...
    @property
    def success(self) -> bool: ...

@dataclass
class Verdict:
    id: str
    verdict: str
    lhs: Optional[float]
    rhs: Optional[float]
    slack: Optional[float]
    budget: Optional[float]
    t: Optional[float]
    first_violation: Optional[Dict[str, Any]]
    excerpt: Dict[str, npt.NDArray[np.float64]]
    note: str
    raw: Dict[str, Any]

@dataclass
class CheckResult:
    run: RunResult
    verdicts: List[Verdict]
    out: Optional[Path] = ...
    @property
    def violated(self) -> List[Verdict]: ...
    def counterexample(self, claim_id: str) -> Optional[Path]: ...

@dataclass
class ReplayResult:
    reproduced: bool
    differences: List[str]
    claim: str
    expected: Dict[str, Any]
    got: Dict[str, Any]
    other_version: Optional[str]

def run(
    X: Optional[ArrayLike] = ...,
    Y: Optional[ArrayLike] = ...,
    weights: Optional[Sequence[ArrayLike]] = ...,
    *,
    config: Optional[ConfigLike] = ...,
    hidden: Optional[Sequence[int]] = ...,
    loss: Optional[str] = ...,
    t_end: Optional[float] = ...,
    method: Optional[str] = ...,
    rtol: Optional[Union[float, Sequence[float]]] = ...,
    atol: Optional[Union[float, Sequence[float]]] = ...,
    seed: Optional[int] = ...,
    trace_every: Optional[int] = ...,
    trace_dt: Optional[float] = ...,
    out: Optional[PathLike] = ...,
    inputs_dir: Optional[PathLike] = ...,
    **options: Any,
) -> RunResult: ...
def check(
    X: Optional[ArrayLike] = ...,
    Y: Optional[ArrayLike] = ...,
    weights: Optional[Sequence[ArrayLike]] = ...,
    *,
    claims: Optional[Union[str, Sequence[str]]] = ...,
    paper: Optional[str] = ...,
    claims_file: Optional[PathLike] = ...,
    config: Optional[ConfigLike] = ...,
    out: Optional[PathLike] = ...,
    inputs_dir: Optional[PathLike] = ...,
    **run_options: Any,
) -> CheckResult: ...
def replay(report: PathLike) -> ReplayResult: ...
def sweep(
    spec: Union[Mapping[str, Any], PathLike],
    *,
    out: Optional[PathLike] = ...,
    jobs: Optional[int] = ...,
    fresh: bool = ...,
) -> Dict[str, Any]: ...
def claims(paper: Optional[str] = ..., claims_file: Optional[PathLike] = ...) -> List[Dict[str, Any]]: ...
def claim_source(claim_id: str, claims_file: Optional[PathLike] = ...) -> str: ...
def examples() -> List[Dict[str, str]]: ...
def example(name: str) -> Dict[str, Any]: ...
def set_limits(
    max_memory: Optional[str] = ...,
    max_trace_rows: Optional[int] = ...,
    max_sweep_points: Optional[int] = ...,
) -> None: ...
