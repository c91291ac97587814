#!/usr/bin/env python3
"""Tests of the fake server itself (stdlib unittest).

Run: python3 tests/fake/test_server.py   (or python3 -m unittest from tests/fake)
"""

import base64
import email.utils
import http.client
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SERVER = os.path.join(HERE, "server.py")
CTL = os.path.join(HERE, "ctl.py")
KEY = "sk-test-not-a-secret-1234"
MAX_CHARS = 50

PROMPT = ("Answer from the numbered sources.\n\n"
          "[1] notes/lease.md:3\nThe lease ends on 31 May. It can be extended.\n\n"
          "[2] notes/rent.md:7\nRent is due monthly.\n\n"
          "Question: when does the lease end?")
REPLY = "According to the sources, the lease ends on 31 May [1]. See also [2]."


def start_server(tmp, *args):
    """(process, port) of a server started with --port-file in tmp."""
    port_file = os.path.join(tmp, "port")
    proc = subprocess.Popen([sys.executable, SERVER, "--port-file", port_file, *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 10
    while not os.path.exists(port_file):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError("server did not start: " + proc.communicate()[1].decode())
        time.sleep(0.02)
    with open(port_file) as f:
        return proc, int(f.read())


def stop_server(proc, sig=signal.SIGTERM):
    """(exit status, stdout, stderr) after sending sig."""
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=5)
    return proc.returncode, out, err


def sse_data(raw):
    """(data payloads, number of comment lines) of an SSE body."""
    data, comments = [], 0
    for line in raw.decode().split("\n"):
        if line.startswith(":"):
            comments += 1
        elif line.startswith("data: "):
            data.append(line[len("data: "):])
    return data, comments


def ndjson_lines(raw):
    return [line for line in raw.decode().split("\n") if line]


class ServerTest(unittest.TestCase):
    """One server for the class; each test starts from /_reset."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.proc, cls.port = start_server(cls.tmp.name, "--api-key", KEY,
                                          "--max-input-chars", str(MAX_CHARS))

    @classmethod
    def tearDownClass(cls):
        status, out, err = stop_server(cls.proc)
        cls.tmp.cleanup()
        assert (status, out, err) == (0, b"", b""), (status, out, err)

    def setUp(self):
        self.control("POST", "/_reset")

    # -- helpers

    def connect(self, timeout=5):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def request(self, method, path, body=None, key=KEY, conn=None, headers=None):
        """(status, headers, raw body); body may be an object (sent as JSON) or bytes."""
        own = conn is None
        conn = conn or self.connect()
        headers = dict(headers or {})
        if key is not None:
            headers["Authorization"] = "Bearer " + key
        if body is not None and not isinstance(body, bytes):
            body = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            return response.status, response, response.read()
        finally:
            if own:
                conn.close()

    def post(self, path, body, **kw):
        """(status, response, decoded JSON body)."""
        status, response, raw = self.request("POST", path, body, **kw)
        return status, response, json.loads(raw)

    def control(self, method, path, body=None):
        status, _, raw = self.request(method, path, body, key=None)
        self.assertEqual(status, 200, raw)
        return json.loads(raw)

    def push(self, *steps):
        self.control("POST", "/_control", list(steps))

    def stats(self):
        return self.control("GET", "/_stats")

    def embed(self, texts, model="text-embedding-3-small", **extra):
        status, _, body = self.post("/v1/embeddings", {"model": model, "input": texts, **extra})
        self.assertEqual(status, 200, body)
        return [d["embedding"] for d in sorted(body["data"], key=lambda d: d["index"])]

    def assertOpenAIError(self, body, type_=None, code=None):
        self.assertEqual(set(body), {"error"})
        self.assertEqual(set(body["error"]), {"message", "type", "param", "code"})
        if type_:
            self.assertEqual(body["error"]["type"], type_)
        if code:
            self.assertEqual(body["error"]["code"], code)

    def chat(self, path, stream, **extra):
        body = {"model": "m", "messages": [{"role": "system", "content": "Be brief."},
                                           {"role": "user", "content": PROMPT}],
                "stream": stream, **extra}
        return self.request("POST", path, body)

    # -- embeddings

    def test_float_and_base64_carry_the_same_float32_values(self):
        texts = ["hello world", "the lease ends on 31 May"]
        floats = self.embed(texts)
        encoded = self.embed(texts, encoding_format="base64")
        for vec, b64 in zip(floats, encoded):
            raw = base64.b64decode(b64)
            self.assertEqual(len(raw), 4 * 8)
            self.assertEqual(list(struct.unpack("<8f", raw)), vec)

    def test_vectors_are_deterministic_unit_length_and_sized(self):
        a, b = self.embed(["some text", "other text"])
        self.assertEqual(self.embed("some text"), [a])
        self.assertNotEqual(a, b)
        self.assertNotEqual(self.embed("some text", model="other-model"), [a])
        self.assertAlmostEqual(sum(x * x for x in a), 1.0, places=5)
        self.assertEqual(len(self.embed("x", dimensions=256)[0]), 256)

    def test_response_shape_and_usage(self):
        status, _, body = self.post("/v1/embeddings", {"model": "e", "input": ["a b c", "d"]})
        self.assertEqual(status, 200)
        self.assertEqual(body["object"], "list")
        self.assertEqual(body["model"], "e")
        self.assertEqual([d["object"] for d in body["data"]], ["embedding"] * 2)
        self.assertEqual(body["usage"], {"prompt_tokens": 4, "total_tokens": 4})

    def test_ollama_embed_equals_openai_vectors(self):
        texts = ["hello world", "second text"]
        status, _, body = self.post("/api/embed", {"model": "nomic-embed-text", "input": texts})
        self.assertEqual(status, 200)
        self.assertEqual(body["embeddings"], self.embed(texts, model="nomic-embed-text"))
        for key in ("model", "total_duration", "load_duration", "prompt_eval_count"):
            self.assertIn(key, body)
        _, _, one = self.post("/api/embed", {"model": "nomic-embed-text", "input": "hello world"})
        self.assertEqual(one["embeddings"], body["embeddings"][:1])

    def test_context_length(self):
        long = "word " * 20  # 100 characters > MAX_CHARS
        status, _, body = self.post("/v1/embeddings", {"model": "e", "input": ["ok", long]})
        self.assertEqual(status, 400)
        self.assertOpenAIError(body, "invalid_request_error", "context_length_exceeded")
        self.assertIn("maximum context length", body["error"]["message"])

        status, _, body = self.post("/api/embed", {"model": "e", "input": long, "truncate": False})
        self.assertEqual((status, body), (400, {"error": "the input length exceeds the context length"}))

        truncated = self.embed(long[:MAX_CHARS], model="e")
        for extra in ({}, {"truncate": True}):
            status, _, body = self.post("/api/embed", {"model": "e", "input": long, **extra})
            self.assertEqual(status, 200)
            self.assertEqual(body["embeddings"], truncated)

    def test_bad_requests_get_shaped_errors(self):
        status, _, raw = self.request("POST", "/v1/embeddings", b'{"model": "e", "input": ')
        self.assertEqual(status, 400)
        self.assertOpenAIError(json.loads(raw), "invalid_request_error")
        for bad in ({"model": "e", "input": ""}, {"model": "e", "input": []},
                    {"input": "x"}, {"model": "e", "input": "x", "encoding_format": "int8"}):
            status, _, body = self.post("/v1/embeddings", bad)
            self.assertEqual(status, 400, bad)
            self.assertOpenAIError(body, "invalid_request_error")
        status, _, body = self.post("/api/embed", {"input": "x"})
        self.assertEqual((status, body), (400, {"error": "model is required"}))

    def test_unknown_paths_and_listings(self):
        status, _, body = self.post("/v1/nothing", {})
        self.assertEqual(status, 404)
        self.assertOpenAIError(body, "invalid_request_error")
        status, _, body = self.post("/api/nothing", {})
        self.assertEqual((status, set(body)), (404, {"error"}))
        status, _, raw = self.request("GET", "/v1/models")
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(raw)["object"], "list")
        status, _, raw = self.request("GET", "/api/tags")
        self.assertEqual(status, 200)
        self.assertTrue(json.loads(raw)["models"])

    # -- chat

    def test_openai_chat_reply_cites_the_passages(self):
        status, response, raw = self.chat("/v1/chat/completions", False)
        self.assertEqual(status, 200)
        body = json.loads(raw)
        self.assertEqual(body["object"], "chat.completion")
        choice = body["choices"][0]
        self.assertEqual(choice["message"], {"role": "assistant", "content": REPLY, "refusal": None})
        self.assertEqual(choice["finish_reason"], "stop")
        usage = body["usage"]
        self.assertEqual(usage["completion_tokens"], len(REPLY.split()))
        self.assertEqual(usage["prompt_tokens"], len(PROMPT.split()) + 2)
        self.assertEqual(usage["total_tokens"], usage["prompt_tokens"] + usage["completion_tokens"])

    def test_chat_without_passages_and_with_max_tokens(self):
        body = {"model": "m", "messages": [{"role": "user", "content": "What is the rent?"}]}
        _, _, reply = self.post("/v1/chat/completions", body)
        self.assertEqual(reply["choices"][0]["message"]["content"], "The answer is not in the sources.")
        body = {"model": "m", "messages": [{"role": "user", "content": PROMPT}], "max_tokens": 3}
        _, _, reply = self.post("/v1/chat/completions", body)
        self.assertEqual(reply["choices"][0]["message"]["content"], "According to the")
        self.assertEqual(reply["choices"][0]["finish_reason"], "length")

    def test_openai_stream(self):
        status, response, raw = self.chat("/v1/chat/completions", True,
                                          stream_options={"include_usage": True})
        self.assertEqual(status, 200)
        self.assertEqual(response.getheader("Content-Type"), "text/event-stream")
        self.assertEqual(response.getheader("Transfer-Encoding"), "chunked")
        data, comments = sse_data(raw)
        self.assertEqual(comments, 1)
        self.assertEqual(data[-1], "[DONE]")
        chunks = [json.loads(d) for d in data[:-1]]
        self.assertEqual(chunks[0]["choices"][0]["delta"], {"role": "assistant", "content": ""})
        with_choices = [c for c in chunks if c["choices"]]
        text = "".join(c["choices"][0]["delta"].get("content", "") for c in with_choices)
        self.assertEqual(text, REPLY)
        self.assertGreater(len(with_choices), 5)
        self.assertEqual(with_choices[-1]["choices"][0], {"index": 0, "delta": {}, "logprobs": None,
                                                          "finish_reason": "stop"})
        self.assertEqual(chunks[-1]["choices"], [])
        self.assertEqual(chunks[-1]["usage"]["completion_tokens"], len(REPLY.split()))
        self.assertTrue(all(c["usage"] is None for c in chunks[:-1]))

        _, _, raw = self.chat("/v1/chat/completions", True)
        data, _ = sse_data(raw)
        self.assertEqual(data[-1], "[DONE]")
        self.assertTrue(json.loads(data[-2])["choices"])  # no usage chunk
        self.assertNotIn("usage", json.loads(data[-2]))

    def test_ollama_chat_stream_and_single_object(self):
        status, response, raw = self.chat("/api/chat", True)
        self.assertEqual(status, 200)
        self.assertEqual(response.getheader("Content-Type"), "application/x-ndjson")
        lines = [json.loads(line) for line in ndjson_lines(raw)]
        self.assertTrue(all(not line["done"] for line in lines[:-1]))
        self.assertEqual("".join(line["message"]["content"] for line in lines), REPLY)
        final = lines[-1]
        self.assertEqual((final["done"], final["done_reason"]), (True, "stop"))
        self.assertEqual(final["message"], {"role": "assistant", "content": ""})
        for key in ("total_duration", "load_duration", "prompt_eval_count",
                    "prompt_eval_duration", "eval_count", "eval_duration", "created_at", "model"):
            self.assertIn(key, final)

        _, _, raw = self.chat("/api/chat", False)
        body = json.loads(raw)
        self.assertEqual((body["done"], body["message"]["content"]), (True, REPLY))
        # Ollama streams by default
        _, _, raw = self.request("POST", "/api/chat", {"model": "m", "messages": [
            {"role": "user", "content": "hi"}]})
        self.assertGreater(len(ndjson_lines(raw)), 1)

    # -- auth and stats

    def test_auth(self):
        status, _, _ = self.post("/api/embed", {"model": "e", "input": "x"}, key=None)
        self.assertEqual(status, 200)  # Ollama paths do not check
        for key in (None, "wrong-key"):
            status, _, body = self.post("/v1/embeddings", {"model": "e", "input": "x"}, key=key)
            self.assertEqual(status, 401)
            self.assertOpenAIError(body, "invalid_request_error", "invalid_api_key")
            self.assertNotIn("wrong-key", json.dumps(body))
            self.assertEqual(self.stats()["auth_seen"], key is not None)
        self.assertEqual(len(self.embed("x")), 1)

    def test_stats_count_requests_inputs_and_connections(self):
        conn = self.connect()
        self.embed(["a", "b", "c"])  # its own connection
        self.request("POST", "/v1/embeddings", {"model": "e", "input": "d"}, conn=conn)
        self.request("POST", "/api/embed", {"model": "e", "input": ["e", "f"]}, conn=conn)
        self.chat("/api/chat", False)
        conn.close()
        stats = self.stats()
        self.assertEqual(stats["requests"], 4)
        self.assertEqual(stats["by_path"]["/v1/embeddings"], 2)
        self.assertEqual(stats["by_path"]["/api/embed"], 1)
        self.assertEqual(stats["by_path"]["/api/chat"], 1)
        self.assertEqual(stats["inputs"], 6)
        self.assertEqual(stats["connections"], 3)  # control connections are not counted
        self.assertGreaterEqual(stats["connections_accepted"], 4)

        self.control("POST", "/_reset")
        self.assertEqual(self.stats()["requests"], 0)

    def test_request_log_never_holds_the_key(self):
        self.embed("hello", encoding_format="float")
        records = self.control("GET", "/_requests")
        self.assertEqual(len(records), 1)
        record = records[0]
        self.assertEqual((record["method"], record["path"], record["status"]),
                         ("POST", "/v1/embeddings", 200))
        self.assertEqual(record["body"]["encoding_format"], "float")
        self.assertTrue(record["auth"])
        self.assertNotIn(KEY, json.dumps(records))
        self.assertNotIn(KEY, json.dumps(self.stats()))

    # -- faults

    def test_429_with_retry_after(self):
        date = email.utils.formatdate(time.time() + 2, usegmt=True)
        self.push({"status": 429, "retry_after": "1"},
                  {"status": 429, "retry_after": date, "retry_after_ms": 250})
        status, response, body = self.post("/v1/embeddings", {"model": "e", "input": "x"})
        self.assertEqual((status, response.getheader("Retry-After")), (429, "1"))
        self.assertOpenAIError(body, code="rate_limit_exceeded")
        status, response, _ = self.post("/v1/embeddings", {"model": "e", "input": "x"})
        self.assertEqual(response.getheader("Retry-After"), date)
        self.assertEqual(response.getheader("retry-after-ms"), "250")
        status, _, _ = self.post("/v1/embeddings", {"model": "e", "input": "x"})
        self.assertEqual(status, 200)

    def test_429_quota(self):
        self.push({"status": 429, "quota": True})
        status, response, body = self.post("/v1/embeddings", {"model": "e", "input": "x"})
        self.assertEqual(status, 429)
        self.assertIsNone(response.getheader("Retry-After"))
        self.assertOpenAIError(body, "insufficient_quota", "insufficient_quota")
        self.assertIn("exceeded your current quota", body["error"]["message"])

    def test_error_statuses_in_both_shapes(self):
        self.push({"status": 500}, {"status": 503}, {"status": 408}, {"status": 500, "message": "boom"})
        for expected in (500, 503, 408):
            status, _, body = self.post("/v1/embeddings", {"model": "e", "input": "x"})
            self.assertEqual(status, expected)
            self.assertOpenAIError(body)
        status, _, body = self.post("/api/embed", {"model": "e", "input": "x"})
        self.assertEqual((status, body), (500, {"error": "boom"}))

    def test_count_and_path_select_requests(self):
        self.push({"status": 500, "count": 2, "path": "/api/*"})
        self.assertEqual(len(self.embed("x")), 1)  # /v1 is not matched
        self.assertEqual(self.stats()["faults_pending"], 1)
        for _ in range(2):
            status, _, _ = self.post("/api/embed", {"model": "e", "input": "x"})
            self.assertEqual(status, 500)
        status, _, _ = self.post("/api/embed", {"model": "e", "input": "x"})
        self.assertEqual(status, 200)
        self.assertEqual(self.stats()["faults_pending"], 0)

    def test_delay(self):
        self.push({"delay": 0.3})
        started = time.monotonic()
        self.embed("x")
        self.assertGreaterEqual(time.monotonic() - started, 0.3)

    def test_reply_replaces_the_chat_reply(self):
        self.push({"reply": "Only [3] and [9]."}, {"reply": "Only [3] and [9]."})
        _, _, raw = self.chat("/v1/chat/completions", False)
        self.assertEqual(json.loads(raw)["choices"][0]["message"]["content"], "Only [3] and [9].")
        _, _, raw = self.chat("/api/chat", True)
        text = "".join(json.loads(l)["message"]["content"] for l in ndjson_lines(raw))
        self.assertEqual(text, "Only [3] and [9].")

    def test_frame_delay_spaces_the_frames(self):
        self.push({"frame_delay": 0.1})
        conn = self.connect()
        conn.request("POST", "/api/chat", json.dumps({
            "model": "m", "messages": [{"role": "user", "content": PROMPT}]}))
        response = conn.getresponse()
        started = time.monotonic()
        first = response.readline()
        took_first = time.monotonic() - started
        rest = response.read()
        conn.close()
        self.assertTrue(json.loads(first)["message"]["content"])
        self.assertLess(took_first, 0.1 + 0.09)
        lines = ndjson_lines(first + rest)
        self.assertGreaterEqual(time.monotonic() - started, 0.1 * (len(lines) - 1))

    def test_hang_does_not_block_other_requests(self):
        self.push({"hang": True})
        hung = self.connect(timeout=0.5)
        hung.request("POST", "/v1/embeddings", json.dumps({"model": "e", "input": "x"}),
                     {"Authorization": "Bearer " + KEY})
        time.sleep(0.1)  # let the server take the hang step
        started = time.monotonic()
        self.assertEqual(len(self.embed("y")), 1)
        self.assertLess(time.monotonic() - started, 0.4)
        with self.assertRaises(socket.timeout):
            hung.getresponse()
        hung.close()

    def raw_request(self, path, body):
        """A socket that has sent one POST request."""
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        data = json.dumps(body).encode()
        sock.sendall(b"POST %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                     b"Content-Length: %d\r\n\r\n%s" % (path.encode(), KEY.encode(), len(data), data))
        return sock

    def test_drop_closes_without_a_response(self):
        self.push({"drop": True}, {"drop": "reset"})
        with self.raw_request("/v1/embeddings", {"model": "e", "input": "x"}) as sock:
            self.assertEqual(sock.recv(100), b"")
        with self.raw_request("/v1/embeddings", {"model": "e", "input": "x"}) as sock:
            with self.assertRaises(ConnectionResetError):
                sock.recv(100)
        self.assertEqual(len(self.embed("x")), 1)

    def test_drop_mid_sends_part_of_the_body(self):
        self.push({"drop_mid": True}, {"drop_mid": True})
        conn = self.connect()
        conn.request("POST", "/v1/embeddings", json.dumps({"model": "e", "input": "x"}),
                     {"Authorization": "Bearer " + KEY})
        response = conn.getresponse()
        self.assertEqual(response.status, 200)
        with self.assertRaises(http.client.IncompleteRead):
            response.read()
        conn.close()
        conn = self.connect()
        conn.request("POST", "/api/chat", json.dumps({"model": "m", "messages": [
            {"role": "user", "content": PROMPT}]}))
        response = conn.getresponse()
        with self.assertRaises(http.client.IncompleteRead) as caught:
            response.read()
        conn.close()
        self.assertEqual(len(ndjson_lines(caught.exception.partial)), 2)

    def test_malformed(self):
        self.push({"malformed": True}, {"malformed": True}, {"malformed": True})
        status, _, raw = self.request("POST", "/v1/embeddings", {"model": "e", "input": "x"})
        self.assertEqual(status, 200)
        with self.assertRaises(ValueError):
            json.loads(raw)

        _, _, raw = self.chat("/v1/chat/completions", True)
        data, _ = sse_data(raw)
        bad = []
        for d in data[:-1]:
            try:
                json.loads(d)
            except ValueError:
                bad.append(d)
        self.assertEqual(len(bad), 1)
        self.assertEqual(data[-1], "[DONE]")

        _, _, raw = self.chat("/api/chat", True)
        lines = ndjson_lines(raw)
        bad = []
        for line in lines:
            try:
                json.loads(line)
            except ValueError:
                bad.append(line)
        self.assertEqual(len(bad), 1)
        self.assertTrue(json.loads(lines[-1])["done"])

    def test_stream_error(self):
        self.push({"stream_error": "model crashed"}, {"stream_error": "model crashed"},
                  {"stream_error": "model crashed"})
        _, _, raw = self.chat("/v1/chat/completions", True)
        data, _ = sse_data(raw)
        last = json.loads(data[-1])
        self.assertEqual(last["error"]["message"], "model crashed")
        self.assertEqual(last["error"]["type"], "server_error")
        self.assertGreaterEqual(len(data), 3)
        self.assertNotIn("[DONE]", data)

        status, _, raw = self.chat("/api/chat", True)
        lines = ndjson_lines(raw)
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(lines[-1]), {"error": "model crashed"})
        self.assertEqual(len(lines), 3)

        status, _, raw = self.chat("/api/chat", False)
        self.assertEqual((status, json.loads(raw)), (500, {"error": "model crashed"}))

    def test_huge_sends_exactly_the_bytes(self):
        self.push({"huge": 2_000_000}, {"huge": 100_000})
        status, response, raw = self.request("POST", "/v1/embeddings", {"model": "e", "input": "x"})
        self.assertEqual((status, len(raw)), (200, 2_000_000))
        self.assertEqual(json.loads(raw), {"object": "list", "data": []})
        status, response, raw = self.chat("/v1/chat/completions", True)
        self.assertEqual((status, len(raw)), (200, 100_000))
        self.assertTrue(raw.startswith(b"data: "))

    def test_flood_never_ends(self):
        self.push({"flood": True}, {"flood": True})
        conn = self.connect()
        conn.request("POST", "/v1/chat/completions", json.dumps({
            "model": "m", "stream": True, "messages": [{"role": "user", "content": PROMPT}]}),
            {"Authorization": "Bearer " + KEY})
        response = conn.getresponse()
        self.assertEqual(response.status, 200)
        self.assertIsNone(response.getheader("Content-Length"))
        got = response.read(1_000_000)
        conn.close()
        self.assertEqual(len(got), 1_000_000)
        data, _ = sse_data(got[:got.rindex(b"\n\n") + 2])
        self.assertTrue(json.loads(data[0])["choices"][0]["delta"]["content"].startswith("lorem"))
        conn = self.connect()
        conn.request("POST", "/v1/embeddings", json.dumps({"model": "e", "input": "x"}),
                     {"Authorization": "Bearer " + KEY})
        response = conn.getresponse()
        got = response.read(300_000)
        conn.close()
        self.assertTrue(got.startswith(b'{"object":"list","data":[    '))

    def test_stall_mid_sends_part_then_nothing(self):
        self.push({"stall_mid": True}, {"stall_mid": True})
        conn = self.connect(timeout=0.5)
        conn.request("POST", "/v1/embeddings", json.dumps({"model": "e", "input": "x"}),
                     {"Authorization": "Bearer " + KEY})
        response = conn.getresponse()
        self.assertEqual(response.status, 200)
        with self.assertRaises(socket.timeout):
            response.read()
        conn.close()
        conn = self.connect(timeout=0.5)
        conn.request("POST", "/api/chat", json.dumps({"model": "m", "messages": [
            {"role": "user", "content": PROMPT}]}))
        response = conn.getresponse()
        self.assertEqual(json.loads(response.readline())["done"], False)
        with self.assertRaises(socket.timeout):
            response.read()
        conn.close()

    def test_bad_steps_are_rejected(self):
        for step in ({"stauts": 500}, {"status": 200}, {"hang": True, "drop": True},
                     {"count": 0, "status": 500}, {"retry_after": "1"}, "x"):
            status, _, raw = self.request("POST", "/_control", [step], key=None)
            self.assertEqual(status, 400, step)
        self.assertEqual(self.stats()["faults_pending"], 0)

    # -- ctl.py

    def ctl(self, *args):
        done = subprocess.run([sys.executable, CTL, *args], capture_output=True, timeout=10)
        return done.returncode, done.stdout.decode().strip()

    def test_ctl(self):
        port = str(self.port)
        self.assertEqual(self.ctl(os.path.join(self.tmp.name, "port"), "wait"), (0, port))
        self.assertEqual(self.ctl(port, "push", '[{"status": 503}]'), (0, ""))
        self.assertEqual(self.ctl(port, "stats", "faults_pending"), (0, "1"))
        status, _, _ = self.post("/v1/embeddings", {"model": "e", "input": ["a", "b"]})
        self.assertEqual(status, 503)
        self.assertEqual(self.ctl(port, "stats", "inputs"), (0, "2"))
        self.assertEqual(self.ctl(port, "stats", "by_path./v1/embeddings"), (0, "1"))
        self.assertEqual(self.ctl(port, "stats", "auth_seen"), (0, "true"))
        status, out = self.ctl(port, "stats")
        self.assertEqual(json.loads(out)["requests"], 1)
        status, out = self.ctl(port, "requests")
        self.assertEqual(json.loads(out)["status"], 503)
        self.assertEqual(self.ctl(port, "reset"), (0, ""))
        self.assertEqual(self.ctl(port, "stats", "requests"), (0, "0"))
        self.assertEqual(self.ctl(port, "stats", "nonesuch")[0], 1)
        self.assertEqual(self.ctl(port, "push", '[{"bogus": 1}]')[0], 1)
        self.assertEqual(self.ctl(port, "frobnicate")[0], 2)


class LifecycleTest(unittest.TestCase):

    def test_script_hang_and_clean_exit_on_signals(self):
        for sig in (signal.SIGTERM, signal.SIGINT):
            with tempfile.TemporaryDirectory() as tmp:
                script = os.path.join(tmp, "script.json")
                with open(script, "w") as f:
                    json.dump([{"status": 500}, {"hang": True}], f)
                proc, port = start_server(tmp, "--script", script, "--dim", "4")
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                conn.request("POST", "/api/embed", json.dumps({"model": "e", "input": "x"}))
                self.assertEqual(conn.getresponse().status, 500)
                conn.close()
                hung = socket.create_connection(("127.0.0.1", port))
                hung.sendall(b"GET /api/tags HTTP/1.1\r\nHost: x\r\n\r\n")
                time.sleep(0.1)
                started = time.monotonic()
                status, out, err = stop_server(proc, sig)
                self.assertLess(time.monotonic() - started, 2)
                self.assertEqual((status, out, err), (0, b"", b""))
                hung.close()

    def test_refuses_other_hosts(self):
        done = subprocess.run([sys.executable, SERVER, "--host", "0.0.0.0"],
                              capture_output=True, timeout=10)
        self.assertEqual(done.returncode, 2)
        self.assertIn(b"127.0.0.1", done.stderr)

    def test_bad_script_is_refused(self):
        with tempfile.TemporaryDirectory() as tmp:
            script = os.path.join(tmp, "script.json")
            with open(script, "w") as f:
                f.write('[{"hang": "yes"}]')
            done = subprocess.run([sys.executable, SERVER, "--script", script],
                                  capture_output=True, timeout=10)
            self.assertEqual(done.returncode, 2)


if __name__ == "__main__":
    unittest.main()
