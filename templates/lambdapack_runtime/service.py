"""Events in, responses out: routes, the request's rows, and answers in the event source's shape.

The guide's direct event ``{"sl": 6.9, "sw": 3.1, "pl": 5.1, "pw": 2.3}`` answers exactly
``{"statusCode": 200, "body": "virginica"}``; API Gateway REST (v1) and HTTP API (v2), function
URL and ALB events get JSON responses in their own shape. Client input never causes a 5xx or a
traceback in the response; every request writes one JSON log line (never the body).
"""

from __future__ import annotations

import json
import time

from .config import DEFAULT_MAX_BATCH, cors_origins, env_int, log
from .events import HttpRequest, alb_response, http_request, json_response
from .inputs import Reject, show
from .model import Model


class Call:
    """One invocation: the event, the HTTP request it carries (read once, here), and its log line's fields."""

    def __init__(self, event: object, context: object) -> None:
        self.event = event
        self.started = time.perf_counter()
        self.batch = False
        self.log: dict = {"request_id": getattr(context, "aws_request_id", None), "source": "direct"}
        self.bad_event: Reject | None = None
        try:
            self.request: HttpRequest | None = http_request(event)
        except Reject as reject:  # answered by the first step that needs the request
            self.request, self.bad_event = None, reject
        if self.request is not None:
            self.log.update(source=self.request.source, method=self.request.method)
            self.log["request_id"] = self.log["request_id"] or self.request.request_id

    def http(self) -> HttpRequest | None:
        """The HTTP request, or None for a direct invocation; a malformed event is the client's 400."""
        if self.bad_event is not None:
            raise self.bad_event
        return self.request


class Service:
    """Turns events into rows of inputs, and predictions or rejections into Lambda responses."""

    def __init__(self, model: Model) -> None:
        self.model = model
        self.max_batch = env_int("LAMBDAPACK_MAX_BATCH", DEFAULT_MAX_BATCH, 1)
        self.cors_origins = cors_origins()

    def begin(self, event: object, context: object) -> Call:
        return Call(event, context)

    # -- what the request asks -----------------------------------------------------------------

    def special(self, call: Call) -> dict | None:
        """The answer to a request that asks no prediction (health, CORS preflight, 404, 405), else None."""
        request = call.http()
        if request is None:
            return None
        route = request.route()
        call.log["route"] = route
        allowed = ("GET",) if route == "/health" else ("GET", "POST")
        if request.method == "OPTIONS" and self.cors_origins:
            preflight = self.cors_headers(request)
            preflight.update({"Access-Control-Allow-Methods": ", ".join((*allowed, "OPTIONS")),
                              "Access-Control-Allow-Headers": "content-type", "Access-Control-Max-Age": "300"})
            return {"statusCode": 204, "headers": preflight, "body": ""}
        if request.method not in allowed:
            raise Reject(405, "method_not_allowed", f"{route} accepts {' and '.join(allowed)}, "
                         f"not {show(request.method)}", headers={"Allow": ", ".join(allowed)})
        if route == "/health":
            return json_response(200, {"status": "ok", "model": self.model.metadata(), "max_batch": self.max_batch},
                                 self.cors_headers(request))
        return None

    def rows(self, call: Call) -> list:
        """The request's inputs as rows; Reject (4xx) for any bad input."""
        request = call.http()
        inputs = self.model.inputs
        if request is None:
            rows, call.batch = inputs.rows_from_payload(call.event, self.max_batch)
        else:
            body = request.text_body()
            if body is None:
                if not request.query:
                    raise Reject(400, "missing_input", "send the features as a JSON body or a query string, "
                                 f"e.g. ?{inputs.example_query()}")
                rows, call.batch = inputs.rows_from_query(request.query), False
            else:
                rows, call.batch = inputs.rows_from_payload(request.parse(body), self.max_batch)
        call.log["rows"] = len(rows)
        return rows

    # -- responses -----------------------------------------------------------------------------

    def answer(self, call: Call, prediction: tuple) -> dict:
        """The response for ``(outputs, probabilities)`` in the shape the event asked for."""
        outputs, probas = prediction
        model = self.model
        if model.task == "regression":
            predictions, probabilities = outputs, None
        else:
            predictions = [model.classes[i] for i in outputs]
            names = [str(c) for c in model.classes]
            probabilities = [dict(zip(names, p, strict=True)) for p in probas] if probas is not None else None
        call.log["predictor"] = model.uses_predictor(len(outputs))
        if call.request is None and not call.batch:
            # the guide's contract, to the byte: {"statusCode": 200, "body": "virginica"}
            value = predictions[0]
            return {"statusCode": 200, "body": value if isinstance(value, str) else json.dumps(value)}
        if call.batch:
            payload = {"predictions": predictions}
            if probabilities is not None:
                payload["probabilities"] = probabilities
        else:
            payload = {"prediction": predictions[0]}
            if probabilities is not None:
                payload["probabilities"] = probabilities[0]
        return json_response(200, payload, self.cors_headers(call.request))

    def cors_headers(self, request: HttpRequest | None) -> dict:
        if not self.cors_origins or request is None:
            return {}
        if "*" in self.cors_origins:
            return {"Access-Control-Allow-Origin": "*"}
        origin = request.headers.get("origin")
        if origin in self.cors_origins:
            return {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}
        return {"Vary": "Origin"}

    def reject(self, call: Call, reject: Reject) -> dict:
        call.log["error"] = reject.error
        payload = {"error": reject.error, "detail": reject.detail}
        if reject.field is not None:
            payload["field"] = reject.field
        headers = self.cors_headers(call.request)
        headers.update(reject.headers)
        return json_response(reject.status, payload, headers)

    def fail(self, call: Call, exc: BaseException) -> dict:
        import traceback

        call.log.update(error="internal_error", exception=f"{type(exc).__name__}: {exc}",
                        traceback=traceback.format_exc())
        return json_response(500, {"error": "internal_error", "detail": "the function failed; see its logs for "
                                   f"request {call.log['request_id']}"})

    def finish(self, call: Call, response: dict) -> dict:
        """Log the request's one line; give the response the shape its event source requires."""
        status = response["statusCode"]
        call.log["status"] = status
        call.log["outcome"] = "ok" if status < 400 else "client_error" if status < 500 else "server_error"
        call.log["latency_ms"] = round((time.perf_counter() - call.started) * 1000, 3)
        log("ERROR" if status >= 500 else "INFO", "request", **call.log)
        if call.request is not None and call.request.source == "alb":
            return alb_response(response, call.request.multi_value)
        return response
