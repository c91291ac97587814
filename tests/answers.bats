#!/usr/bin/env bats
# answers: rag-answer and rag ask with model servers (OpenAI chat
# completions streamed as SSE, Ollama chat as NDJSON), against the fake
# server in tests/fake, whose replies cite the passages of the prompt:
# "According to the sources, <first sentence of [1]> [1]. See also [2]."
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
	# Two hits of one question, on lines 3 and 10 of their documents.
	hit notes/lease.md 3 "The lease ends on 31 May 2027. It renews for a year." >hits
	hit notes/boiler.md 10 "The boiler pressure is 1.5 bar." >>hits
}

# A hit record: hit DOC LINE TEXT [QUERY].
hit() {
	jq -nc --arg doc "$1" --argjson line "$2" --arg text "$3" \
	    --arg q "${4:-when does the lease end}" \
	    '{query: $q, doc: $doc, line: $line, text: $text, chunk: 0}'
}

REPLY="According to the sources, the lease ends on 31 May 2027 [1]. See also [2]."
SOURCES="Sources:
[1] notes/lease.md:3
[2] notes/boiler.md:10"

@test "answers: openai: the streamed reply, then the sources it cites" {
	run -0 --separate-stderr rag-answer --provider openai <hits
	assert_equal "$output" "$REPLY

$SOURCES"
	assert_equal "$stderr" ""
	assert_equal "$(fake stats by_path./v1/chat/completions)" 1
	# The prompt: the system prompt asks for [n] citations (the fake
	# keeps its first 200 characters only); the passages are numbered,
	# with doc:line.
	req=$(fake requests)
	assert_equal "$(jq -r '.body | [.model, .stream, .stream_options.include_usage] | @tsv' <<<"$req")" "gpt-4o-mini	true	true"
	[[ $(jq -r '.body.messages[0].content' <<<"$req") == *"square brackets, such as [1]"* ]]
	assert_equal "$(jq -r '.body.messages[1].content' <<<"$req")" "Sources:

[1] notes/lease.md:3
The lease ends on 31 May 2027. It renews for a year.

[2] notes/boiler.md:10
The boiler pressure is 1.5 bar.

Question: when does the lease end"
}

@test "answers: ollama: the same through NDJSON; --json has citations, model and usage" {
	run -0 --separate-stderr rag-answer --provider ollama <hits
	assert_equal "$output" "$REPLY

$SOURCES"
	assert_equal "$(fake stats by_path./api/chat)" 1
	run -0 --separate-stderr rag-answer --provider ollama --json <hits
	assert_equal "$(jq -r .answer <<<"$output")" "$REPLY"
	assert_equal "$(jq -c .citations <<<"$output")" '[{"n":1,"doc":"notes/lease.md","line":3,"chunk":0},{"n":2,"doc":"notes/boiler.md","line":10,"chunk":0}]'
	assert_equal "$(jq -r .model <<<"$output")" "ollama:llama3.2"
	assert_equal "$(jq -c .usage <<<"$output")" '{"hits":2,"passages":2,"prompt_tokens":86,"completion_tokens":15}'
	# OpenAI's usage comes in its last event.
	run -0 rag-answer --provider openai --json <hits
	assert_equal "$(jq -c .usage <<<"$output")" '{"hits":2,"passages":2,"prompt_tokens":86,"completion_tokens":15}'
	assert_equal "$(jq -r .model <<<"$output")" "openai:gpt-4o-mini"
}

@test "answers: only the citations used are listed, by their numbers" {
	hit notes/c.md 7 "Rent is due on the first." >>hits
	hit notes/d.md 9 "Heating is included." >>hits
	fake push '{"reply":"Rent is due on the first [3], heating included [2, 4]; see [9] and [0]."}'
	run -0 --separate-stderr rag-answer --provider openai <hits
	assert_equal "$output" "Rent is due on the first [3], heating included [2, 4]; see [9] and [0].

Sources:
[2] notes/boiler.md:10
[3] notes/c.md:7
[4] notes/d.md:9"
	fake push '{"reply":"Rent is due on the first [3][4]."}'
	run -0 --separate-stderr rag-answer --provider ollama --json <hits
	assert_equal "$(jq -c '[.citations[] | [.n, .doc]]' <<<"$output")" '[[3,"notes/c.md"],[4,"notes/d.md"]]'
	# Nothing a model says reaches the terminal as a control character.
	fake push '{"reply":"Bold \u001b[3mclaim\u001b[0m [1]."}'
	run -0 --separate-stderr rag-answer --provider openai <hits
	assert_equal "$output" "Bold ?[3mclaim?[0m [1].

Sources:
[1] notes/lease.md:3"
}

@test "answers: tokens are written as they arrive" {
	fake push '{"path":"/api/chat","frame_delay":0.4}'
	rag-answer --provider ollama <hits >out 2>err &
	pid=$!
	# Wait for the first words, then check that the answer is not whole yet.
	for i in $(seq 1 100); do
		[ -s out ] && break
		sleep 0.05
	done
	first=$(cat out)
	[ -n "$first" ]
	[[ $REPLY == "$first"* ]]
	[[ $first != "$REPLY"* ]]
	wait "$pid"
	assert_equal "$(cat out)" "$REPLY

$SOURCES"
	assert_equal "$(cat err)" ""
	echo "first words: '$first'" >&3
}

@test "answers: several questions stream with a Q: line before each" {
	hit notes/boiler.md 10 "The boiler pressure is 1.5 bar." "boiler pressure" >>hits
	run -0 --separate-stderr rag-answer --provider openai <hits
	assert_equal "$output" "Q: when does the lease end
$REPLY

$SOURCES

Q: boiler pressure
According to the sources, the boiler pressure is 1.5 bar [1].

Sources:
[1] notes/boiler.md:10"
}

@test "answers: an error in the middle of the stream is reported, exit 69" {
	fake push '{"path":"/v1/chat/completions","stream_error":"the model crashed"}'
	run -69 --separate-stderr rag-answer --provider openai <hits
	assert_equal "$output" "According to"
	assert_equal "$stderr" "rag-answer: $OPENAI_BASE_URL/chat/completions: the stream broke off: the model crashed"
	fake push '{"path":"/api/chat","stream_error":"out of memory"}'
	run -69 --separate-stderr rag-answer --provider ollama <hits
	assert_equal "$output" "According to"
	assert_equal "$stderr" "rag-answer: $OLLAMA_HOST/api/chat: the stream broke off: out of memory"
	fake push '{"path":"/api/chat","stream_error":"out of memory"}'
	run -69 --separate-stderr rag-answer --provider ollama --json <hits
	assert_equal "$output" ""
}

@test "answers: a broken event, or a stream cut short, is exit 69" {
	fake push '{"malformed":true}'
	run -69 --separate-stderr rag-answer --provider openai <hits
	[[ $stderr == "rag-answer: $OPENAI_BASE_URL/chat/completions: a stream event that is not a JSON object: '"* ]]
	fake push '{"malformed":true}'
	run -69 --separate-stderr rag-answer --provider ollama <hits
	[[ $stderr == "rag-answer: $OLLAMA_HOST/api/chat: a stream line that is not a JSON object: '"* ]]
	fake push '{"drop_mid":true}'
	run -69 --separate-stderr rag-answer --provider openai <hits
	assert_equal "$stderr" "rag-answer: $OPENAI_BASE_URL/chat/completions: response cut short (the stream had started; not retried)"
	assert_equal "$(fake stats by_path./v1/chat/completions)" 2
}

@test "answers: 429 with Retry-After 1, then 200: the answer comes after waiting" {
	fake push '{"status":429,"retry_after":"1"}'
	start=$(date +%s.%N)
	run -0 --separate-stderr rag-answer --provider openai <hits
	took=$(echo "$(date +%s.%N) - $start" | bc)
	assert_equal "$output" "$REPLY

$SOURCES"
	assert_equal "$(fake stats requests)" 2
	[ "$(echo "$took >= 1" | bc)" = 1 ]
	# A hung request is given up after RAG_TIMEOUT and tried again.
	fake push '{"hang":true}'
	RAG_TIMEOUT=1 run -0 rag-answer --provider ollama <hits
	assert_equal "$(fake stats by_path./api/chat)" 2
}

@test "answers: errors before the stream name the URL and the server's message" {
	fake push '{"status":404,"message":"model \"nope\" not found, try pulling it first"}'
	run -69 --separate-stderr rag-answer --provider ollama --model nope <hits
	assert_equal "$stderr" "rag-answer: $OLLAMA_HOST/api/chat: 404: model \"nope\" not found, try pulling it first"
	assert_equal "$output" ""
	fake push '{"status":400,"message":"context too long"}'
	run -65 --separate-stderr rag-answer --provider openai <hits
	assert_equal "$stderr" "rag-answer: $OPENAI_BASE_URL/chat/completions: 400: context too long"
	# With the server down, exit 69 in seconds.
	start_fake
	port=$FAKE_PORT
	teardown
	start=$(date +%s.%N)
	OLLAMA_HOST=127.0.0.1:$port run -69 --separate-stderr rag-answer --provider ollama <hits
	took=$(echo "$(date +%s.%N) - $start" | bc)
	assert_equal "$stderr" "rag-answer: http://127.0.0.1:$port/api/chat: cannot connect: Connection refused (after 3 attempts)"
	[ "$(echo "$took < 5" | bc)" = 1 ]
}

@test "answers: an answer that cites nothing is no answer, exit 3" {
	# An empty passage: the fake says the answer is not in the sources.
	hit notes/e.md 1 "" >empty
	run -3 --separate-stderr rag-answer --provider openai <empty
	assert_equal "$output" "The answer is not in the sources."
	run -3 --separate-stderr rag-answer --provider ollama --json <empty
	assert_equal "$(jq -c '[.answer, .citations]' <<<"$output")" '["The answer is not in the sources.",[]]'
	# No hits at all: no request.
	run -3 --separate-stderr rag-answer --provider openai --question "anything" </dev/null
	assert_equal "$output" "No answer found in the indexed documents."
	assert_equal "$(fake stats requests)" 2
}

@test "answers: --max-context trims the passages; --model, --system and --temperature are sent" {
	long=$(printf 'word%03d ' $(seq 1 100))
	hit notes/long.md 1 "$long" >long
	hit notes/boiler.md 10 "The boiler pressure is 1.5 bar." >>long
	run -0 rag-answer --provider openai --max-context 100 --model m1 \
	    --system "Be terse." --temperature 0.25 <long
	req=$(fake requests)
	assert_equal "$(jq -c '.body | [.model, .temperature, .messages[0].content]' <<<"$req")" '["m1",0.25,"Be terse."]'
	# 100 characters of the first passage, cut at a space, and no other.
	assert_equal "$(jq -r '.body.messages[1].content' <<<"$req")" "Sources:

[1] notes/long.md:1
$(printf 'word%03d ' $(seq 1 12) | sed 's/ $//')…

Question: when does the lease end"
	[[ $output != *"See also"* ]]
	fake reset
	run -0 rag-answer --model ollama:m2 --temperature 0 <hits
	assert_equal "$(fake requests | jq -c '.body | [.model, .options.temperature]')" '["m2",0]'
	run -2 --separate-stderr rag-answer --temperature 3 <hits
	run -2 --separate-stderr rag-answer --max-context 5 <hits
}

@test "answers: settings from the environment and the config file, and rag ask" {
	RAG_ANSWER_PROVIDER=ollama RAG_ANSWER_MODEL=from-env run -0 rag-answer <hits
	assert_equal "$(fake requests | jq -r .body.model)" from-env
	mkdir -p "$XDG_CONFIG_HOME/ragpipe"
	printf 'answer_provider = openai\nanswer_model = from-file\n' >"$XDG_CONFIG_HOME/ragpipe/config"
	fake reset
	run -0 rag-answer <hits
	assert_equal "$(fake requests | jq -r .body.model)" from-file
	# rag ask: a store, a question, a streamed and cited answer.
	rm "$XDG_CONFIG_HOME/ragpipe/config"
	cp -r "$FIXTURES/docs" notes
	rag add -d "$DB" notes
	run -0 --separate-stderr rag ask -d "$DB" -k 2 --provider ollama --model llama3.2 when does the lease end
	assert_equal "${lines[0]:0:26}" "According to the sources, "
	[[ ${lines[1]} == "Sources:" ]]
	[[ ${lines[2]} =~ ^\[1\]\ notes/.*:[0-9]+$ ]]
	assert_equal "$stderr" ""
}

@test "answers: a server that never stops talking is stopped at 1 MiB of answer, exit 69" {
	fake push '{"path":"/v1/chat/completions","flood":true}'
	run -69 --separate-stderr rag-answer --provider openai <hits
	assert_equal "$stderr" "rag-answer: $OPENAI_BASE_URL/chat/completions: the answer is longer than 1048576 bytes; stopped"
	[[ $output == "lorem ipsum dolor sit amet lorem"* ]]
	[ "${#output}" -le 1048576 ]
	fake push '{"path":"/api/chat","flood":true}'
	run -69 --separate-stderr rag-answer --provider ollama --json <hits
	assert_equal "$stderr" "rag-answer: $OLLAMA_HOST/api/chat: the answer is longer than 1048576 bytes; stopped"
	assert_equal "$output" ""
}

@test "answers: a server that sends one endless line is stopped at the line cap, exit 69" {
	fake push '{"path":"/v1/chat/completions","huge":5000000}'
	run -69 --separate-stderr rag-answer --provider openai <hits
	assert_equal "$stderr" "rag-answer: $OPENAI_BASE_URL/chat/completions: event-stream line longer than 1048576 bytes"
	fake push '{"path":"/api/chat","huge":5000000}'
	run -69 --separate-stderr rag-answer --provider ollama <hits
	assert_equal "$stderr" "rag-answer: $OLLAMA_HOST/api/chat: line longer than 1048576 bytes"
}

@test "answers: a stream that stalls and never closes is given up after RAG_TIMEOUT, exit 69" {
	fake push '{"path":"/v1/chat/completions","stall_mid":true}'
	start=$(date +%s.%N)
	RAG_TIMEOUT=1 run -69 --separate-stderr rag-answer --provider openai <hits
	took=$(echo "$(date +%s.%N) - $start" | bc)
	assert_equal "$output" "According to"
	assert_equal "$stderr" "rag-answer: $OPENAI_BASE_URL/chat/completions: no data for 1 s (the stream had started; not retried)"
	[ "$(echo "$took < 5" | bc)" = 1 ]
	assert_equal "$(fake stats by_path./v1/chat/completions)" 1
}
