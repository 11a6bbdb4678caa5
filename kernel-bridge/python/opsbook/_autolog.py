"""``opsbook.autolog()``: record scikit-learn, XGBoost and LightGBM training without logging calls.

scikit-learn: every estimator class's own ``fit`` is wrapped (the classes imported so far, found
through ``BaseEstimator.__subclasses__``, and those defined later, through
``BaseEstimator.__init_subclass__``), so nothing imports all of scikit-learn. The outermost fit of
a thread records the estimator's params (``get_params``), its training score on the fit data when
that is cheap, and the fitted model through ``opsbook.log_model`` when asked and available; fits
nested in it (a pipeline's steps, a search's candidates) are not recorded on their own.

XGBoost and LightGBM: ``train`` (which their scikit-learn wrappers call too) gets one more
callback that logs each iteration's evaluation results, ``<data>-<metric>`` by iteration.

Records go to the active run, else to a run of their own per fit. Nothing here may break the
user's training: a failure to record is one warning on the ``opsbook`` logger (once per message),
and the fit's own result and exceptions pass through unchanged.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import inspect
import logging
import math
import threading
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

from . import _tracking

_log = logging.getLogger("opsbook")

#: Largest number of rows on which the training score is computed after a fit.
SCORE_MAX_ROWS = 100_000
#: Rows of the fit data given to ``log_model`` as the sample (export and parity check).
MODEL_SAMPLE_ROWS = 5
_MAX_PARAM_TEXT = 500

# Where each library's train function is looked up by its callers: the package, the module that
# defines it, and its scikit-learn wrapper module (which imported the name itself).
_TRAIN_SITES = {
    "xgboost": ("xgboost", "xgboost.training", "xgboost.sklearn"),
    "lightgbm": ("lightgbm", "lightgbm.engine", "lightgbm.sklearn"),
}


class _Fit:
    """The outermost recorded fit of a thread: its estimator, its run, and whether it ends that run."""

    def __init__(self, estimator: Any, run: _tracking.Run, owns_run: bool) -> None:
        self.estimator = estimator
        self.run = run
        self.owns_run = owns_run
        self.nested = 0  # fits of other estimators running inside this one


class _State:
    def __init__(self) -> None:
        self.enabled = False
        self.log_models = True
        self.patched: List[Tuple[Any, str, Any, bool]] = []  # (owner, name, original, was in owner's __dict__)
        self.lock = threading.RLock()
        self.local = threading.local()
        self.warned: set = set()


_state = _State()


def autolog(disable: bool = False, log_models: bool = True) -> None:
    """Record the training of scikit-learn estimators, XGBoost and LightGBM models from now on
    (those of the three that are installed): params, training score, per-iteration evaluation
    metrics, and the fitted model (``log_models``, through ``opsbook.log_model``). Records go to
    the active run, else to a new run per fit. ``autolog(disable=True)`` puts the originals back.
    Calling it again only changes ``log_models``.
    """
    with _state.lock:
        if disable:
            _restore()
            _state.enabled = False
            return
        _state.log_models = bool(log_models)
        if _state.enabled:
            return
        _state.enabled = True
        for name in ("sklearn", "xgboost", "lightgbm"):
            if importlib.util.find_spec(name) is None:
                continue
            try:
                if name == "sklearn":
                    _patch_sklearn()
                else:
                    _patch_train(name)
            except Exception as error:  # noqa: BLE001 (one library's patch failing leaves the others)
                _warn(f"opsbook.autolog: {name} is not recorded: {type(error).__name__}: {error}")


def is_enabled() -> bool:
    """Whether :func:`autolog` is on."""
    return _state.enabled


def _warn(message: str) -> None:
    if message not in _state.warned:
        _state.warned.add(message)
        _log.warning(message)


def _set(owner: Any, name: str, value: Any) -> None:
    _state.patched.append((owner, name, owner.__dict__.get(name) if isinstance(owner, type) else getattr(owner, name), name in vars(owner)))
    setattr(owner, name, value)


def _restore() -> None:
    while _state.patched:
        owner, name, original, owned = _state.patched.pop()
        if owned:
            setattr(owner, name, original)
        else:
            delattr(owner, name)


# ---- scikit-learn ----


def _patch_sklearn() -> None:
    from sklearn.base import BaseEstimator

    for cls in _subclasses(BaseEstimator):
        _patch_fit(cls)
    previous = BaseEstimator.__dict__.get("__init_subclass__")

    def init_subclass(cls: type, **kwargs: Any) -> None:
        if previous is not None:
            previous.__get__(None, cls)(**kwargs)
        else:
            super(BaseEstimator, cls).__init_subclass__(**kwargs)
        if _state.enabled:
            _patch_fit(cls)

    _set(BaseEstimator, "__init_subclass__", classmethod(init_subclass))


def _subclasses(root: type) -> Iterator[type]:
    seen = set()
    pending = [root]
    while pending:
        cls = pending.pop()
        for sub in cls.__subclasses__():
            if sub not in seen:
                seen.add(sub)
                pending.append(sub)
                yield sub


def _patch_fit(cls: type) -> None:
    original = cls.__dict__.get("fit")
    if original is None or not callable(original) or getattr(original, "_opsbook_autolog", False):
        return

    @functools.wraps(original)
    def fit(self: Any, *args: Any, **kwargs: Any) -> Any:
        return _recorded_fit(original, self, args, kwargs)

    fit._opsbook_autolog = True  # type: ignore[attr-defined]
    _set(cls, "fit", fit)


def _current() -> Optional[_Fit]:
    return getattr(_state.local, "fit", None)


def _recorded_fit(original: Callable[..., Any], estimator: Any, args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> Any:
    __tracebackhide__ = True  # noqa: F841
    current = _current()
    if not _state.enabled or current is not None:
        if current is None or current.estimator is estimator:  # off, or a subclass's fit calling super().fit
            return original(estimator, *args, **kwargs)
        current.nested += 1
        try:
            return original(estimator, *args, **kwargs)
        finally:
            current.nested -= 1
    fit = _begin(estimator, type(estimator).__name__, _library_of(estimator))
    if fit is None:
        return original(estimator, *args, **kwargs)
    _state.local.fit = fit
    try:
        result = original(estimator, *args, **kwargs)
    except BaseException as error:
        _state.local.fit = None
        _finish(fit, "killed" if isinstance(error, KeyboardInterrupt) else "failed", _tracking.error_summary(error))
        raise
    fit.nested += 1  # what recording does (score, model export) is no fit of its own
    try:
        _after_fit(fit, estimator, args, kwargs)
    finally:
        _state.local.fit = None
    _finish(fit, "finished")
    return result


def _begin(estimator: Any, name: str, library: str, params: Optional[Dict[str, Any]] = None) -> Optional[_Fit]:
    """The run a fit records into (the active one, else a new one), with the estimator's params."""
    try:
        active = _tracking.active_run()
        owns = active is None or active.ended
        run = _tracking.new_run(None, name, tags={"opsbook.autolog": library}) if owns else active
        fit = _Fit(estimator, run, owns)
        _log_params(run, _params_of(estimator) if params is None else params)
        return fit
    except Exception as error:  # noqa: BLE001
        _warn(f"opsbook.autolog: a {name} fit is not recorded: {type(error).__name__}: {error}")
        return None


def _library_of(estimator: Any) -> str:
    return type(estimator).__module__.split(".")[0]


def _params_of(estimator: Any) -> Dict[str, Any]:
    get_params = getattr(estimator, "get_params", None)
    if get_params is None:
        return {}
    # Nested estimators appear as their own `step__param` entries; their repr adds nothing.
    return {k: v for k, v in get_params(deep=True).items() if not hasattr(v, "get_params")}


def _log_params(run: _tracking.Run, params: Dict[str, Any]) -> None:
    """Params as text; in a run that has them already (two fits in one cell) the first value stays."""
    texts = {}
    for key, value in params.items():
        text = value if isinstance(value, str) else repr(value) if callable(value) else str(value)
        if len(text) > _MAX_PARAM_TEXT:
            text = text[: _MAX_PARAM_TEXT - 1] + "…"
        if run.params.get(str(key), text) == text:
            texts[str(key)] = text
    try:
        run.log_params(texts)
    except (TypeError, ValueError) as error:
        _warn(f"opsbook.autolog: params not recorded: {error}")


def _after_fit(fit: _Fit, estimator: Any, args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> None:
    """Training score and model; each a warning at worst."""
    X = args[0] if args else kwargs.get("X")
    y = args[1] if len(args) > 1 else kwargs.get("y")
    if X is None:
        return
    if y is not None and hasattr(estimator, "score") and _rows(X) <= SCORE_MAX_ROWS:
        try:
            score = float(estimator.score(X, y))
            if math.isfinite(score):
                fit.run.log_metric("training_score", score)
        except Exception as error:  # noqa: BLE001
            _warn(f"opsbook.autolog: no training score for {type(estimator).__name__}: {type(error).__name__}: {error}")
    if _state.log_models:
        _log_model(fit.run, estimator, X)


def _rows(X: Any) -> int:
    shape = getattr(X, "shape", None)
    if shape:
        return int(shape[0])
    try:
        return len(X)
    except TypeError:
        return SCORE_MAX_ROWS + 1


def _log_model(run: _tracking.Run, estimator: Any, X: Any) -> None:
    import opsbook

    log_model = getattr(opsbook, "log_model", None)
    if log_model is None:
        return
    name = type(estimator).__name__
    try:
        sample = X.iloc[:MODEL_SAMPLE_ROWS] if hasattr(X, "iloc") else X[:MODEL_SAMPLE_ROWS]
        log_model(estimator, name, sample, run=run)
    except Exception as error:  # noqa: BLE001 (the fit succeeded; the model is a bonus)
        _warn(f"opsbook.autolog: the fitted {name} was not logged as a model: {type(error).__name__}: {error}")


def _finish(fit: _Fit, status: str, error: Optional[str] = None) -> None:
    if fit.owns_run:
        try:
            fit.run.end(status, error)
        except Exception as problem:  # noqa: BLE001
            _warn(f"opsbook.autolog: could not end run {fit.run.id}: {problem}")


# ---- XGBoost and LightGBM: train() with one more callback ----


def _patch_train(library: str) -> None:
    package = importlib.import_module(library)
    original = package.train
    wrapped = _wrap_train(library, original)
    for site in _TRAIN_SITES[library]:
        module = importlib.import_module(site)
        if getattr(module, "train", None) is original:
            _set(module, "train", wrapped)


def _wrap_train(library: str, original: Callable[..., Any]) -> Callable[..., Any]:
    signature = inspect.signature(original)

    @functools.wraps(original)
    def train(*args: Any, **kwargs: Any) -> Any:
        __tracebackhide__ = True  # noqa: F841
        current = _current()
        if not _state.enabled or (current is not None and current.nested > 0):
            return original(*args, **kwargs)
        try:
            bound = signature.bind(*args, **kwargs)
        except TypeError:  # a call train() itself refuses: let it say so
            return original(*args, **kwargs)
        fit = current
        standalone = current is None
        if standalone:
            fit = _begin(None, f"{library}.train", library, dict(bound.arguments.get("params") or {}))
            if fit is None:
                return original(*args, **kwargs)
        try:
            bound.arguments["callbacks"] = list(bound.arguments.get("callbacks") or []) + [_iteration_logger(library, fit.run)]  # type: ignore[union-attr]
            args, kwargs = bound.args, bound.kwargs
        except Exception as error:  # noqa: BLE001 (callbacks we cannot extend: train as asked)
            _warn(f"opsbook.autolog: {library} iterations not recorded: {type(error).__name__}: {error}")
        if not standalone:
            return original(*args, **kwargs)
        try:
            result = original(*args, **kwargs)
        except BaseException as error:
            _finish(fit, "killed" if isinstance(error, KeyboardInterrupt) else "failed", _tracking.error_summary(error))  # type: ignore[arg-type]
            raise
        _finish(fit, "finished")  # type: ignore[arg-type]
        return result

    return train


def _iteration_logger(library: str, run: _tracking.Run) -> Any:
    def log(key: str, value: Any, step: int) -> None:
        try:
            run.log_metric(key, float(value), step)
        except Exception as error:  # noqa: BLE001
            _warn(f"opsbook.autolog: {library} metric {key!r} not recorded: {error}")

    if library == "xgboost":
        from xgboost.callback import TrainingCallback

        class OpsbookIterations(TrainingCallback):  # type: ignore[misc, valid-type]
            """Logs the last value of each evaluation metric after each boosting round."""

            def after_iteration(self, model: Any, epoch: int, evals_log: Dict[str, Dict[str, Any]]) -> bool:
                for data, metrics in evals_log.items():
                    for metric, values in metrics.items():
                        if len(values):
                            last = values[-1]
                            log(f"{data}-{metric}", last[0] if isinstance(last, tuple) else last, epoch)
                return False

        return OpsbookIterations()

    def lightgbm_callback(env: Any) -> None:
        for entry in env.evaluation_result_list or []:
            data, metric, value = entry[0], entry[1], entry[2]
            log(f"{data}-{metric}", value, env.iteration)

    lightgbm_callback.order = 100  # type: ignore[attr-defined]  # after LightGBM's own callbacks
    return lightgbm_callback
