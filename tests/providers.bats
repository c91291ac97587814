#!/usr/bin/env bats
# providers: rag-embed, rag-index and rag-query with model servers, against
# the fake OpenAI/Ollama server in tests/fake (one for the file, reset
# before each test; tests that need other server options start their own).
bats_require_minimum_version 1.5.0
load helpers

setup_file() {
	python3 "$BATS_TEST_DIRNAME/fake/server.py" \
	    --port-file "$BATS_FILE_TMPDIR/port" 3>&- &
	echo $! >"$BATS_FILE_TMPDIR/pid"
	python3 "$BATS_TEST_DIRNAME/fake/ctl.py" "$BATS_FILE_TMPDIR/port" wait \
	    >/dev/null
}

teardown_file() {
	kill "$(cat "$BATS_FILE_TMPDIR/pid")"
}

setup() {
	common_setup
	use_fake "$(cat "$BATS_FILE_TMPDIR/port")"
	fake reset
}

# Check that the vectors of the records in file $1 are, float32 for
# float32, what the server gives model $2 (with prefix $3 and dimensions
# $4, if given) for their texts, asked for as plain floats.
same_as_server() {
	python3 - "$FAKE_PORT" "$@" <<'EOF'
import base64, json, struct, sys, urllib.request
port, path, model = sys.argv[1:4]
prefix = sys.argv[4] if len(sys.argv) > 4 else ""
dims = int(sys.argv[5]) if len(sys.argv) > 5 else 0
f32 = lambda v: [struct.unpack("<f", struct.pack("<f", x))[0] for x in v]
n = 0
for line in open(path):
    r = json.loads(line)
    if "text" not in r:
        continue
    body = {"model": model, "input": prefix + r["text"], "encoding_format": "float"}
    if dims:
        body["dimensions"] = dims
    req = urllib.request.Request("http://127.0.0.1:%s/v1/embeddings" % port,
                                 json.dumps(body).encode(), {"Content-Type": "application/json"})
    want = json.load(urllib.request.urlopen(req))["data"][0]["embedding"]
    if "embedding_b64" in r:
        raw = base64.b64decode(r["embedding_b64"])
        got = list(struct.unpack("<%df" % (len(raw) // 4), raw))
    else:
        got = r["embedding"]
    if f32(got) != f32(want):
        sys.exit("%s: differs from the server's" % r.get("doc"))
    n += 1
if n == 0:
    sys.exit("no records")
EOF
}

# Ten chunk records, doc d1..d10 (one chunk each).
ten_records() {
	for i in $(seq 1 10); do
		echo "{\"doc\":\"d$i\",\"chunk\":0,\"nchunks\":1,\"text\":\"text number $i about boilers\"}"
	done
}

@test "providers: openai vectors are exactly what the server sent, asked for as base64" {
	rag-ingest "$FIXTURES/docs" >chunks.jsonl
	run -0 --separate-stderr rag-embed --provider openai <chunks.jsonl
	echo "$output" >out.jsonl
	assert_equal "$(jq -r .model out.jsonl | sort -u)" "openai:text-embedding-3-small"
	assert_equal "$(jq -c 'del(.embedding, .model)' out.jsonl)" "$(jq -c . chunks.jsonl)"
	assert_equal "$(fake requests | jq -r '.body.encoding_format')" base64
	assert_equal "$(fake stats by_path./v1/embeddings)" 1
	same_as_server out.jsonl text-embedding-3-small
	# --b64 passes the same floats on.
	run -0 rag-embed --provider openai --b64 <chunks.jsonl
	echo "$output" >b64.jsonl
	same_as_server b64.jsonl text-embedding-3-small
}

@test "providers: ollama vectors are exactly what the server sent" {
	rag-ingest "$FIXTURES/docs" >chunks.jsonl
	run -0 --separate-stderr rag-embed --provider ollama <chunks.jsonl
	echo "$output" >out.jsonl
	assert_equal "$(jq -r .model out.jsonl | sort -u)" "ollama:nomic-embed-text"
	assert_equal "$(fake stats by_path./api/embed)" 1
	assert_equal "$(fake requests | jq -c '.body | [.truncate, .model]')" '[false,"nomic-embed-text"]'
	same_as_server out.jsonl nomic-embed-text
	# A model named with its provider chooses it.
	run -0 rag-embed --model ollama:all-minilm <chunks.jsonl
	assert_equal "$(jq -r .model <<<"$output" | sort -u)" "ollama:all-minilm"
}

@test "providers: batches, requests in flight, and output in input order" {
	ten_records >in
	echo '{"op":"delete","doc":"old"}' >>in
	run -0 --separate-stderr rag-embed --provider openai --batch 3 --jobs 2 -v <in
	assert_equal "$(jq -r .doc <<<"$output" | paste -sd, -)" "$(jq -r .doc in | paste -sd, -)"
	assert_equal "$(fake stats requests)" 4
	assert_equal "$(fake stats inputs)" 10
	assert_equal "$(fake stats connections)" 2
	assert_equal "$(tail -1 <<<"$output")" '{"op":"delete","doc":"old"}'
	[[ $stderr == *"10 records embedded with openai:text-embedding-3-small (0 from the cache, 4 requests), 1 passed through, 0 bad"* ]]
	echo "$output" >out.jsonl
	same_as_server out.jsonl text-embedding-3-small
}

@test "providers: --dimensions is asked of the server and recorded" {
	ten_records >in
	run -0 rag-embed --provider openai --dimensions 16 <in
	echo "$output" >out.jsonl
	assert_equal "$(jq -c '[.dimensions, (.embedding | length)]' out.jsonl | sort -u)" "[16,16]"
	assert_equal "$(fake requests | jq -r .body.dimensions)" 16
	same_as_server out.jsonl text-embedding-3-small "" 16
	rag-index -d "$DB" out.jsonl
	fake reset
	run -0 rag-query -d "$DB" -k 2 "boilers"
	assert_equal "$(fake requests | jq -c '.body | [.dimensions, .input]')" '[16,["boilers"]]'
}

@test "providers: the pipeline stores the server's vectors and queries use them" {
	rag-ingest "$FIXTURES/docs" >chunks.jsonl
	rag-embed --provider ollama <chunks.jsonl >emb.jsonl
	run -0 rag-index -d "$DB" emb.jsonl
	run -0 rag status -d "$DB" --json
	assert_equal "$(jq -r '[.model, .dimensions, .vectors] | @tsv' <<<"$output")" "ollama:nomic-embed-text	8	8"
	fake reset
	# The best vector hit of a chunk's own text is that chunk.
	text=$(jq -rs '[.[] | select(.doc | endswith("lease.md"))][0].text' emb.jsonl)
	run -0 --separate-stderr rag-query -d "$DB" --mode vector -k 1 "$text"
	assert_equal "$(jq -r .doc <<<"$output")" "$FIXTURES/docs/lease.md"
	assert_equal "$(jq -r .scores.vector <<<"$output")" 1
	assert_equal "$(fake stats by_path./api/embed)" 1
	assert_equal "$(fake requests | jq -c .body.input)" "[$(jq -c -n --arg t "$text" '$t')]"
	# BM25 alone asks the server nothing.
	fake reset
	run -0 rag-query -d "$DB" --mode bm25 -k 1 "boiler"
	assert_equal "$(fake stats requests)" 0
}

@test "providers: a second run over unchanged documents sends no request" {
	run -0 rag add -d "$DB" --provider ollama "$FIXTURES/docs"
	first=$(fake stats inputs)
	[ "$first" -gt 0 ]
	fake reset
	run -0 --separate-stderr rag add -v -d "$DB" --provider ollama "$FIXTURES/docs"
	assert_equal "$(fake stats requests)" 0
	# rag-ingest skipped them; with --force they come through, and
	# rag-embed finds every text in the cache.
	run -0 --separate-stderr rag add -v --force -d "$DB" --provider ollama "$FIXTURES/docs"
	assert_equal "$(fake stats requests)" 0
	[[ $stderr == *"embedded with ollama:nomic-embed-text ($first from the cache, 0 requests)"* ]]
	# The same through the pipeline, and with one document changed only
	# that document's text is sent.
	cp -r "$FIXTURES/docs" docs
	rag-ingest docs >chunks.jsonl
	rag-embed -d "$DB" --provider ollama <chunks.jsonl | rag-index -d "$DB"
	fake reset
	echo "One more line about the boiler." >>docs/sub/recipes.txt
	rag-ingest docs >chunks.jsonl
	run -0 --separate-stderr rag-embed -v -d "$DB" --provider ollama <chunks.jsonl
	assert_equal "$(fake stats requests)" 1
	assert_equal "$(fake stats inputs)" "$(jq -r 'select(.doc == "docs/sub/recipes.txt") | .doc' chunks.jsonl | wc -l | tr -d ' ')"
}

@test "providers: the cache keeps vectors byte for byte, and misses another model" {
	ten_records >in
	rag-embed --provider openai <in >a.jsonl
	rag-index -d "$DB" a.jsonl
	fake reset
	run -0 rag-embed -d "$DB" --provider openai <in
	assert_equal "$output" "$(cat a.jsonl)"
	assert_equal "$(fake stats requests)" 0
	run -0 rag-embed -d "$DB" --provider openai --dimensions 16 <in
	assert_equal "$(fake stats inputs)" 10
	fake reset
	run -0 rag-embed -d "$DB" --provider ollama --model text-embedding-3-small <in
	assert_equal "$(fake stats inputs)" 10
	# No store yet: no cache, and no error.
	run -0 rag-embed -d "$T/none.db" --provider openai <in
	[ ! -e "$T/none.db" ]
}

@test "providers: a version 1 store is read as it is, and upgraded by a writer" {
	ten_records >in
	rag-embed --provider openai <in >a.jsonl
	rag-index -d "$DB" a.jsonl
	sqlite3 "$DB" 'DROP TABLE embed_cache; PRAGMA user_version = 1'
	fake reset
	run -0 rag-query -d "$DB" -k 1 "number 3"
	run -0 rag-embed -d "$DB" --provider openai <in
	assert_equal "$(fake stats inputs)" 11
	run -0 rag-index -d "$DB" a.jsonl
	assert_equal "$(sqlite3 "$DB" 'PRAGMA user_version; SELECT count(*) FROM embed_cache')" "3
10"
}

@test "providers: prefixes go before the texts, and the store's query prefix before questions" {
	ten_records >in
	run -0 rag-embed --provider ollama --doc-prefix 'search_document: ' \
	    --query-prefix 'search_query: ' <in
	echo "$output" >out.jsonl
	assert_equal "$(jq -r '[.doc_prefix, .query_prefix] | @tsv' out.jsonl | sort -u)" "search_document: 	search_query: "
	assert_equal "$(fake requests | jq -r '.body.input[0]')" "search_document: text number 1 about boilers"
	same_as_server out.jsonl nomic-embed-text "search_document: "
	rag-index -d "$DB" out.jsonl
	fake reset
	run -0 rag-query -d "$DB" -k 1 "boilers"
	assert_equal "$(fake requests | jq -c .body.input)" '["search_query: boilers"]'
	# Another prefix does not go into the same store.
	rag-embed --provider ollama --doc-prefix 'd: ' <in >other.jsonl
	run -65 --separate-stderr rag-index -d "$DB" other.jsonl
	[[ ${stderr_lines[0]} == *"'doc_prefix' is 'd: ', but the store's vectors were made with 'search_document: '; use the same prefixes, or another store" ]]
}

@test "providers: 429 with Retry-After 1, then 200: the run waits and succeeds" {
	ten_records >in
	fake push '{"status":429,"retry_after":"1"}'
	start=$(date +%s.%N)
	run -0 --separate-stderr rag-embed --provider openai <in
	took=$(echo "$(date +%s.%N) - $start" | bc)
	assert_equal "$(jq -r .doc <<<"$output" | wc -l | tr -d ' ')" 10
	assert_equal "$(fake stats requests)" 2
	assert_equal "$stderr" ""
	[ "$(echo "$took >= 1" | bc)" = 1 ]
	[ "$(echo "$took < 5" | bc)" = 1 ]
	# Ollama's shape too, and a 503 before it.
	fake reset
	fake push '[{"path":"/api/embed","status":503},{"path":"/api/embed","status":429,"retry_after":"1"}]'
	run -0 rag-embed --provider ollama <in
	assert_equal "$(fake stats requests)" 3
}

@test "providers: a server that keeps failing is reported with its message, exit 69" {
	ten_records >in
	fake push '{"status":500,"message":"the GPU is on fire","count":10}'
	run -69 --separate-stderr rag-embed --provider openai --jobs 1 <in
	assert_equal "$output" ""
	assert_equal "${stderr_lines[0]}" "rag-embed: <stdin>:1: $OPENAI_BASE_URL/embeddings: 500: the GPU is on fire (after 5 attempts)"
	assert_equal "${stderr_lines[1]}" "rag-embed: 10 records were not embedded: the model server failed"
	assert_equal "$(fake stats requests)" 5
}

@test "providers: an exhausted quota is not retried" {
	ten_records >in
	fake push '{"status":429,"quota":true}'
	run -69 --separate-stderr rag-embed --provider openai <in
	assert_equal "$(fake stats requests)" 1
	[[ ${stderr_lines[0]} == "rag-embed: <stdin>:1: $OPENAI_BASE_URL/embeddings: 429: You exceeded your current quota"* ]]
}

@test "providers: with the server down: a clear message and exit 69 in seconds" {
	ten_records >in
	# A port nobody listens on: the fake's, once it is stopped.
	start_fake
	port=$FAKE_PORT
	teardown
	export OPENAI_BASE_URL=http://127.0.0.1:$port/v1 OLLAMA_HOST=127.0.0.1:$port
	start=$(date +%s.%N)
	run -69 --separate-stderr rag-embed --provider ollama <in
	took=$(echo "$(date +%s.%N) - $start" | bc)
	assert_equal "$output" ""
	assert_equal "${stderr_lines[0]}" "rag-embed: <stdin>:1: http://127.0.0.1:$port/api/embed: cannot connect: Connection refused (after 3 attempts)"
	[ "$(echo "$took < 5" | bc)" = 1 ]
	echo "server down: rag-embed gave up after $took s" >&3
	# rag-query, on a store of that model, the same.
	use_fake "$(cat "$BATS_FILE_TMPDIR/port")"
	rag-embed --provider openai <in | rag-index -d "$DB"
	export OPENAI_BASE_URL=http://127.0.0.1:$port/v1
	start=$(date +%s.%N)
	run -69 --separate-stderr rag-query -d "$DB" "boilers"
	took=$(echo "$(date +%s.%N) - $start" | bc)
	assert_equal "$stderr" "rag-query: http://127.0.0.1:$port/v1/embeddings: cannot connect: Connection refused (after 3 attempts)"
	[ "$(echo "$took < 5" | bc)" = 1 ]
}

@test "providers: dropped connections and a hung request are retried" {
	ten_records >in
	fake push '[{"drop":true},{"drop":"reset"},{"drop_mid":true}]'
	run -0 --separate-stderr rag-embed --provider openai --batch 5 --jobs 1 <in
	assert_equal "$(jq -r .doc <<<"$output" | wc -l | tr -d ' ')" 10
	assert_equal "$(fake stats faults_pending)" 0
	echo "$output" >out.jsonl
	same_as_server out.jsonl text-embedding-3-small
	fake reset
	fake push '{"hang":true}'
	RAG_TIMEOUT=1 run -0 --separate-stderr rag-embed --provider openai <in
	assert_equal "$(fake stats requests)" 2
}

@test "providers: a reply that is not the vectors asked for is exit 69" {
	ten_records >in
	fake push '{"malformed":true}'
	run -69 --separate-stderr rag-embed --provider openai <in
	assert_equal "${stderr_lines[0]}" "rag-embed: <stdin>:1: $OPENAI_BASE_URL/embeddings: the reply is not a JSON object: '{\"object\": \"list\", \"data\": [{\"object\": \"embedding\", \"embeddi...'"
	fake reset
	# A reply is cut at 1 MiB + 2 MiB a text asked for (10 here).
	fake push '{"huge":300000000}'
	run -69 --separate-stderr rag-embed --provider openai <in
	[[ ${stderr_lines[0]} == *"response larger than 22020096 bytes" ]]
}

@test "providers: a record the server refuses is found, reported with its line and skipped" {
	ten_records >in
	# The batch is refused, then the first text alone (one request at
	# a time, so that it is the first).
	fake push '{"status":400,"message":"bad input","count":2}'
	run -65 --separate-stderr rag-embed --provider openai --jobs 1 <in
	assert_equal "$(jq -r .doc <<<"$output" | paste -sd, -)" "d2,d3,d4,d5,d6,d7,d8,d9,d10"
	assert_equal "$stderr" "rag-embed: <stdin>:1: $OPENAI_BASE_URL/embeddings: 400: bad input"
	assert_equal "$(fake stats requests)" 11
	fake reset
	fake push '{"status":400,"message":"bad input","count":2}'
	run -65 --separate-stderr rag-embed --provider openai --jobs 1 --strict <in
	assert_equal "$output" ""
	[[ $stderr == *"stopping at the first bad record (--strict)" ]]
	# Every text refused alike: the request is at fault, not the records.
	fake reset
	fake push '{"status":400,"message":"This model does not support specifying dimensions.","count":20}'
	run -69 --separate-stderr rag-embed --provider openai --dimensions 16 <in
	assert_equal "$output" ""
	assert_equal "${stderr_lines[0]}" "rag-embed: <stdin>:1: $OPENAI_BASE_URL/embeddings: 400: This model does not support specifying dimensions. (every text, alike)"
	assert_equal "${stderr_lines[1]}" "rag-embed: 10 records were not embedded: the model server failed"
	assert_equal "$(fake stats requests)" 11
	# An empty text is never sent.
	fake reset
	printf '%s\n' '{"doc":"a","text":""}' '{"doc":"b","text":"b"}' >in2
	run -65 --separate-stderr rag-embed --provider openai <in2
	assert_equal "$stderr" "rag-embed: <stdin>:1: 'text' is empty"
	assert_equal "$(fake stats inputs)" 1
}

@test "providers: a text too long is split in halves, and its vector is their weighted mean" {
	start_fake --max-input-chars 100
	long=$(printf 'word%03d ' $(seq 1 40))	# 320 characters
	printf '{"doc":"a","text":"short one"}\n{"doc":"b","text":"%s"}\n' "$long" >in
	for p in openai ollama; do
		fake reset
		run -0 --separate-stderr rag-embed --provider $p <in
		echo "$output" >out.$p
		assert_equal "$(jq -r .doc out.$p | paste -sd, -)" "a,b"
		assert_equal "$stderr" ""
		# The batch; each alone; b's halves together, then each
		# alone; the quarters together.
		assert_equal "$(fake stats requests)" 7
	done
	python3 - "$FAKE_PORT" out.openai "$long" <<'EOF'
import json, math, struct, sys, urllib.request
port, path, text = sys.argv[1], sys.argv[2], sys.argv[3]
def server(t):
    body = json.dumps({"model": "text-embedding-3-small", "input": t}).encode()
    req = urllib.request.Request("http://127.0.0.1:%s/v1/embeddings" % port, body,
                                 {"Content-Type": "application/json"})
    return json.load(urllib.request.urlopen(req))["data"][0]["embedding"]
def cut(s):
    mid = len(s) // 2
    for d in range(len(s) // 4 + 1):
        for k in (mid + d, mid - d):
            if 0 < k < len(s) and s[k] == " ":
                return k
    return mid
def pieces(s, depth):
    if len(s) <= 100:
        return [s]
    k = cut(s)
    return pieces(s[:k], depth + 1) + pieces(s[k:], depth + 1)
ps = pieces(text, 0)
assert len(ps) == 4, ps
acc = [0.0] * 8
for p in ps:
    v = server(p)
    norm = math.sqrt(sum(x * x for x in v))
    for i, x in enumerate(v):
        acc[i] += len(p) * x / norm
norm = math.sqrt(sum(x * x for x in acc))
want = [x / norm for x in acc]
got = [json.loads(l) for l in open(path)][1]["embedding"]
assert max(abs(a - b) for a, b in zip(got, want)) < 1e-6, (got, want)
EOF
	# A text still too long in 64 pieces is reported and skipped.
	printf '{"doc":"c","text":"%s"}\n' "$(head -c 20000 /dev/zero | tr '\0' x)" >>in
	run -65 --separate-stderr rag-embed --provider ollama <in
	assert_equal "$(jq -r .doc <<<"$output" | paste -sd, -)" "a,b"
	[[ $stderr == "rag-embed: <stdin>:3: too long for the model, even in 64 pieces: the input length exceeds the context length" ]]
}

@test "providers: the API key is sent, never shown, and a wrong one is exit 69" {
	start_fake --api-key sk-test-0123456789abcdef
	ten_records >in
	OPENAI_API_KEY=sk-test-0123456789abcdef run -0 rag-embed --provider openai <in
	assert_equal "$(fake stats auth_seen)" true
	OPENAI_API_KEY=sk-wrong-0123456789abcdef run -69 --separate-stderr rag-embed --provider openai <in
	[[ ${stderr_lines[0]} == "rag-embed: <stdin>:1: $OPENAI_BASE_URL/embeddings: 401: Incorrect API key provided"* ]]
	[[ $stderr != *"0123456789abcdef"* ]]
	run -69 --separate-stderr rag-embed --provider openai <in
	[[ ${stderr_lines[0]} == *": 401: You didn't provide an API key"* ]]
	# Ollama needs none, and gets none.
	fake reset
	OPENAI_API_KEY=sk-test-0123456789abcdef run -0 rag-embed --provider ollama <in
	assert_equal "$(fake stats auth_seen)" false
}

@test "providers: settings come from flags, then variables, then the config file" {
	ten_records >in
	mkdir -p "$XDG_CONFIG_HOME/ragpipe"
	printf '%s\n' '# semantic vectors' 'embed_provider = ollama' 'embed_model = "from-file"' \
	    >"$XDG_CONFIG_HOME/ragpipe/config"
	run -0 rag-embed <in
	assert_equal "$(jq -r .model <<<"$output" | sort -u)" "ollama:from-file"
	RAG_EMBED_MODEL=from-env run -0 rag-embed <in
	assert_equal "$(jq -r .model <<<"$output" | sort -u)" "ollama:from-env"
	RAG_EMBED_MODEL=from-env run -0 rag-embed --model from-flag --provider openai <in
	assert_equal "$(jq -r .model <<<"$output" | sort -u)" "openai:from-flag"
	run -0 rag config --json
	assert_equal "$(jq -r '.embed_provider.from, .embed_model.value, .db.from' <<<"$output")" "$XDG_CONFIG_HOME/ragpipe/config:2
from-file
default"
	echo 'embed_provider' >>"$XDG_CONFIG_HOME/ragpipe/config"
	run -2 --separate-stderr rag-embed <in
	assert_equal "$stderr" "rag-embed: $XDG_CONFIG_HOME/ragpipe/config:4: no '=' (key = value expected)"
	echo 'embed_provider = frob' >"$XDG_CONFIG_HOME/ragpipe/config"
	run -2 --separate-stderr rag-embed <in
	assert_equal "$stderr" "rag-embed: $XDG_CONFIG_HOME/ragpipe/config:1: 'frob' is not an embedding provider (local, openai, ollama)"
	printf 'ollama_host = ftp://x\nembed_provider = ollama\n' >"$XDG_CONFIG_HOME/ragpipe/config"
	OLLAMA_HOST= run -2 --separate-stderr rag-embed <in
	assert_equal "$stderr" "rag-embed: $XDG_CONFIG_HOME/ragpipe/config:1: ollama_host 'ftp://x' is not an http or https URL"
}

@test "providers: a config file with a key that others may read is not used" {
	start_fake --api-key sk-file-0123456789abcdef
	ten_records >in
	mkdir -p "$XDG_CONFIG_HOME/ragpipe"
	cf=$XDG_CONFIG_HOME/ragpipe/config
	printf 'embed_provider = openai\nopenai_api_key = sk-file-0123456789abcdef\n' >"$cf"
	chmod 644 "$cf"
	run -69 --separate-stderr rag-embed --model openai:x <in
	assert_equal "${stderr_lines[0]}" "rag-embed: $cf: holds an API key but others may read or change it (mode 0644); not used: chmod 600 $cf"
	chmod 600 "$cf"
	run -0 --separate-stderr rag-embed <in
	assert_equal "$stderr" ""
	run -0 rag config
	[[ $output == *"openai_api_key   sk-"$'\xe2\x80\xa6'"(24 chars)"*"$cf:2"* ]]
	[[ $output != *"0123456789abcdef"* ]]
	run -0 rag config --json
	[[ $output != *"0123456789abcdef"* ]]
}

@test "providers: a server whose vectors do not fit the store is exit 69; no password is shown" {
	ten_records >in
	rag-embed --provider ollama <in | rag-index -d "$DB"
	start_fake --dim 16
	OLLAMA_HOST=http://ann:pw0123456789@127.0.0.1:$FAKE_PORT run -69 --separate-stderr rag-query -d "$DB" "boilers"
	assert_equal "$stderr" "rag-query: http://127.0.0.1:$FAKE_PORT/api/embed: the server's ollama:nomic-embed-text gives 16 dimensions, but the store's vectors have 8"
	OPENAI_BASE_URL=http://ann:pw0123456789@127.0.0.1:1/v1 run -69 --separate-stderr rag-embed --provider openai <in
	assert_equal "${stderr_lines[0]}" "rag-embed: <stdin>:1: http://127.0.0.1:1/v1/embeddings: cannot connect: Connection refused (after 3 attempts)"
}

@test "providers: the config file's db is the default store of every program" {
	mkdir -p "$XDG_CONFIG_HOME/ragpipe"
	echo 'db = ~/stores/kb.db' >"$XDG_CONFIG_HOME/ragpipe/config"
	run -0 rag add --provider ollama "$FIXTURES/docs"
	[ -f "$HOME/stores/kb.db" ]
	[ ! -e "$XDG_DATA_HOME/ragpipe/store.db" ]
	run -0 rag status --json
	assert_equal "$(jq -r '[.db, .documents] | @tsv' <<<"$output")" "$HOME/stores/kb.db	5"
	run -0 rag-query -k 1 --mode bm25 boiler
	assert_equal "$(jq -r .doc <<<"$output")" "$FIXTURES/docs/boiler.html"
	# rag add gave rag-embed the store: a second run asks for nothing.
	fake reset
	run -0 rag add --provider ollama "$FIXTURES/docs"
	assert_equal "$(fake stats requests)" 0
	RAG_DB=$T/other.db run -0 rag-index </dev/null
	[ -f "$T/other.db" ]
}

@test "providers: a reply that never ends is cut at its cap, not buffered past it, exit 69" {
	ten_records >in
	# Two texts a request: 1 MiB + 2 MiB a text.
	fake push '{"path":"/v1/embeddings","flood":true}'
	run -69 --separate-stderr python3 "$BATS_TEST_DIRNAME/lib/maxrss" "$T/rss" \
	    rag-embed --provider openai --batch 2 --jobs 1 <in
	assert_equal "${stderr_lines[0]}" "rag-embed: <stdin>:1: $OPENAI_BASE_URL/embeddings: response larger than 5242880 bytes"
	# What is held is the reply up to the cap, and no more.
	[ "$(cat "$T/rss")" -lt $((100 << 10)) ]
}

@test "providers: a reply that stalls half-way and never closes is given up after RAG_TIMEOUT and retried" {
	ten_records >in
	fake push '{"path":"/v1/embeddings","stall_mid":true}'
	start=$(date +%s.%N)
	RAG_TIMEOUT=1 run -0 --separate-stderr rag-embed --provider openai <in
	took=$(echo "$(date +%s.%N) - $start" | bc)
	assert_equal "$(jq -r .doc <<<"$output" | wc -l | tr -d ' ')" 10
	assert_equal "$(fake stats requests)" 2
	[ "$(echo "$took < 4" | bc)" = 1 ]
}
