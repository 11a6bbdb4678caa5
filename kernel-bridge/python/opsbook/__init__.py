"""Opsbook in the kernel.

``%load_ext opsbook`` gives ``%%track``, ``%check``/``%%check``, ``%drift``, ``%explain``, ``%serve`` and ``%opsbook``; the
functions below record runs in the workspace's core daemon without ever making the kernel wait for it::

    with opsbook.run("baseline", "rf-100") as run:
        opsbook.log_params(n_estimators=100)
        opsbook.log_metrics({"accuracy": 0.93})

``opsbook.check(df, suite="orders.yaml")``, ``opsbook.profile(df)`` and ``opsbook.drift(a, b)`` run
data-quality checks on a frame or a file in that daemon; ``opsbook.explain(model, X)`` explains a
model's output (TreeSHAP, KernelSHAP or LIME) there; ``opsbook.serve(model)`` serves it over the
Open Inference Protocol (V2) from a server that daemon supervises; ``opsbook.deploy(model, name, image)``
deploys it to Kubernetes (docs/deploy.md).

Importing this package stays light: IPython, jupyter_server, pandas and friends are imported
only by the modules that need them.
"""

from __future__ import annotations

from typing import Any, Dict, List

from ._artifacts import OpsbookApiError, log_artifact, log_figure
from ._models import ParityError, log_model
from ._autolog import autolog
from ._deploy import DeployError, deploy, deployments
from ._explain import Explanation, ExplainError, explain
from ._optuna import optuna_callback
from ._quality import QualityError, check, drift, profile
from ._serve import Endpoint, ServeError, endpoints, serve, stop_endpoint
from ._tracking import (
    Run,
    active_run,
    end_run,
    flush,
    log_metric,
    log_metrics,
    log_param,
    log_params,
    run,
    start_run,
)

__version__ = "0.1.0"

__all__ = [
    "Run",
    "active_run",
    "autolog",
    "end_run",
    "flush",
    "log_metric",
    "log_metrics",
    "log_param",
    "log_params",
    "log_artifact",
    "log_figure",
    "log_model",
    "OpsbookApiError",
    "ParityError",
    "optuna_callback",
    "check",
    "profile",
    "drift",
    "QualityError",
    "explain",
    "Explanation",
    "ExplainError",
    "serve",
    "stop_endpoint",
    "endpoints",
    "Endpoint",
    "ServeError",
    "deploy",
    "deployments",
    "DeployError",
    "run",
    "start_run",
    "load_ipython_extension",
    "__version__",
]


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext opsbook``: register ``%%track``, ``%check``, ``%%check``, ``%drift``, ``%explain`` and ``%opsbook``."""
    from .magics import load_ipython_extension as load

    load(ipython)


def _jupyter_labextension_paths() -> List[Dict[str, str]]:
    return [{"src": "labextension", "dest": "@opsbook/jupyterlab"}]


def _jupyter_server_extension_points() -> List[Dict[str, str]]:
    return [{"module": "opsbook.serverextension"}]
