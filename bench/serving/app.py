"""The FastAPI peer of bench/serving.mjs: the same V2 infer request and answer, on Python onnxruntime.

    OPSBOOK_BENCH_MODEL=model.onnx uvicorn app:app --workers 2 --loop uvloop --http httptools --no-access-log

Written as a Python service would be written for speed, so the peer is measured at its best: the raw
body parsed with orjson (FastAPI's docs recommend it over the standard json module) into a numpy
array, no pydantic model in the request path, one InferenceSession per worker process created at
import (uvicorn imports the app once per worker) with one intra-op thread (one process per core;
more threads per process would only fight each other over the same cores), the answer written with
orjson. The input is checked against the model's metadata as Opsbook checks it (name, datatype,
shape x data length), so both sides do the same work.
"""

from __future__ import annotations

import os

import numpy as np
import onnxruntime as ort
import orjson
from fastapi import FastAPI, Request
from fastapi.responses import Response

_options = ort.SessionOptions()
_options.intra_op_num_threads = 1
_options.inter_op_num_threads = 1
SESSION = ort.InferenceSession(os.environ["OPSBOOK_BENCH_MODEL"], _options, providers=["CPUExecutionProvider"])
INPUT = SESSION.get_inputs()[0]
WIDTH = int(INPUT.shape[1])
OUTPUTS = [o.name for o in SESSION.get_outputs()]
NAME = os.environ.get("OPSBOOK_BENCH_NAME", "model")

app = FastAPI()


def _error(status: int, message: str) -> Response:
    return Response(orjson.dumps({"error": message}), status_code=status, media_type="application/json")


@app.get("/v2/health/ready")
async def ready() -> Response:
    return Response(b'{"ready":true}', media_type="application/json")


@app.post("/v2/models/{name}/infer")
async def infer(name: str, request: Request) -> Response:
    if name != NAME:
        return _error(404, f"unknown model {name}")
    try:
        body = orjson.loads(await request.body())
        [tensor] = body["inputs"]
        if tensor["name"] != INPUT.name or tensor["datatype"] != "FP32":
            return _error(400, "input must be FP32 " + INPUT.name)
        rows, width = tensor["shape"]
        data = np.asarray(tensor["data"], dtype=np.float32)
        if width != WIDTH or rows < 1 or data.size != rows * width:
            return _error(400, "shape and data do not match the model")
        data = data.reshape(rows, width)
    except (ValueError, KeyError, TypeError) as error:
        return _error(400, f"bad request: {error}")
    results = SESSION.run(None, {INPUT.name: data})
    answer = {
        "model_name": NAME,
        "model_version": "1",
        "outputs": [
            {"name": n, "shape": list(r.shape), "datatype": "FP32", "data": r.ravel().tolist()} for n, r in zip(OUTPUTS, results)
        ],
    }
    if "id" in body:
        answer["id"] = body["id"]
    return Response(orjson.dumps(answer), media_type="application/json")
