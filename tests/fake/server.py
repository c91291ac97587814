#!/usr/bin/env python3
"""A fake OpenAI and Ollama HTTP server for ragpipe's tests (stdlib only).

It speaks the real wire formats closely enough for ragpipe's libcurl client:

  POST /v1/embeddings        OpenAI embeddings (float or base64 vectors)
  POST /v1/chat/completions  OpenAI chat, JSON or SSE stream
  GET  /v1/models            OpenAI model list
  POST /api/embed            Ollama embeddings
  POST /api/embeddings       Ollama legacy embeddings (one prompt)
  POST /api/chat             Ollama chat, NDJSON stream or one object
  GET  /api/tags             Ollama model list

Vectors depend only on (model, text, dimensions), so both providers return
the same numbers for the same text.  Chat replies are derived from the
numbered passages in the prompt (see reply_for).

Tests steer the server through control endpoints, which are never counted
as API requests:

  GET  /_stats     counters (see Stats.snapshot)
  GET  /_requests  the recorded API requests, oldest first
  POST /_reset     zero the counters and clear the fault queue
  POST /_control   append fault steps (a JSON array, or one object)

A fault step is consumed by the next API request it matches; see
check_step for the fields and README for examples.  The server binds
127.0.0.1 only, writes its port to --port-file once it listens, prints
nothing on stdout and exits 0 on SIGTERM or SIGINT.
"""

import argparse
import base64
import collections
import dataclasses
import datetime
import fnmatch
import hashlib
import http
import itertools
import json
import math
import os
import random
import re
import select
import signal
import socket
import socketserver
import struct
import sys
import threading
import time
import traceback
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MAX_BODY = 64 << 20  # request bodies larger than this get 413
MAX_DIMENSIONS = 8192
MAX_RECORDS = 1000  # requests kept for GET /_requests

API_PATHS = (
    "/v1/embeddings", "/v1/chat/completions", "/v1/models",
    "/api/embed", "/api/embeddings", "/api/chat", "/api/tags",
)


def flavor_of(path):
    """'ollama' for Ollama's native /api/ paths, else 'openai'."""
    return "ollama" if path.startswith("/api/") else "openai"


def words(text):
    """The fake's token count: whitespace-separated words."""
    return len(text.split())


# ---------------------------------------------------------------------------
# Deterministic vectors

def embed(model, text, dim):
    """A unit vector of `dim` float32 values that depends only on the
    arguments.  The values are exactly representable as float32, so the
    float and base64 encodings carry the same numbers."""
    seed = hashlib.sha256((model + "\0" + text).encode("utf-8")).digest()
    rng = random.Random(seed)
    vec = [rng.gauss(0.0, 1.0) for _ in range(dim)]
    norm = math.sqrt(sum(x * x for x in vec)) or 1.0
    return list(struct.unpack(f"<{dim}f", struct.pack(f"<{dim}f", *(x / norm for x in vec))))


def base64_f32(vec):
    """OpenAI's base64 encoding: the little-endian float32 array."""
    return base64.b64encode(struct.pack(f"<{len(vec)}f", *vec)).decode("ascii")


# ---------------------------------------------------------------------------
# Chat replies

PASSAGE_HEAD = re.compile(r"^\s*\[(\d+)\]")
# A source label at the start of a one-line passage: "notes/a.md:3", "(a.md:3-5):"
SOURCE_LABEL = re.compile(r"""^[(\[`"']?\S+?:\d+(?:-\d+)?[)\]`"']?[:,]?(?:\s+|$)""")
SENTENCE = re.compile(r"(.+?)[.!?]+(?=\s|$)", re.S)
NO_ANSWER = "The answer is not in the sources."


def message_text(content):
    """The text of a message's content: a string or a list of parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(p.get("text", "") for p in content
                         if isinstance(p, dict) and isinstance(p.get("text"), str))
    return ""


def numbered_passages(text):
    """{n: passage text} for the passages in a prompt.  A passage starts
    with a line "[n] source" (e.g. "[1] notes/a.md:3") and its text is
    the paragraph on the lines right after it.  When no text follows
    directly (a blank line, the next "[m]" line or the end), the text is
    the rest of the "[n]" line without a leading "path:line" label."""
    passages = {}
    lines = text.splitlines()
    for i, line in enumerate(lines):
        m = PASSAGE_HEAD.match(line)
        if not m:
            continue
        paragraph = []
        for following in lines[i + 1:]:
            if not following.strip() or PASSAGE_HEAD.match(following):
                break
            paragraph.append(following.strip())
        head = line[m.end():].strip()
        passages[int(m.group(1))] = " ".join(paragraph) or SOURCE_LABEL.sub("", head, count=1)
    return passages


def first_sentence(text):
    """The first sentence without its final punctuation, first letter
    lowercased unless the first word looks like an acronym or a name
    with inner capitals ("SQLite", "NASA")."""
    m = SENTENCE.match(text.strip())
    sentence = " ".join((m.group(1) if m else text).split())
    first_word = sentence.split(" ", 1)[0]
    if first_word[1:] == first_word[1:].lower():
        sentence = sentence[:1].lower() + sentence[1:]
    return sentence


def reply_for(messages):
    """The deterministic answer to a chat request.  It cites the two
    lowest-numbered passages in the last user message:
    "According to the sources, <first sentence of [1]> [1]. See also [2]."
    """
    question = ""
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            question = message_text(message.get("content"))
            break
    passages = numbered_passages(question)
    numbers = sorted(passages)
    if not numbers or not passages[numbers[0]]:
        return NO_ANSWER
    reply = f"According to the sources, {first_sentence(passages[numbers[0]])} [{numbers[0]}]."
    if len(numbers) > 1:
        reply += f" See also [{numbers[1]}]."
    return reply


def word_pieces(text):
    """The reply split into word-sized deltas that concatenate back to it."""
    return re.findall(r"\s*\S+", text)


def prompt_tokens(messages):
    return sum(words(message_text(m.get("content"))) for m in messages if isinstance(m, dict))


# ---------------------------------------------------------------------------
# Replies and errors

@dataclasses.dataclass
class Reply:
    """A complete JSON reply."""
    status: int
    body: object
    headers: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class Stream:
    """A streamed 200 reply: SSE events or NDJSON lines, one frame each.
    Stream faults are injected after the first `fault_at` frames."""
    kind: str  # "sse" or "ndjson"
    frames: list
    fault_at: int

    @property
    def content_type(self):
        return "text/event-stream" if self.kind == "sse" else "application/x-ndjson"

    def error_frame(self, message):
        if self.kind == "sse":
            return sse({"error": {"message": message, "type": "server_error",
                                  "param": None, "code": None}})
        return ndjson({"error": message})

    def malformed_frame(self):
        if self.kind == "sse":
            return b'data: {"id":"chatcmpl-fake","choices":[{"delta":{"content":\n\n'
        return b'{"model":"fake","message":{"role":"assistant","content":\n'


MALFORMED_JSON = b'{"object": "list", "data": [{"object": "embedding", "embedding": [0.125, 0.25,'


def sse(obj):
    return b"data: " + json.dumps(obj).encode() + b"\n\n"


def ndjson(obj):
    return json.dumps(obj).encode() + b"\n"


class ApiError(Exception):
    """An error reply, rendered in the shape of the path's API."""

    def __init__(self, status, message, type_="invalid_request_error",
                 param=None, code=None, headers=None):
        super().__init__(message)
        self.status, self.message = status, message
        self.type, self.param, self.code = type_, param, code
        self.headers = headers or {}

    def reply(self, flavor):
        if flavor == "ollama":
            body = {"error": self.message}
        else:
            body = {"error": {"message": self.message, "type": self.type,
                              "param": self.param, "code": self.code}}
        return Reply(self.status, body, self.headers)


BAD_JSON = ("We could not parse the JSON body of your request. (HINT: This likely means"
            " you aren't using your HTTP library correctly. The OpenAI API expects a JSON"
            " payload, but what was sent was not valid JSON.)")
BAD_INPUT = "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference."
QUOTA = "You exceeded your current quota, please check your plan and billing details."
NO_KEY = ("You didn't provide an API key. You need to provide your API key in an"
          " Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).")
WRONG_KEY = ("Incorrect API key provided. You can find your API key at"
             " https://platform.openai.com/account/api-keys.")

# status -> (OpenAI message, type, code, Ollama message) for fault steps
FAULT_ERRORS = {
    400: ("Bad request.", "invalid_request_error", None, "bad request"),
    401: (WRONG_KEY, "invalid_request_error", "invalid_api_key", "unauthorized"),
    403: ("You are not allowed to access this resource.", "invalid_request_error", None,
          "forbidden"),
    404: ("The model does not exist or you do not have access to it.",
          "invalid_request_error", "model_not_found",
          'model not found, try pulling it first'),
    408: ("Request timed out.", "timeout", None, "request timed out"),
    429: ("Rate limit reached for requests per min (RPM): Limit 3, Used 3, Requested 1."
          " Please try again in 1s.", "requests", "rate_limit_exceeded", "rate limit exceeded"),
    500: ("The server had an error while processing your request. Sorry about that!",
          "server_error", None, "an error was encountered while running the model"),
    502: ("Bad gateway.", "server_error", None, "bad gateway"),
    503: ("The engine is currently overloaded, please try again later.", "server_error", None,
          "server busy, please try again.  maximum pending requests exceeded"),
}


def fault_error(step, flavor):
    """The ApiError a {"status": N, ...} step asks for."""
    status = step["status"]
    if status == 429 and step.get("quota"):
        message, type_, code, ollama_message = QUOTA, "insufficient_quota", "insufficient_quota", QUOTA
    else:
        try:
            phrase = http.HTTPStatus(status).phrase
        except ValueError:
            phrase = "Error"
        default = (phrase + ".", "server_error" if status >= 500 else "invalid_request_error",
                   None, phrase.lower())
        message, type_, code, ollama_message = FAULT_ERRORS.get(status, default)
    if flavor == "ollama":
        message = ollama_message
    headers = dict(step.get("headers", {}))
    if "retry_after" in step:
        headers["Retry-After"] = str(step["retry_after"])
    if "retry_after_ms" in step:
        headers["retry-after-ms"] = str(step["retry_after_ms"])
    return ApiError(status, step.get("message", message), type_, None, code, headers)


# ---------------------------------------------------------------------------
# The API endpoints: functions of (request body, server options) that return
# a Reply or a Stream, or raise ApiError.

def require_model(body, flavor):
    model = body.get("model")
    if not isinstance(model, str) or not model:
        if flavor == "ollama":
            raise ApiError(400, "model is required")
        raise ApiError(400, "you must provide a model parameter")
    return model


def requested_dim(body, opts):
    dim = body.get("dimensions")
    if dim is None:
        return opts.dim
    if isinstance(dim, bool) or not isinstance(dim, int) or not 1 <= dim <= MAX_DIMENSIONS:
        raise ApiError(400, f"Invalid 'dimensions': expected an integer from 1 to {MAX_DIMENSIONS}.",
                       param="dimensions")
    return dim


def input_texts(value):
    """The inputs of an embedding request as a list of strings, or None."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    return None


def input_count(body):
    texts = input_texts(body.get("input", body.get("prompt"))) if isinstance(body, dict) else None
    return len(texts) if texts else 0


def openai_embeddings(body, opts):
    model = require_model(body, "openai")
    if "input" not in body:
        raise ApiError(400, "'input' is a required property", param="input")
    texts = input_texts(body["input"])
    if not texts or len(texts) > 2048 or any(t == "" for t in texts):
        raise ApiError(400, BAD_INPUT, param="input")
    fmt = body.get("encoding_format", "float")
    if fmt not in ("float", "base64"):
        raise ApiError(400, f"{fmt!r} is not one of ['float', 'base64'] - 'encoding_format'",
                       param="encoding_format")
    dim = requested_dim(body, opts)
    for text in texts:
        if len(text) > opts.max_input_chars:
            raise ApiError(
                400,
                f"This model's maximum context length is {opts.max_input_chars} tokens, however"
                f" you requested {len(text)} tokens ({len(text)} in your prompt). Please reduce"
                " your prompt; or completion length.",
                code="context_length_exceeded")
    data = []
    for i, text in enumerate(texts):
        vec = embed(model, text, dim)
        data.append({"object": "embedding", "index": i,
                     "embedding": base64_f32(vec) if fmt == "base64" else vec})
    tokens = sum(words(t) for t in texts)
    return Reply(200, {"object": "list", "data": data, "model": model,
                       "usage": {"prompt_tokens": tokens, "total_tokens": tokens}})


def ollama_embed(body, opts):
    started = time.perf_counter_ns()
    model = require_model(body, "ollama")
    value = body.get("input", [])
    texts = input_texts(value)
    if texts is None:
        raise ApiError(400, "invalid input type")
    truncate = body.get("truncate", True)
    dim = requested_dim(body, opts)
    vectors = []
    for text in texts:
        if len(text) > opts.max_input_chars:
            if truncate is False:
                raise ApiError(400, "the input length exceeds the context length")
            text = text[:opts.max_input_chars]
        vectors.append(embed(model, text, dim))
    return Reply(200, {"model": model, "embeddings": vectors,
                       "total_duration": time.perf_counter_ns() - started,
                       "load_duration": 1000,
                       "prompt_eval_count": sum(words(t) for t in texts)})


def ollama_embeddings_legacy(body, opts):
    model = require_model(body, "ollama")
    prompt = body.get("prompt", "")
    if not isinstance(prompt, str):
        raise ApiError(400, "invalid prompt type")
    return Reply(200, {"embedding": embed(model, prompt[:opts.max_input_chars], opts.dim)})


def chat_messages(body, flavor):
    messages = body.get("messages")
    if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
        raise ApiError(400, "'messages' must be an array of message objects", param="messages")
    if not messages and flavor == "openai":
        raise ApiError(400, "[] is too short - 'messages'", param="messages")
    return messages


REPLY_KEY = "\0reply"  # set by route() from a step's "reply"; never in a real body


def limited_reply(messages, limit, reply=None):
    """(pieces, finish_reason) for the reply (`reply` if given), cut to
    `limit` pieces."""
    pieces = word_pieces(reply if reply is not None else reply_for(messages))
    if isinstance(limit, int) and not isinstance(limit, bool) and 0 <= limit < len(pieces):
        return pieces[:limit], "length"
    return pieces, "stop"


def openai_chat(body, opts):
    model = require_model(body, "openai")
    messages = chat_messages(body, "openai")
    stream = body.get("stream") is True
    if body.get("stream_options") is not None and not stream:
        raise ApiError(400, "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
                       param="stream_options")
    limit = body.get("max_completion_tokens", body.get("max_tokens"))
    pieces, finish = limited_reply(messages, limit, body.get(REPLY_KEY))
    prompt = prompt_tokens(messages)
    usage = {"prompt_tokens": prompt, "completion_tokens": len(pieces),
             "total_tokens": prompt + len(pieces)}
    cid = "chatcmpl-" + hashlib.sha256(json.dumps(messages).encode()).hexdigest()[:24]
    created = int(time.time())

    def completion(object_, choices):
        return {"id": cid, "object": object_, "created": created, "model": model,
                "system_fingerprint": "fp_fake", "choices": choices}

    if not stream:
        return Reply(200, {**completion("chat.completion", [{
            "index": 0, "message": {"role": "assistant", "content": "".join(pieces), "refusal": None},
            "logprobs": None, "finish_reason": finish}]), "usage": usage})

    include_usage = (body.get("stream_options") or {}).get("include_usage") is True

    def chunk(choices, usage=None):
        obj = completion("chat.completion.chunk", choices)
        if include_usage:
            obj["usage"] = usage
        return sse(obj)

    def choice(delta, finish_reason=None):
        return [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}]

    frames = [b": keep-alive\n\n", chunk(choice({"role": "assistant", "content": ""}))]
    frames += [chunk(choice({"content": p})) for p in pieces]
    frames.append(chunk(choice({}, finish)))
    if include_usage:
        frames.append(chunk([], usage))
    frames.append(b"data: [DONE]\n\n")
    return Stream("sse", frames, fault_at=4)  # after the comment, the role and two words


def ollama_chat(body, opts):
    started = time.perf_counter_ns()
    model = require_model(body, "ollama")
    messages = chat_messages(body, "ollama")
    options = body.get("options") if isinstance(body.get("options"), dict) else {}
    if messages:
        pieces, finish = limited_reply(messages, options.get("num_predict"), body.get(REPLY_KEY))
    else:
        pieces, finish = [], "load"  # an empty chat only loads the model
    created_at = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    def message(content, done):
        return {"model": model, "created_at": created_at,
                "message": {"role": "assistant", "content": content}, "done": done}

    elapsed = time.perf_counter_ns() - started
    final = {**message("", True), "done_reason": finish,
             "total_duration": elapsed + 3000, "load_duration": 1000,
             "prompt_eval_count": prompt_tokens(messages), "prompt_eval_duration": 1000,
             "eval_count": len(pieces), "eval_duration": elapsed + 1000}
    if body.get("stream", True) is False:
        final["message"]["content"] = "".join(pieces)
        return Reply(200, final)
    frames = [ndjson(message(p, False)) for p in pieces] + [ndjson(final)]
    return Stream("ndjson", frames, fault_at=2)


def openai_models(body, opts):
    return Reply(200, {"object": "list", "data": [
        {"id": name, "object": "model", "created": 1700000000, "owned_by": "system"}
        for name in ("text-embedding-3-small", "text-embedding-3-large", "gpt-4o-mini")]})


def ollama_tags(body, opts):
    def model(name, family, size):
        return {"name": name, "model": name, "modified_at": "2024-01-01T00:00:00Z",
                "size": size, "digest": hashlib.sha256(name.encode()).hexdigest(),
                "details": {"parent_model": "", "format": "gguf", "family": family,
                            "families": [family], "parameter_size": "", "quantization_level": "F16"}}
    return Reply(200, {"models": [model("nomic-embed-text:latest", "nomic-bert", 274302450),
                                  model("llama3.2:latest", "llama", 2019393189)]})


ROUTES = {
    ("POST", "/v1/embeddings"): openai_embeddings,
    ("POST", "/v1/chat/completions"): openai_chat,
    ("GET", "/v1/models"): openai_models,
    ("POST", "/api/embed"): ollama_embed,
    ("POST", "/api/embeddings"): ollama_embeddings_legacy,
    ("POST", "/api/chat"): ollama_chat,
    ("GET", "/api/tags"): ollama_tags,
}


def route(method, path, raw, opts, reply=None):
    """The Reply or Stream for one API request (errors included); `reply`
    replaces a chat reply's text."""
    flavor = flavor_of(path)
    endpoint = ROUTES.get((method, path))
    try:
        if endpoint is None:
            if flavor == "ollama":
                raise ApiError(404, "404 page not found")
            raise ApiError(404, f"Invalid URL ({method} {path})")
        body = {}
        if method == "POST":
            try:
                body = json.loads(raw)
            except ValueError:
                raise ApiError(400, "invalid JSON body" if flavor == "ollama" else BAD_JSON)
            if not isinstance(body, dict):
                raise ApiError(400, "the request body must be a JSON object")
            if reply is not None:
                body[REPLY_KEY] = reply
        return endpoint(body, opts)
    except ApiError as e:
        return e.reply(flavor)


# ---------------------------------------------------------------------------
# Fault steps

# field -> accepted JSON types
STEP_FIELDS = {
    "path": (str,),            # glob matched against the request path; default: any
    "count": (int,),           # apply to this many matching requests (default 1)
    "delay": (int, float),     # seconds to wait before answering
    "frame_delay": (int, float),  # streams: seconds to wait after each frame
    "reply": (str,),           # chat: this text instead of the derived reply
    "status": (int,),          # an error reply with this status
    "quota": (bool,),          # with status 429: insufficient_quota
    "retry_after": (str, int, float),     # Retry-After header (seconds or HTTP date)
    "retry_after_ms": (str, int, float),  # retry-after-ms header
    "message": (str,),         # replaces the error message
    "headers": (dict,),        # extra headers on the error reply
    "hang": (bool,),           # never answer
    "drop": (bool, str),       # close without answering ("reset": with an RST)
    "drop_mid": (bool,),       # headers and part of the body, then close
    "malformed": (bool,),      # a body (or one stream frame) that is not JSON
    "stream_error": (str,),    # an error frame after a few deltas (500 if not a stream)
    "huge": (int,),            # a 200 body of this many bytes
    "flood": (bool,),          # a 200 body that never ends
    "stall_mid": (bool,),      # headers and part of the body, then silence
}
ACTIONS = ("hang", "drop", "drop_mid", "status", "malformed", "stream_error", "huge",
           "flood", "stall_mid")


def check_step(step):
    """An error message for an invalid step, or None."""
    if not isinstance(step, dict):
        return "a step must be a JSON object"
    for key, value in step.items():
        types = STEP_FIELDS.get(key)
        if types is None:
            return f"unknown step field {key!r}"
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            return f"step field {key!r} has the wrong type"
    actions = [a for a in ACTIONS if step.get(a) not in (None, False)]
    if len(actions) > 1:
        return "a step takes at most one of " + ", ".join(ACTIONS)
    if step.get("count", 1) < 1:
        return "count must be at least 1"
    if step.get("delay", 0) < 0 or step.get("huge", 0) < 0 or step.get("frame_delay", 0) < 0:
        return "delay, frame_delay and huge must not be negative"
    if "status" in step and not 400 <= step["status"] <= 599:
        return "status must be from 400 to 599"
    if isinstance(step.get("drop"), str) and step["drop"] != "reset":
        return 'drop is true or "reset"'
    if (step.get("quota") or "retry_after" in step or "retry_after_ms" in step
            or "headers" in step) and "status" not in step:
        return "quota, retry_after, retry_after_ms and headers need a status"
    return None


class FaultQueue:
    """A FIFO of fault steps; each API request consumes the first step
    whose path glob matches it."""

    def __init__(self):
        self._lock = threading.Lock()
        self._entries = []  # [step, remaining uses]

    def push(self, steps):
        with self._lock:
            self._entries.extend([dict(step), step.get("count", 1)] for step in steps)
            return len(self._entries)

    def take(self, path):
        with self._lock:
            for i, entry in enumerate(self._entries):
                step = entry[0]
                if "path" in step and not fnmatch.fnmatchcase(path, step["path"]):
                    continue
                entry[1] -= 1
                if entry[1] == 0:
                    del self._entries[i]
                return step
        return None

    def clear(self):
        with self._lock:
            self._entries.clear()

    def __len__(self):
        with self._lock:
            return len(self._entries)


# ---------------------------------------------------------------------------
# Statistics

SECRET_HEADERS = {"authorization", "proxy-authorization", "x-api-key", "api-key"}


def summarize(value):
    """The value with long strings and lists shortened, for the request log."""
    if isinstance(value, str) and len(value) > 200:
        return value[:200] + f"...({len(value)} chars)"
    if isinstance(value, list):
        items = [summarize(v) for v in value[:20]]
        return items + [f"...({len(value)} items)"] if len(value) > 20 else items
    if isinstance(value, dict):
        return {k: summarize(v) for k, v in value.items()}
    return value


class Stats:
    """Counters since the last reset, and a log of recent API requests."""

    def __init__(self):
        self._lock = threading.Lock()
        self.reset()

    def reset(self):
        with self._lock:
            self.requests = 0
            self.by_path = dict.fromkeys(API_PATHS, 0)
            self.inputs = 0
            self.accepted = 0            # every TCP connection accepted
            self.api_connections = set()  # connections that carried an API request
            self.auth_seen = False
            self.records = collections.deque(maxlen=MAX_RECORDS)

    def connection_accepted(self):
        with self._lock:
            self.accepted += 1

    def record(self, conn_id, method, path, headers, raw):
        """Count one API request; returns its log record (a dict the
        handler completes with the reply status)."""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = "<not JSON: %d bytes>" % len(raw)
        auth = "Authorization" in headers
        record = {"method": method, "path": path, "connection": conn_id, "auth": auth,
                  "headers": {k: v for k, v in headers.items() if k.lower() not in SECRET_HEADERS},
                  "body": summarize(body), "status": None}
        with self._lock:
            self.requests += 1
            self.by_path[path] = self.by_path.get(path, 0) + 1
            if path in ("/v1/embeddings", "/api/embed", "/api/embeddings"):
                self.inputs += input_count(body)
            self.api_connections.add(conn_id)
            self.auth_seen = self.auth_seen or auth
            record["seq"] = self.requests
            self.records.append(record)
        return record

    def snapshot(self, faults_pending):
        with self._lock:
            return {"requests": self.requests, "by_path": dict(self.by_path),
                    "inputs": self.inputs, "connections": len(self.api_connections),
                    "connections_accepted": self.accepted, "auth_seen": self.auth_seen,
                    "faults_pending": faults_pending}

    def recorded(self):
        with self._lock:
            return list(self.records)


# ---------------------------------------------------------------------------
# HTTP

class BadRequest(Exception):
    """A request body that cannot be read."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


class Handler(BaseHTTPRequestHandler):
    """One instance per TCP connection; handles its requests in turn."""

    protocol_version = "HTTP/1.1"
    server_version = "ragpipe-fake/1"
    timeout = 30  # seconds an idle keep-alive connection stays open
    _ids = itertools.count(1)

    def setup(self):
        super().setup()
        self.conn_id = next(self._ids)

    def do_GET(self):
        self.dispatch()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_GET

    def dispatch(self):
        self.record = None
        path = urllib.parse.urlsplit(self.path).path
        try:
            try:
                raw = self.read_body()
            except BadRequest as e:
                self.close_connection = True
                self.send_reply(ApiError(e.status, str(e)).reply(flavor_of(path)))
                return
            if path.startswith("/_"):
                self.control(path, raw)
            else:
                self.api(path, raw)
        except (BrokenPipeError, ConnectionResetError, socket.timeout):
            self.close_connection = True  # the client went away

    def read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            parts, total = [], 0
            while True:
                line = self.rfile.readline(1024)
                try:
                    size = int(line.split(b";")[0], 16)
                except ValueError:
                    raise BadRequest(400, "bad chunk size")
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(parts)
                total += size
                if total > MAX_BODY:
                    raise BadRequest(413, "request body too large")
                parts.append(self.rfile.read(size))
                self.rfile.readline(1024)
        try:
            length = int(self.headers.get("Content-Length", 0))
        except ValueError:
            raise BadRequest(400, "bad Content-Length")
        if length > MAX_BODY:
            raise BadRequest(413, "request body too large")
        return self.rfile.read(length) if length > 0 else b""

    # -- API requests

    def api(self, path, raw):
        server = self.server
        self.record = server.stats.record(self.conn_id, self.command, path, self.headers, raw)
        server.log.write({"request": self.record})
        flavor = flavor_of(path)
        if flavor == "openai" and server.options.api_key is not None:
            given = self.headers.get("Authorization")
            if given != "Bearer " + server.options.api_key:
                error = ApiError(401, NO_KEY if given is None else WRONG_KEY,
                                 code="invalid_api_key")
                self.send_reply(error.reply(flavor))
                return
        step = server.faults.take(path) or {}
        if step.get("delay"):
            server.stopping.wait(step["delay"])
        if step.get("hang"):
            self.hang()
        elif step.get("drop"):
            self.drop(reset=step["drop"] == "reset")
        elif "status" in step:
            self.send_reply(fault_error(step, flavor).reply(flavor))
        else:
            response = route(self.command, path, raw, server.options, step.get("reply"))
            if isinstance(response, Stream):
                self.send_stream(response, step)
            else:
                self.send_reply_with_fault(response, step, flavor)

    def hang(self):
        """Never answer: wait until the client closes or the server stops."""
        self.close_connection = True
        while not self.server.stopping.is_set():
            readable, _, _ = select.select([self.connection], [], [], 0.1)
            if readable:
                try:
                    if not self.connection.recv(65536):
                        return  # the client closed
                except OSError:
                    return

    def drop(self, reset=False):
        """Close the connection without a reply: a FIN, or with `reset`
        an RST (a zero linger time, and no shutdown() that would send a
        FIN first)."""
        self.close_connection = True
        if reset:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()  # really closed once finish() closes rfile and wfile

    # -- Writing replies

    def send_response(self, code, message=None):
        if self.record is not None and self.record["status"] is None:
            self.record["status"] = code
        super().send_response(code, message)

    def send_reply_with_fault(self, reply, step, flavor):
        """A JSON reply, or what the body fault of `step` makes of it."""
        if step.get("huge") is not None:
            self.send_huge(step["huge"], "json")
        elif step.get("flood"):
            self.send_flood("json")
        elif step.get("stall_mid"):
            data = json.dumps(reply.body).encode()
            self.send_response(reply.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[:len(data) // 2])
            self.wfile.flush()
            self.hang()
        elif step.get("malformed"):
            self.send_body(200, "application/json", MALFORMED_JSON)
        elif step.get("stream_error"):
            self.send_reply(ApiError(500, step["stream_error"], "server_error").reply(flavor))
        else:
            self.send_reply(reply, truncate=step.get("drop_mid", False))

    def send_reply(self, reply, truncate=False):
        """A JSON reply; `truncate` sends half the body and closes."""
        self.send_body(reply.status, "application/json",
                       json.dumps(reply.body).encode(), reply.headers, truncate)

    def send_body(self, status, content_type, data, headers=None, truncate=False):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-request-id", "req_fake%d" % (self.record["seq"] if self.record else 0))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if truncate:
            self.wfile.write(data[:len(data) // 2])
            self.close_connection = True
        else:
            self.wfile.write(data)

    def send_stream(self, stream, step):
        """A streamed reply in chunked transfer encoding, with any stream
        fault of `step` injected after stream.fault_at frames."""
        if step.get("huge") is not None:
            self.send_huge(step["huge"], stream.kind)
            return
        if step.get("flood"):
            self.send_flood(stream.kind)
            return
        frames, at = stream.frames, min(stream.fault_at, len(stream.frames))
        end = b"0\r\n\r\n"
        if step.get("stream_error"):
            frames = frames[:at] + [stream.error_frame(step["stream_error"])]
        elif step.get("malformed"):
            frames = frames[:at] + [stream.malformed_frame()] + frames[at:]
        elif step.get("drop_mid") or step.get("stall_mid"):
            frames, end = frames[:at], b""
            self.close_connection = True
        self.send_response(200)
        self.send_header("Content-Type", stream.content_type)
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for frame in frames:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(frame), frame))
            if step.get("frame_delay"):
                self.server.stopping.wait(step["frame_delay"])
        self.wfile.write(end)
        if step.get("stall_mid"):
            self.wfile.flush()
            self.hang()

    HUGE_SHAPES = {  # kind -> (content type, prefix, filler byte, suffix)
        "json": ("application/json", b'{"object":"list","data":[', b" ", b"]}"),
        "sse": ("text/event-stream", b'data: {"pad":"', b"x", b'"}\n\n'),
        "ndjson": ("application/x-ndjson", b'{"pad":"', b"x", b'"}\n'),
    }

    FLOOD_WORDS = b"lorem ipsum dolor sit amet " * 150  # about 4 KB a frame

    def flood_frame(self, kind):
        """A valid frame of the endless reply: a chat delta of many words
        (or, for JSON, padding inside the list)."""
        words = self.FLOOD_WORDS.decode()
        if kind == "sse":
            return sse({"id": "chatcmpl-flood", "object": "chat.completion.chunk",
                        "choices": [{"index": 0, "delta": {"content": words},
                                     "finish_reason": None}]})
        if kind == "ndjson":
            return ndjson({"model": "flood", "message": {"role": "assistant",
                                                         "content": words}, "done": False})
        return b" " * 65536

    def send_flood(self, kind):
        """A 200 reply in chunked encoding that never ends: frames until
        the client closes the connection or the server stops."""
        content_type = self.HUGE_SHAPES[kind][0]
        self.close_connection = True
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        frame = self.flood_frame(kind)
        if kind == "json":
            self.wfile.write(b"%x\r\n%s\r\n" % (len(b'{"object":"list","data":['),
                                                  b'{"object":"list","data":['))
        chunk = b"%x\r\n%s\r\n" % (len(frame), frame)
        while not self.server.stopping.is_set():
            self.wfile.write(chunk)

    def send_huge(self, size, kind):
        """A 200 reply of exactly `size` bytes, generated as it is sent."""
        content_type, prefix, filler, suffix = self.HUGE_SHAPES[kind]
        if size < len(prefix) + len(suffix):
            prefix, suffix = b"", b""
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(size))
        self.end_headers()
        self.wfile.write(prefix)
        left = size - len(prefix) - len(suffix)
        block = filler * 65536
        while left > 0:
            n = min(left, len(block))
            self.wfile.write(block[:n])
            left -= n
        self.wfile.write(suffix)

    # -- Control requests

    def control(self, path, raw):
        server, key = self.server, (self.command, path)
        if key == ("GET", "/_stats"):
            self.send_reply(Reply(200, server.stats.snapshot(len(server.faults))))
        elif key == ("GET", "/_requests"):
            self.send_reply(Reply(200, server.stats.recorded()))
        elif key == ("POST", "/_reset"):
            server.stats.reset()
            server.faults.clear()
            self.send_reply(Reply(200, {"ok": True}))
        elif key == ("POST", "/_control"):
            try:
                steps = json.loads(raw)
            except ValueError:
                self.send_reply(Reply(400, {"error": "the body must be JSON"}))
                return
            steps = steps if isinstance(steps, list) else [steps]
            for step in steps:
                problem = check_step(step)
                if problem:
                    self.send_reply(Reply(400, {"error": problem, "step": step}))
                    return
            pending = server.faults.push(steps)
            self.send_reply(Reply(200, {"queued": len(steps), "pending": pending}))
        else:
            self.send_reply(Reply(404, {"error": f"no control endpoint {self.command} {path}"}))

    def version_string(self):
        return self.server_version

    def log_message(self, format, *args):
        self.server.log.write({"log": format % args, "client": self.address_string()})


class Log:
    """The optional --log file: one JSON object per line."""

    def __init__(self, path):
        self._lock = threading.Lock()
        self._file = open(path, "a", encoding="utf-8", buffering=1) if path else None

    def write(self, obj):
        with self._lock:
            if self._file:
                self._file.write(json.dumps(obj) + "\n")

    def close(self):
        with self._lock:
            if self._file:
                self._file.close()
                self._file = None


class FakeServer(ThreadingHTTPServer):
    # Hung, slow or idle connections must never delay shutdown or exit.
    daemon_threads = True
    block_on_close = False

    def __init__(self, options, faults=()):
        self.options = options
        self.stats = Stats()
        self.faults = FaultQueue()
        self.faults.push(faults)
        self.stopping = threading.Event()
        self.log = Log(options.log)
        super().__init__((options.host, options.port), Handler)

    def server_bind(self):
        # HTTPServer.server_bind would call getfqdn(), a DNS lookup.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def get_request(self):
        request = super().get_request()
        self.stats.connection_accepted()
        return request

    def handle_error(self, request, client_address):
        error = sys.exc_info()[1]
        if isinstance(error, (ConnectionError, socket.timeout)):
            return
        self.log.write({"error": traceback.format_exc()})
        traceback.print_exc(file=sys.stderr)


# ---------------------------------------------------------------------------

def parse_args(argv):
    p = argparse.ArgumentParser(prog="server.py", description=__doc__.split("\n")[0])
    p.add_argument("--host", default="127.0.0.1", help="must be 127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="0 picks a free port")
    p.add_argument("--port-file", help="write the port here (atomically) once listening")
    p.add_argument("--dim", type=int, default=8, help="vector size without 'dimensions'")
    p.add_argument("--api-key", help="require 'Authorization: Bearer KEY' on OpenAI paths")
    p.add_argument("--max-input-chars", type=int, default=2000,
                   help="longest embedding input (context length)")
    p.add_argument("--script", help="a JSON array of fault steps to queue at start")
    p.add_argument("--log", help="append request records as JSON lines to FILE")
    options = p.parse_args(argv)
    if options.host != "127.0.0.1":
        p.error("--host: only 127.0.0.1 is allowed")
    if not 1 <= options.dim <= MAX_DIMENSIONS or options.max_input_chars < 1:
        p.error("--dim or --max-input-chars out of range")
    return options


def load_script(path):
    with open(path, encoding="utf-8") as f:
        steps = json.load(f)
    if not isinstance(steps, list):
        raise ValueError("the script must be a JSON array of steps")
    for step in steps:
        problem = check_step(step)
        if problem:
            raise ValueError(f"{problem}: {json.dumps(step)}")
    return steps


def write_port_file(path, port):
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w", encoding="ascii") as f:
        f.write(f"{port}\n")
    os.replace(tmp, path)


def main(argv=None):
    options = parse_args(argv)
    try:
        steps = load_script(options.script) if options.script else []
    except (OSError, ValueError) as e:
        print(f"server.py: {options.script}: {e}", file=sys.stderr)
        return 2
    server = FakeServer(options, steps)

    def stop(signum, frame):
        server.stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                     daemon=True).start()
    if options.port_file:
        write_port_file(options.port_file, server.server_port)
    while not server.stopping.wait(0.2):
        pass
    server.shutdown()
    server.server_close()
    server.log.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
