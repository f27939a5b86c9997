"""A scikit-learn model served by AWS Lambda (handler: ``lambda_function.lambda_handler``).

The guide's function, made fast and safe: load the model once at init, then for each
request parse the inputs, predict, and respond.

* Init reads ``model.json`` and ``function.json`` beside this file. A model that
  ``lambdapack package`` compiled into ``model.predictor`` is served by a standard-library
  predictor proven against the estimator (``function.json``'s ``claim`` says exactly what was
  proven), so init imports no numpy or scikit-learn and takes milliseconds; any other model is
  unpickled from ``model.joblib`` with the layer's libraries after its sha256 is checked.
* The guide's test event ``{"sl": 6.9, "sw": 3.1, "pl": 5.1, "pw": 2.3}`` answers exactly
  ``{"statusCode": 200, "body": "virginica"}``. API Gateway (REST and HTTP API), function URL
  and ALB events get JSON: ``POST /predict``, ``GET /predict?sl=…``, batches as
  ``{"instances": [[...], ...]}``, ``GET /health``.
* Inputs are typed by ``model.json``: numbers, categories (strings), ``null`` where the model
  takes a missing value. Bad input is answered 4xx with a JSON reason, never a 5xx; one JSON
  log line per request.

The machinery lives in the ``lambdapack_runtime`` package beside this file (standard library only).
"""

from lambdapack_runtime import model, service

# Init: once per execution environment (under SnapStart, once before the snapshot).
MODEL = model.load()
SERVICE = service.Service(MODEL)
model.register_snapstart_hooks(MODEL)


def lambda_handler(event, context):
    call = SERVICE.begin(event, context)  # the event read once: its source, route and body
    try:
        response = SERVICE.special(call)  # GET /health, CORS preflight, unknown route or method
        if response is None:
            rows = SERVICE.rows(call)  # the inputs, checked against model.json: 4xx on any bad input
            prediction = MODEL.predict(rows)  # (classes or values, probabilities)
            response = SERVICE.answer(call, prediction)
    except service.Reject as reject:  # the client's mistake: a 4xx that says what to fix
        response = SERVICE.reject(call, reject)
    except Exception as exc:  # noqa: BLE001 -- a bug, not the client's: logged, answered 500 without details
        response = SERVICE.fail(call, exc)
    return SERVICE.finish(call, response)  # one log line; the response in its event source's shape
