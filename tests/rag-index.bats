#!/usr/bin/env bats
# rag-index: writing records and deletions into the store.
bats_require_minimum_version 1.5.0
load helpers

@test "rag-index: indexes chunk records; rag status counts them" {
	rag-ingest "$FIXTURES/docs" >chunks.jsonl
	run -0 --separate-stderr rag-index -d "$DB" <chunks.jsonl
	assert_equal "$output" ""
	assert_equal "$stderr" ""
	run -0 rag status -d "$DB" --json
	assert_equal "$(jq -r .documents <<<"$output")" 5
	assert_equal "$(jq -r .chunks <<<"$output")" "$(wc -l <chunks.jsonl | tr -d ' ')"
	assert_equal "$(jq -r .schema_version <<<"$output")" 3
	assert_equal "$(jq -r '.bytes > 1000' <<<"$output")" true
}

@test "rag-index: a malformed line is reported with its number; the rest is indexed" {
	printf '%s\n' '{"doc":"a","text":"apple pie"}' '{"doc":' '{"doc":"b","text":"banana bread"}' >in
	run -65 --separate-stderr rag-index -d "$DB" <in
	assert_equal "$stderr" "rag-index: <stdin>:2: not valid JSON"
	run -0 rag-query -d "$DB" banana
	assert_equal "$(jq -r .doc <<<"$output")" b
	run -0 rag-query -d "$DB" apple
	assert_equal "$(jq -r .doc <<<"$output")" a
}

@test "rag-index: records in a named file are reported as file:line" {
	printf '%s\n' '{"doc":"a","text":"x"}' '{"doc":"b"}' >recs.jsonl
	run -65 --separate-stderr rag-index -d "$DB" recs.jsonl
	assert_equal "$stderr" "rag-index: recs.jsonl:2: record has no 'text'"
}

@test "rag-index: indexing the same input twice leaves the same store" {
	rag-ingest "$FIXTURES/docs" >chunks.jsonl
	rag-index -d "$DB" <chunks.jsonl
	one=$(rag status -d "$DB" --json | jq -c '[.documents, .chunks, .bytes]')
	q1=$(rag-query -d "$DB" -k 20 "rent lease boiler bread" | jq -c '[.doc, .chunk, .text]')
	rag-index -d "$DB" <chunks.jsonl
	two=$(rag status -d "$DB" --json | jq -c '[.documents, .chunks, .bytes]')
	q2=$(rag-query -d "$DB" -k 20 "rent lease boiler bread" | jq -c '[.doc, .chunk, .text]')
	assert_equal "$one" "$two"
	assert_equal "$q1" "$q2"
	assert_equal "$(sqlite3 "$DB" 'SELECT count(*) FROM chunks')" "$(wc -l <chunks.jsonl | tr -d ' ')"
}

@test "rag-index: a new version of a document replaces all its chunks" {
	printf '%s\n' '{"doc":"a","chunk":0,"nchunks":2,"text":"old alpha"}' \
	    '{"doc":"a","chunk":1,"nchunks":2,"text":"old beta"}' | rag-index -d "$DB"
	echo '{"doc":"a","chunk":0,"nchunks":1,"text":"new gamma"}' | rag-index -d "$DB"
	run -0 rag-query -d "$DB" "alpha beta"
	assert_equal "$output" ""
	run -0 rag-query -d "$DB" gamma
	assert_equal "$(jq -r .text <<<"$output")" "new gamma"
	assert_equal "$(sqlite3 "$DB" 'SELECT count(*) FROM chunks')" 1
}

@test "rag-index: {\"op\":\"delete\"} removes a document and its index entries" {
	rag-ingest "$FIXTURES/docs" | rag-index -d "$DB"
	doc=$(rag-query -d "$DB" boiler | jq -r .doc | head -1)
	printf '{"op":"delete","doc":"%s"}\n{"op":"delete","doc":"never/there"}\n' "$doc" >del
	run -0 --separate-stderr rag-index -d "$DB" --json <del
	assert_equal "$(jq -c '[.deleted, .not_found, .bad]' <<<"$output")" "[1,1,0]"
	run -0 rag-query -d "$DB" boiler pressure
	[[ $output != *boiler.html* ]]
	assert_equal "$(rag status -d "$DB" --json | jq .documents)" 4
}

@test "rag-index: an incomplete document is refused, the others indexed" {
	printf '%s\n' '{"doc":"a","chunk":0,"nchunks":3,"text":"one"}' \
	    '{"doc":"a","chunk":1,"nchunks":3,"text":"two"}' \
	    '{"doc":"b","chunk":0,"nchunks":1,"text":"three"}' >in
	run -65 --separate-stderr rag-index -d "$DB" <in
	assert_equal "$stderr" "rag-index: <stdin>:1: document 'a' is incomplete: 2 of 3 chunks arrived; not indexed"
	assert_equal "$(sqlite3 "$DB" 'SELECT group_concat(path) FROM docs')" b
}

@test "rag-index: interleaved documents with nchunks are gathered" {
	printf '%s\n' '{"doc":"a","chunk":0,"nchunks":2,"text":"one"}' \
	    '{"doc":"b","chunk":0,"nchunks":1,"text":"two"}' \
	    '{"doc":"a","chunk":1,"nchunks":2,"text":"three"}' >in
	run -0 rag-index -d "$DB" <in
	assert_equal "$(sqlite3 "$DB" 'SELECT group_concat(nchunks) FROM (SELECT nchunks FROM docs ORDER BY path)')" "2,1"
}

@test "rag-index: --json prints a summary on stdout" {
	rag-ingest "$FIXTURES/docs" >chunks.jsonl
	run -0 --separate-stderr rag-index -d "$DB" --json <chunks.jsonl
	assert_equal "$(jq -c '[.documents, .deleted, .bad]' <<<"$output")" "[5,0,0]"
	assert_equal "$(jq -r .chunks <<<"$output")" "$(wc -l <chunks.jsonl | tr -d ' ')"
}

@test "rag-index: -v prints the summary on stderr" {
	run -0 --separate-stderr rag-index -v -d "$DB" <<<'{"doc":"a","text":"x"}'
	[[ $stderr == "rag-index: $DB: indexed 1 documents (1 chunks), deleted 0, not found 0, touched 0, bad records 0, "*" s" ]]
}

@test "rag-index: a touch record gives a document new file times, nothing else" {
	printf '%s\n' '{"doc":"a","text":"alpha","mtime":100,"size":5}' >in
	rag-index -d "$DB" <in
	before=$(sqlite3 "$DB" "SELECT value FROM meta WHERE key = 'vec_gen'")
	printf '%s\n' '{"op":"touch","doc":"a","mtime":200,"size":6}' \
	    '{"op":"touch","doc":"gone","mtime":1,"size":1}' \
	    '{"op":"touch","doc":"a","mtime":"soon","size":6}' \
	    '{"op":"touch","doc":"a","mtime":300}' >touch
	run -65 --separate-stderr rag-index -d "$DB" --json <touch
	assert_equal "${stderr_lines[0]}" "rag-index: <stdin>:3: 'mtime' is not a whole number"
	assert_equal "${stderr_lines[1]}" "rag-index: <stdin>:4: 'size' is not a whole number"
	assert_equal "$(jq -c '[.documents, .touched, .bad]' <<<"$output")" "[0,1,2]"
	assert_equal "$(sqlite3 "$DB" "SELECT path, mtime, size, nchunks FROM docs")" "a|200|6|1"
	assert_equal "$(sqlite3 "$DB" "SELECT value FROM meta WHERE key = 'vec_gen'")" "$before"
	run -0 rag-query -d "$DB" alpha
	assert_equal "$(jq -r .doc <<<"$output")" a
}

@test "rag-index: --strict stops at the first bad record and commits nothing of the batch" {
	printf '%s\n' '{"doc":"a","text":"x"}' '{"nodoc":1}' '{"doc":"b","text":"y"}' >in
	run -65 --separate-stderr rag-index --strict -d "$DB" <in
	[[ ${stderr_lines[0]} == "rag-index: <stdin>:2: record has no 'doc'" ]]
	assert_equal "$(sqlite3 "$DB" 'SELECT count(*) FROM docs')" 0
}

@test "rag-index: a document found bad as it is written is left out alone, its old version kept" {
	# The store finds chunk 0 twice only once it writes the document,
	# after the old version's chunks are gone: the batch is written
	# again so that only this document is left out.
	echo '{"doc":"a","text":"old apple"}' | rag-embed --dimensions 32 | rag-index -d "$DB"
	printf '%s\n' '{"doc":"b","text":"banana bread"}' \
	    '{"doc":"a","chunk":0,"nchunks":2,"text":"new apricot"}' \
	    '{"doc":"a","chunk":0,"nchunks":2,"text":"new avocado"}' \
	    '{"doc":"c","text":"cherry cake"}' | rag-embed --dimensions 32 >in
	run -65 --separate-stderr rag-index -d "$DB" <in
	assert_equal "$stderr" "rag-index: <stdin>:2: document 'a': chunk 0 appears twice"
	run -0 rag-query -d "$DB" -k 9 "apple apricot avocado banana cherry"
	assert_equal "$(jq -r '[.doc, .text] | join(": ")' <<<"$output" | sort | paste -sd,)" "a: old apple,b: banana bread,c: cherry cake"
	run -0 rag status -d "$DB" --check --json
	assert_equal "$(jq -c '[.documents, .chunks, .vectors, .problems]' <<<"$output")" '[3,3,3,[]]'
}

@test "rag-index: unknown ops and wrong types are bad records" {
	printf '%s\n' '{"op":"frob","doc":"a"}' '{"doc":"a","text":5}' '{"doc":"a","text":"ok","nchunks":-1}' >in
	run -65 --separate-stderr rag-index -d "$DB" <in
	assert_equal "${stderr_lines[0]}" "rag-index: <stdin>:1: unknown op 'frob'"
	assert_equal "${stderr_lines[1]}" "rag-index: <stdin>:2: 'text' is not a string"
	assert_equal "${stderr_lines[2]}" "rag-index: <stdin>:3: 'nchunks' is not a whole number"
}

@test "rag-index: the store defaults to RAG_DB, then XDG_DATA_HOME" {
	RAG_DB=$T/env.db run -0 rag-index <<<'{"doc":"a","text":"x"}'
	[ -f "$T/env.db" ]
	run -0 rag-index <<<'{"doc":"a","text":"x"}'
	[ -f "$XDG_DATA_HOME/ragpipe/store.db" ]
}

@test "rag-index: a file that is not a store is refused and left alone" {
	echo "precious notes, not a database at all, and long enough....." >notes.db
	cp notes.db before
	run -65 --separate-stderr rag-index -d notes.db <<<'{"doc":"a","text":"x"}'
	[[ $stderr == "rag-index: notes.db: "*"not a database"* ]]
	cmp notes.db before
	sqlite3 other.db 'CREATE TABLE t(x)'
	run -65 --separate-stderr rag-index -d other.db <<<'{"doc":"a","text":"x"}'
	assert_equal "$stderr" "rag-index: other.db: not a ragpipe store"
}

@test "rag-index: a store in a missing directory is an I/O error" {
	run -74 --separate-stderr rag-index -d "$T/no/such/dir/kb.db" <<<'{"doc":"a","text":"x"}'
	[[ $stderr == "rag-index: $T/no/such/dir/kb.db: "* ]]
}

@test "rag-index: embeddings are stored; the store records its model" {
	rag-ingest "$FIXTURES/docs" | rag-embed --dimensions 64 >emb.jsonl
	run -0 rag-index -d "$DB" <emb.jsonl
	run -0 rag status -d "$DB" --json
	assert_equal "$(jq -c '[.model, .dimensions, .vectors == .chunks, .vectors_fresh]' <<<"$output")" '["local:hash-v1-64",64,true,true]'
	[ -f "$DB-vec" ]
}

@test "rag-index: records of another model or dimension are refused, never mixed" {
	echo '{"doc":"a","text":"alpha"}' | rag-embed --dimensions 64 | rag-index -d "$DB"
	echo '{"doc":"b","text":"beta"}' | rag-embed --dimensions 32 >b32
	run -65 --separate-stderr rag-index -d "$DB" <b32
	assert_equal "$stderr" "rag-index: <stdin>:1: document 'b': 'model' is local:hash-v1-32 with 32 dimensions, but the store holds local:hash-v1-64 with 64; use another store for another model"
	run -65 --separate-stderr rag-index -d "$DB" <<<'{"doc":"c","text":"gamma"}'
	assert_equal "$stderr" "rag-index: <stdin>:1: document 'c': record has no embedding, but the store holds local:hash-v1-64 vectors (put rag-embed in the pipeline)"
	assert_equal "$(sqlite3 "$DB" 'SELECT count(*) FROM chunks')" 1
	# The other way round: a store of plain chunks takes no embeddings.
	echo '{"doc":"a","text":"alpha"}' | rag-index -d plain.db
	run -65 --separate-stderr rag-index -d plain.db <b32
	[[ $stderr == *"record has an embedding, but the store holds 1 chunks without one"* ]]
	# Deletions and empty documents need no embedding.
	run -0 rag-index -d "$DB" <<<'{"op":"delete","doc":"a"}'
}

@test "rag-index: embedding_b64 is accepted; bad embeddings are bad records" {
	echo '{"doc":"a","text":"alpha"}' | rag-embed --b64 --dimensions 16 >a.jsonl
	printf '%s\n' '{"doc":"b","text":"x","embedding":[1,"two"],"model":"m"}' \
	    '{"doc":"c","text":"x","embedding":[1,2]}' \
	    '{"doc":"d","text":"x","embedding_b64":"@@@@","model":"m"}' >bad.jsonl
	run -0 rag-index -d "$DB" <a.jsonl
	run -65 --separate-stderr rag-index -d "$DB" <bad.jsonl
	assert_equal "${stderr_lines[0]}" "rag-index: <stdin>:1: document 'b': chunk 0: 'embedding' value 2 is not a finite number"
	assert_equal "${stderr_lines[1]}" "rag-index: <stdin>:2: document 'c': chunk 0: an embedding without a 'model'"
	assert_equal "${stderr_lines[2]}" "rag-index: <stdin>:3: document 'd': chunk 0: embedding is not valid base64"
	assert_equal "$(sqlite3 "$DB" 'SELECT count(*) FROM vectors')" 1
}

@test "rag-index: a store is created whole, and a killed creator's leftovers are swept" {
	# What a creator killed mid-way (process 2147483646 is none) leaves.
	echo "half a store" >"$DB.new.2147483646"
	echo "its journal" >"$DB.new.2147483646-wal"
	run -0 rag-index -d "$DB" <<<'{"doc":"a","text":"x"}'
	assert_equal "$(ls "$T" | grep -c '\.new\.')" 0
	assert_equal "$(sqlite3 "$DB" 'PRAGMA journal_mode')" wal
	assert_equal "$(sqlite3 "$DB" 'SELECT count(*) FROM docs')" 1
}

@test "rag-index --quant: the store keeps the setting; rag status shows it and what the file holds" {
	rag-ingest "$FIXTURES/docs" | rag-embed --dimensions 64 >emb.jsonl
	rag-index -d "$DB" <emb.jsonl
	run -0 rag status -d "$DB" --json
	assert_equal "$(jq -c '[.quant, .quant_setting, .vectors_fresh]' <<<"$output")" '["none","auto",true]'
	size=$(stat -c %s "$DB-vec")
	# A setting alone, with no records, rebuilds the vector file.
	run -0 rag-index -d "$DB" --quant int8 </dev/null
	run -0 rag status -d "$DB" --json
	assert_equal "$(jq -c '[.quant, .quant_setting, .vectors_fresh]' <<<"$output")" '["int8","int8",true]'
	[ "$(stat -c %s "$DB-vec")" -gt "$size" ]
	run -0 rag status -d "$DB" --format text
	[[ $output == *"quantisation    int8 with float re-scoring (--quant int8)"* ]]
	# Later runs keep it without being told.
	rag-index -d "$DB" <emb.jsonl
	run -0 rag status -d "$DB" --json
	assert_equal "$(jq -c '[.quant, .quant_setting]' <<<"$output")" '["int8","int8"]'
	run -0 rag-index -d "$DB" --quant none </dev/null
	run -0 rag status -d "$DB" --json
	assert_equal "$(jq -c '[.quant, .quant_setting, .vectors_fresh]' <<<"$output")" '["none","none",true]'
	assert_equal "$(stat -c %s "$DB-vec")" "$size"
	run -2 --separate-stderr rag-index -d "$DB" --quant int4 </dev/null
	assert_equal "$stderr" "rag-index: --quant: 'int4' is not one of auto, none, int8"
	# rag add passes it to rag-index.
	run -0 rag add -d add.db --dimensions 64 --quant int8 "$FIXTURES/docs"
	assert_equal "$(rag status -d add.db --json | jq -r .quant)" int8
}

@test "rag-index --quant int8: a vector file built for another setting, or stale, is not trusted" {
	rag-ingest "$FIXTURES/docs" | rag-embed --dimensions 64 | rag-index -d "$DB" --quant int8
	cp "$DB-vec" int8-vec
	run -0 rag-index -d "$DB" --quant none </dev/null
	# The int8 file is whole and of this generation, but not for "none".
	cp int8-vec "$DB-vec"
	run -0 rag status -d "$DB" --json
	assert_equal "$(jq -c '[.quant, .vectors_fresh]' <<<"$output")" '["none",false]'
	rag-query -d "$DB" --mode vector boiler >/dev/null
	run -0 rag status -d "$DB" --json
	assert_equal "$(jq -c '[.quant, .vectors_fresh]' <<<"$output")" '["none",true]'
	# Stale: a file from before a write is rebuilt, with its int8 copy.
	run -0 rag-index -d "$DB" --quant int8 </dev/null
	cp "$DB-vec" old-vec
	echo '{"op":"delete","doc":"'"$FIXTURES"'/docs/boiler.html"}' | rag-index -d "$DB"
	cp old-vec "$DB-vec"
	run -0 rag-query -d "$DB" --mode vector -k 50 "boiler pressure service"
	[[ $output != *boiler.html* ]]
	run -0 rag status -d "$DB" --json
	assert_equal "$(jq -c '[.quant, .vectors_fresh]' <<<"$output")" '["int8",true]'
	run -0 rag status --check -d "$DB" --json
	assert_equal "$(jq -c .problems <<<"$output")" "[]"
	# A damaged int8 code is named by --check: the header's codes_off
	# is the 8 bytes at 232 (see lib/vindex.c).
	off=$(od -An -t u8 -j 232 -N 8 "$DB-vec" | tr -d ' ')
	[ "$off" -gt 4096 ]
	printf '\x7f\x7f' | dd of="$DB-vec" bs=1 seek="$off" conv=notrunc 2>/dev/null
	n=$(rag status -d "$DB" --json | jq .vectors)
	run -65 --separate-stderr rag status --check -d "$DB"
	assert_equal "$stderr" "rag: status: $DB: vector file int8 rows that differ from the store's vectors: 1 of $n ($DB-vec)"
}

# The vector file as a write left it must be the one a build gives:
# save it, build it again from the whole store, compare the bytes.
# Fails unless the write said it updated the file ($1: its --json).
same_as_built() {
	assert_equal "$(jq -r .vector_file <<<"$1")" updated
	cp "$DB-vec" updated-vec
	rm "$DB-vec"
	run -0 --separate-stderr rag-index -d "$DB" --json </dev/null
	assert_equal "$(jq -r .vector_file <<<"$output")" built
	cmp updated-vec "$DB-vec"
}

# Records of a small document ($1: its path) of a few chunks.
doc_records() {
	printf '# %s\n\nThe pump in %s needs a new seal each spring; the lease says who pays.\n\n## Costs\n\nSeals, valves and the boiler service for %s.\n' "$1" "$1" "$1" >"$1"
	rag-ingest "$1" | rag-embed --dimensions 64
}

@test "rag-index: a write updates the vector file from the last one; the update is a build, byte for byte" {
	rag-ingest "$FIXTURES/docs" | rag-embed --dimensions 64 >emb.jsonl
	run -0 --separate-stderr rag-index -d "$DB" --json <emb.jsonl
	assert_equal "$(jq -r .vector_file <<<"$output")" built
	run -0 --separate-stderr rag-index -d "$DB" --json </dev/null
	assert_equal "$(jq -r .vector_file <<<"$output")" fresh
	# A new document.
	doc_records a.md >a.jsonl
	run -0 --separate-stderr rag-index -d "$DB" --json a.jsonl
	same_as_built "$output"
	# A new version of an old one, and two new ones in one run.
	rag-ingest "$FIXTURES/docs/lease.md" | sed 's/lease/tenancy/g' | rag-embed --dimensions 64 >lease.jsonl
	doc_records b.md >b.jsonl
	doc_records c.md >c.jsonl
	run -0 --separate-stderr rag-index -d "$DB" --json lease.jsonl b.jsonl c.jsonl
	same_as_built "$output"
	# Deletions only: the first document's chunks, then the last ones.
	run -0 --separate-stderr rag-index -d "$DB" --json <<<'{"op":"delete","doc":"a.md"}'
	same_as_built "$output"
	run -0 --separate-stderr rag-index -d "$DB" --json <<<'{"op":"delete","doc":"c.md"}'
	same_as_built "$output"
	# The ids of the deleted last chunks are given out again.
	doc_records d.md >d.jsonl
	run -0 --separate-stderr rag-index -d "$DB" --json d.jsonl
	same_as_built "$output"
	run -0 rag status --check -d "$DB" --json
	assert_equal "$(jq -c '[.vectors_fresh, .problems]' <<<"$output")" '[true,[]]'
	# Queries read the updated file.
	run -0 rag-query -d "$DB" -k 1 --mode bm25 "seal spring d.md"
	[[ $output == *'"doc":"d.md"'* ]]
}

@test "rag-index: with int8, an update quantises the new rows as a build does" {
	rag-ingest "$FIXTURES/docs" | rag-embed --dimensions 64 | rag-index -d "$DB" --quant int8
	doc_records a.md >a.jsonl
	run -0 --separate-stderr rag-index -d "$DB" --json a.jsonl
	same_as_built "$output"
	run -0 --separate-stderr rag-index -d "$DB" --json <<<'{"op":"delete","doc":"'"$FIXTURES"'/docs/lease.md"}'
	same_as_built "$output"
	assert_equal "$(rag status -d "$DB" --json | jq -r .quant)" int8
}

@test "rag-index: a query finds the vector file a write behind and updates it; a file older than the log is built" {
	rag-ingest "$FIXTURES/docs" | rag-embed --dimensions 64 | rag-index -d "$DB"
	cp "$DB-vec" old-vec
	doc_records a.md | rag-index -d "$DB"
	echo '{"op":"delete","doc":"'"$FIXTURES"'/docs/boiler.html"}' | rag-index -d "$DB"
	cp "$DB-vec" want-vec
	# Two writes behind: the read-only query updates it.
	cp old-vec "$DB-vec"
	run -0 rag-query -d "$DB" --mode vector -k 50 "boiler pressure service"
	[[ $output != *boiler.html* ]]
	cmp want-vec "$DB-vec"
	# A store whose log starts after the file's generation: built.
	cp old-vec "$DB-vec"
	gen=$(sqlite3 "$DB" "SELECT value FROM meta WHERE key = 'vec_gen'")
	sqlite3 "$DB" "UPDATE meta SET value = $gen WHERE key = 'vec_log_from'" >/dev/null
	run -0 --separate-stderr rag-index -d "$DB" --json </dev/null
	assert_equal "$(jq -r .vector_file <<<"$output")" built
	cmp want-vec "$DB-vec"
	# A write with no vector file beside the store logs nothing, so
	# the file of before, put back afterwards, cannot be updated: built.
	cp "$DB-vec" mid-vec
	rm "$DB-vec"
	doc_records b.md | rag-index -d "$DB"
	cp mid-vec "$DB-vec"
	run -0 --separate-stderr rag-index -d "$DB" --json </dev/null
	assert_equal "$(jq -r .vector_file <<<"$output")" built
	run -0 rag-query -d "$DB" -k 1 --mode bm25 "seal spring b.md"
	[[ $output == *'"doc":"b.md"'* ]]
}

@test "rag-index: a store from before the log is upgraded, and its next write updates the vector file" {
	rag-ingest "$FIXTURES/docs" | rag-embed --dimensions 64 | rag-index -d "$DB"
	sqlite3 "$DB" "DROP TABLE vec_log; DELETE FROM meta WHERE key = 'vec_log_from'; PRAGMA user_version = 2"
	doc_records a.md >a.jsonl
	run -0 --separate-stderr rag-index -d "$DB" --json a.jsonl
	assert_equal "$(sqlite3 "$DB" 'PRAGMA user_version')" 3
	same_as_built "$output"
}

@test "rag-index: a write of more chunks than an update pays for builds the vector file" {
	doc_records a.md | rag-index -d "$DB"
	# Past a quarter of the rows and 1024 more, a build is cheaper.
	for i in $(seq 1 1100); do
		printf '{"doc":"many/%d.txt","text":"note %d about pumps"}\n' "$i" "$i"
	done | rag-embed --dimensions 64 >many.jsonl
	run -0 --separate-stderr rag-index -d "$DB" --json many.jsonl
	assert_equal "$(jq -r .vector_file <<<"$output")" built
	doc_records b.md >b.jsonl
	run -0 --separate-stderr rag-index -d "$DB" --json b.jsonl
	same_as_built "$output"
}
