#!/usr/bin/env bats
# rag-embed: the built-in embedder over chunk records.
bats_require_minimum_version 1.5.0
load helpers

# The cosine of the embeddings of records $1 and $2 (1-based) in $output.
cosine() {
	python3 -c '
import json, sys
recs = [json.loads(l) for l in sys.stdin]
a, b = recs[int(sys.argv[1]) - 1]["embedding"], recs[int(sys.argv[2]) - 1]["embedding"]
print(round(sum(x * y for x, y in zip(a, b)), 4))' "$1" "$2" <<<"$output"
}

@test "rag-embed: records with text get an embedding and the model's name" {
	rag-ingest "$FIXTURES/docs/lease.md" >chunks.jsonl
	run -0 --separate-stderr rag-embed <chunks.jsonl
	assert_equal "${#lines[@]}" "$(wc -l <chunks.jsonl | tr -d ' ')"
	assert_equal "$(jq -r '.model' <<<"$output" | sort -u)" "local:hash-v1-1024"
	assert_equal "$(jq -r '.embedding | length' <<<"$output" | sort -u)" 1024
	# Unit length, and every other field kept.
	assert_equal "$(jq -r '[.embedding[] | . * .] | add | . * 1000 | round' <<<"$output" | sort -u)" 1000
	assert_equal "$(jq -c 'del(.embedding, .model)' <<<"$output")" "$(jq -c . chunks.jsonl)"
}

@test "rag-embed: records without text pass through byte for byte" {
	printf '%s\n' '{"op":"delete","doc":"a.md"}' '{"doc":"b","n":1.50,"x":[1,2]}' >in
	run -0 rag-embed <in
	assert_equal "$output" "$(cat in)"
}

@test "rag-embed: the same text gives the same vector, whatever the threads and batches" {
	for i in $(seq 1 40); do echo "{\"doc\":\"d$i\",\"text\":\"text number $i about boilers and leases\"}"; done >in
	run -0 rag-embed --jobs 1 --batch 7 <in
	one=$output
	run -0 rag-embed --jobs 2 --batch 1000 <in
	assert_equal "$output" "$one"
	assert_equal "$(jq -r .doc <<<"$output" | paste -sd, -)" "$(jq -r .doc in | paste -sd, -)"
}

@test "rag-embed: --b64 carries exactly the float32 values of the JSON array" {
	echo '{"doc":"a","text":"The boiler needs a service every twelve months."}' >in
	rag-embed <in >json.jsonl
	run -0 rag-embed --b64 <in
	assert_equal "$(jq 'has("embedding")' <<<"$output")" false
	python3 -c '
import base64, json, struct, sys
a = json.load(open("json.jsonl"))["embedding"]
b = json.loads(sys.argv[1])["embedding_b64"]
v = struct.unpack("<%df" % (len(base64.b64decode(b)) // 4), base64.b64decode(b))
f = [struct.unpack("<f", struct.pack("<f", x))[0] for x in a]
sys.exit(0 if list(v) == f else 1)' "$output"
}

@test "rag-embed: similar texts are closer than unrelated ones, and typos are tolerated" {
	printf '%s\n' '{"doc":"1","text":"The boiler pressure should stay between 1 and 1.5 bar."}' \
	    '{"doc":"2","text":"Keep the pressure of the boiler between one and 1.5 bar."}' \
	    '{"doc":"3","text":"Knead the dough for ten minutes and let it rise."}' \
	    '{"doc":"4","text":"boilr presure"}' >in
	run -0 rag-embed <in
	close=$(cosine 1 2) far=$(cosine 1 3) typo=$(cosine 1 4) typo_far=$(cosine 3 4)
	python3 -c "import sys; sys.exit(0 if $close > 3 * $far and $typo > 2 * $typo_far else 1)"
}

@test "rag-embed: --dimensions and --model choose the size" {
	echo '{"doc":"a","text":"some words"}' >in
	run -0 rag-embed --dimensions 384 <in
	assert_equal "$(jq -r '[.model, (.embedding | length)] | @tsv' <<<"$output")" "local:hash-v1-384	384"
	run -0 rag-embed --model local:hash-v1-64 <in
	assert_equal "$(jq -r '.embedding | length' <<<"$output")" 64
	run -2 --separate-stderr rag-embed --model local:hash-v9-64 <in
	[[ $stderr == "rag-embed: --model: 'local:hash-v9-64' is not a local model"* ]]
	run -2 --separate-stderr rag-embed --provider frob <in
	[[ $stderr == "rag-embed: --provider: 'frob' is not an embedding provider (local, openai, ollama)" ]]
	run -2 --separate-stderr rag-embed --dimensions 4 <in
}

@test "rag-embed: a bad line is reported with its number and skipped" {
	printf '%s\n' '{"doc":"a","text":"x"}' '{"doc":' '{"doc":"b","text":7}' '{"doc":"c","text":"y"}' >in
	run -65 --separate-stderr rag-embed <in
	assert_equal "$(jq -r .doc <<<"$output" | paste -sd, -)" "a,c"
	assert_equal "${stderr_lines[0]}" "rag-embed: <stdin>:2: not valid JSON"
	assert_equal "${stderr_lines[1]}" "rag-embed: <stdin>:3: 'text' is not a string"
	run -65 --separate-stderr rag-embed --strict <in
	assert_equal "$(jq -r .doc <<<"$output" | paste -sd, -)" "a"
}

@test "rag-embed: an existing embedding is replaced, not duplicated" {
	echo '{"doc":"a","text":"x y z","embedding":[1,2],"model":"other:m"}' >in
	run -0 rag-embed <in
	assert_equal "$(jq -c '[.model, (.embedding | length), (keys | length)]' <<<"$output")" '["local:hash-v1-1024",1024,4]'
}

@test "rag-embed: | head -1 ends quietly; /dev/full is exit 74" {
	for i in $(seq 1 600); do echo "{\"doc\":\"d$i\",\"text\":\"words $i\"}"; done >in
	run -0 --separate-stderr bash -c "rag-embed <in | head -1"
	assert_equal "$stderr" ""
	run -74 --separate-stderr bash -c "rag-embed <in >/dev/full"
	assert_equal "$stderr" "rag-embed: <stdout>: write error: No space left on device"
}
