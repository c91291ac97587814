#!/usr/bin/env bats
# rag-query: full-text search over the store, hit records.
bats_require_minimum_version 1.5.0
load helpers

setup_file() {
	export QDB=$BATS_FILE_TMPDIR/q.db
	cd "$BATS_FILE_TMPDIR" || return 1
	cp -r "$BATS_TEST_DIRNAME/fixtures/docs" docs
	PATH=${RAG_BUILD:-$BATS_TEST_DIRNAME/../build}:$PATH
	rag-ingest --chunk-size 200 --overlap 0 docs | rag-index -d "$QDB"
}

@test "rag-query: the best chunk comes first, with every hit field" {
	run -0 --separate-stderr rag-query -d "$QDB" "when does the lease end?"
	h=$(head -1 <<<"$output")
	assert_equal "$(jq -r '[.query, .rank, .doc, .section, .title] | @tsv' <<<"$h")" \
	    "when does the lease end?	1	docs/lease.md	Renewal	Flat lease"
	assert_equal "$(jq -r '(.score > 0) and (.scores.bm25 == .score)' <<<"$h")" true
	assert_equal "$(jq -r '.text | contains("31 May 2027")' <<<"$h")" true
	line=$(jq -r .line <<<"$h")
	assert_equal "$(sed -n "${line}p" "$BATS_FILE_TMPDIR/docs/lease.md")" "$(jq -r '.text | split("\n")[0]' <<<"$h")"
	assert_equal "$(jq -r '[.chunk, .start, .end] | map(type) | unique | .[]' <<<"$h")" number
}

@test "rag-query: -k limits the hits, ranks count from 1" {
	run -0 rag-query -d "$QDB" -k 2 "the rent and the boiler"
	assert_equal "${#lines[@]}" 2
	assert_equal "$(jq -r .rank <<<"$output" | paste -sd, -)" "1,2"
}

@test "rag-query: FTS5 syntax in a question is never an error" {
	for q in '"unbalanced' 'rent AND' 'NEAR(rent boiler)' '-rent' '*' '(boiler' 'rent OR' '^rent' 'a:b' "it's" '' '   '; do
		run -0 --separate-stderr rag-query -d "$QDB" -- "$q"
		assert_equal "$stderr" ""
	done
	run -0 rag-query -d "$QDB" '"boiler" AND (pressure)'
	assert_equal "$(jq -r .doc <<<"$output" | head -1)" docs/boiler.html
}

@test "rag-query: a CJK question finds CJK text" {
	run -0 rag-query -d "$QDB" "東京の家賃"
	assert_equal "$(jq -r .doc <<<"$output" | head -1)" docs/sub/tokyo.txt
	run -0 rag-query -d "$QDB" "人気"
	assert_equal "$(jq -r .doc <<<"$output" | head -1)" docs/sub/tokyo.txt
}

@test "rag-query: each operand is a question" {
	run -0 rag-query -d "$QDB" -k 1 boiler bread
	assert_equal "$(jq -r .query <<<"$output" | paste -sd, -)" "boiler,bread"
	assert_equal "$(jq -r .doc <<<"$output" | paste -sd, -)" "docs/boiler.html,docs/sub/recipes.txt"
}

@test "rag-query: questions from stdin, plain or JSON with an id that comes back as qid" {
	printf '%s\n' 'boiler service' '{"query":"bread flour","id":"q7"}' '{"query":"rent","id":3}' '{"id":"x"}' '{bad' 'yeast' >qs
	run -65 --separate-stderr rag-query -d "$QDB" -k 1 <qs
	assert_equal "$(jq -r '[.qid // "-", .doc] | @tsv' <<<"$output" | paste -sd, -)" \
	    "-	docs/boiler.html,q7	docs/sub/recipes.txt,3	docs/lease.md,-	docs/sub/recipes.txt"
	assert_equal "${stderr_lines[0]}" 'rag-query: <stdin>:4: no "query" string'
	assert_equal "${stderr_lines[1]}" 'rag-query: <stdin>:5: not valid JSON'
}

@test "rag-query: --filter keeps documents whose path matches" {
	run -0 rag-query -d "$QDB" --filter 'docs/sub/*' "rent boiler bread"
	assert_equal "$(jq -r .doc <<<"$output" | sort -u)" docs/sub/recipes.txt
	run -0 rag-query -d "$QDB" --filter '*.md' "rent boiler bread"
	assert_equal "$(jq -r .doc <<<"$output" | sort -u)" docs/lease.md
}

@test "rag-query: no hits is not an error" {
	run -0 --separate-stderr rag-query -d "$QDB" "xylophone zeppelin"
	assert_equal "$output" ""
	assert_equal "$stderr" ""
}

@test "rag-query: a missing store is an I/O error naming it" {
	run -74 --separate-stderr rag-query -d "$T/none.db" rent
	assert_equal "$stderr" "rag-query: $T/none.db: cannot open store: No such file or directory"
	[ ! -e "$T/none.db" ]
}

@test "rag-query: bad options exit 2" {
	run -2 --separate-stderr rag-query -d "$QDB" -k 0 rent
	assert_equal "$stderr" "rag-query: -k: '0' is not a whole number from 1 to 10000"
	run -2 --separate-stderr rag-query -d "$QDB" --mode frob rent
	assert_equal "$stderr" "rag-query: --mode: 'frob' is not one of bm25, vector, hybrid"
}

@test "rag-query: | head -1 ends quietly; /dev/full is exit 74" {
	run -0 --separate-stderr bash -c "rag-query -d '$QDB' -k 100 'the a rent boiler bread' | head -1"
	assert_equal "${#lines[@]}" 1
	assert_equal "$stderr" ""
	run -74 --separate-stderr bash -c "rag-query -d '$QDB' rent >/dev/full"
	assert_equal "$stderr" "rag-query: <stdout>: write error: No space left on device"
}

# A store with vectors, built through rag-embed.
vector_store() {
	cp -r "$FIXTURES/docs" docs
	rag-ingest --chunk-size 200 --overlap 0 docs | rag-embed | rag-index -d "$DB"
}

@test "rag-query: hybrid is the default on a store with vectors; --explain shows both legs" {
	vector_store
	run -0 rag-query -d "$DB" -k 3 --explain "when does the lease end"
	h=$(head -1 <<<"$output")
	assert_equal "$(jq -r '[.doc, .section, .explain.mode] | @tsv' <<<"$h")" "docs/lease.md	Renewal	hybrid"
	assert_equal "$(jq -r '.explain | (.bm25.rank > 0) and (.vector.rank > 0)' <<<"$h")" true
	assert_equal "$(jq -r '(.scores | keys | join(",")), (.explain.fusion | startswith("rrf k=60"))' <<<"$h" | paste -sd' ' -)" "bm25,vector true"
	# The fused score is the sum of the legs' reciprocal ranks.
	assert_equal "$(jq -r '(1/(60 + .explain.bm25.rank) + 1/(60 + .explain.vector.rank) - .score) | fabs < 1e-6' <<<"$h")" true
	run -0 rag-query -d "$DB" -k 3 "when does the lease end"
	assert_equal "$(jq 'has("explain")' <<<"$output" | sort -u)" false
}

@test "rag-query: --mode vector finds text despite typos that BM25 misses" {
	vector_store
	run -0 rag-query -d "$DB" --mode bm25 "boilr presure"
	assert_equal "$output" ""
	run -0 rag-query -d "$DB" --mode vector -k 1 "boilr presure"
	assert_equal "$(jq -r '[.doc, (.scores | keys | join(","))] | @tsv' <<<"$output")" "docs/boiler.html	vector"
}

@test "rag-query: scores.vector is the similarity to the question as asked, feedback or not" {
	vector_store
	# Feedback moves a question toward its best hits, so that even
	# nonsense ends up near them; the score shown is not moved.
	run -0 rag-query -d "$DB" --mode vector -k 3 zzzzqqq
	assert_equal "$(jq -s 'map(.scores.vector | fabs < 0.1) | all' <<<"$output")" true
	assert_equal "$(jq -s 'map(.score > 0.2) | all' <<<"$output")" true
	run -0 rag-query -d "$DB" --mode vector -k 1 "boiler pressure"
	assert_equal "$(jq '.scores.vector > 0.3' <<<"$output")" true
	run -0 rag-query -d "$DB" --mode hybrid -k 1 "boiler pressure"
	assert_equal "$(jq '.scores.vector > 0.3' <<<"$output")" true
}

@test "rag-query: --filter applies to the vector leg too" {
	vector_store
	run -0 rag-query -d "$DB" --mode vector --filter 'docs/sub/*' -k 50 "rent lease boiler bread"
	assert_equal "$(jq -r .doc <<<"$output" | sed 's|/[^/]*$||' | sort -u)" docs/sub
}

@test "rag-query: --filter finds the best of the matching documents however far down they rank" {
	# 2,500 chunks about the question outrank every chunk of b/.
	mkdir a b
	awk 'BEGIN { for (i = 1; i <= 2500; i++) { f = sprintf("a/%04d.txt", i)
	    print "The boiler pressure gauge " i " reads high after the boiler service." > f
	    close(f) } }'
	printf 'Roses want pruning; the boiler room stays warm.\n' >b/1.txt
	printf 'Seed trays dry fast near boiler pipes under pressure.\n' >b/2.txt
	printf 'A rain gauge by the greenhouse.\n' >b/3.txt
	printf 'Tomatoes ripen late in a cold summer.\n' >b/4.txt
	rag-ingest --chunk-size 200 --overlap 0 a b | rag-embed | rag-index -d "$DB"
	for m in bm25 vector hybrid; do
		run -0 rag-query -d "$DB" --mode $m -k 3 --filter 'b/*' "boiler pressure gauge"
		assert_equal "${#lines[@]}" 3
		assert_equal "$(jq -r .doc <<<"$output" | cut -d/ -f1 | sort -u)" b
	done
	# The full-text leg's hits are those FTS5 finds, in its order: the
	# three chunks with a word of the question.
	run -0 rag-query -d "$DB" --mode bm25 -k 10 --filter 'b/*' "boiler pressure gauge"
	assert_equal "$(jq -r .doc <<<"$output" | paste -sd, -)" b/2.txt,b/3.txt,b/1.txt
	run -0 rag-query -d "$DB" --mode bm25 --exact -k 10 --filter 'b/*' "boiler pressure gauge"
	assert_equal "$(jq -r .doc <<<"$output" | paste -sd, -)" b/2.txt,b/3.txt,b/1.txt
	# The vector leg ranks every chunk of the documents that match.
	run -0 rag-query -d "$DB" --mode vector -k 10 --filter 'b/*' "boiler pressure gauge"
	assert_equal "$(jq -r .doc <<<"$output" | sort | paste -sd, -)" b/1.txt,b/2.txt,b/3.txt,b/4.txt
	run -0 rag-query -d "$DB" --mode vector -k 10 --filter 'b/[13].txt' "boiler pressure gauge"
	assert_equal "$(jq -r .doc <<<"$output" | sort | paste -sd, -)" b/1.txt,b/3.txt
	run -0 rag-query -d "$DB" --mode vector -k 10 --filter '*/0042.txt' "boiler pressure gauge"
	assert_equal "$(jq -r .doc <<<"$output")" a/0042.txt
	# A filter that matches nothing: no hits, and no error.
	for m in bm25 vector hybrid; do
		run -0 --separate-stderr rag-query -d "$DB" --mode $m --filter 'c/*' "boiler"
		assert_equal "$output" ""
		assert_equal "$stderr" ""
	done
}

@test "rag-query: --filter on a store whose document ids were set by hand" {
	vector_store
	# An id far past the others, as sqlite3 lets anyone write it.
	id=$(sqlite3 "$DB" "SELECT id FROM docs WHERE path = 'docs/lease.md'")
	n=$(sqlite3 "$DB" "SELECT count(*) FROM chunks WHERE doc = $id")
	sqlite3 "$DB" "UPDATE chunks SET doc = 1099511627776 WHERE doc = $id;
	    UPDATE docs SET id = 1099511627776 WHERE id = $id"
	rm "$DB-vec"
	for m in vector hybrid; do
		run -0 --separate-stderr rag-query -d "$DB" --mode $m -k 50 --filter '*lease*' "rent"
		assert_equal "$(jq -r .doc <<<"$output" | sort -u)" docs/lease.md
		assert_equal "${#lines[@]}" "$n"
		assert_equal "$stderr" ""
	done
}

@test "rag-query: postings give FTS5's hits and scores on a store whose chunk ids lie far apart" {
	# 1,500 documents of words drawn from 60, then all but every 100th
	# deleted: the 15 chunks left have ids 100 apart, which the vector
	# file's builder looks up by search instead of by a table.
	awk 'BEGIN { srand(7); for (i = 1; i <= 1500; i++) { t = "";
	    for (j = 0; j < 12; j++) t = t " w" int(rand() * rand() * 60);
	    printf "{\"doc\":\"d%04d\",\"text\":\"%s\"}\n", i, t } }' >in
	rag-embed --dimensions 16 <in | rag-index -d "$DB"
	awk '{ d = substr($0, 10, 4); if (d % 100 != 0)
	    printf "{\"op\":\"delete\",\"doc\":\"d%s\"}\n", d }' in | rag-index -d "$DB"
	assert_equal "$(sqlite3 "$DB" 'SELECT count(*), max(id) - min(id) FROM chunks')" "15|1400"
	printf '%s\n' w0 w1 "w2 w3" "w5 w8 w13" w40 w59 "w0 w1 w2 w3 w4" >q
	rag-query -d "$DB" --mode bm25 -k 20 <q | jq -c '[.query, .doc, (.score * 1e4 | round)]' >post
	rag-query -d "$DB" --mode bm25 -k 20 --exact <q | jq -c '[.query, .doc, (.score * 1e4 | round)]' >fts5
	[ "$(wc -l <post)" -gt 30 ]
	run -0 diff post fts5
	run -0 rag status -d "$DB" --check --json
	assert_equal "$(jq -c .problems <<<"$output")" '[]'
}

@test "rag-query: vector modes on a store without vectors are a usage error" {
	cp -r "$FIXTURES/docs" docs
	rag-ingest docs | rag-index -d "$DB"
	run -2 --separate-stderr rag-query -d "$DB" --mode vector rent
	assert_equal "$stderr" "rag-query: --mode vector: $DB has no vectors (index through rag-embed, or use --mode bm25)"
	run -0 rag-query -d "$DB" -k 1 --explain rent
	assert_equal "$(jq -r .explain.mode <<<"$output")" bm25
}

@test "rag-query: a missing, stale or damaged vector file is rebuilt, never trusted" {
	vector_store
	want=$(rag-query -d "$DB" -k 5 "boiler pressure service" | jq -c '[.doc, .chunk]')
	rm "$DB-vec"
	assert_equal "$(rag-query -d "$DB" -k 5 "boiler pressure service" | jq -c '[.doc, .chunk]')" "$want"
	[ -f "$DB-vec" ]
	# Damaged: cut short.
	truncate -s 5000 "$DB-vec"
	assert_equal "$(rag-query -d "$DB" -k 5 "boiler pressure service" | jq -c '[.doc, .chunk]')" "$want"
	[ "$(stat -c %s "$DB-vec")" -gt 5000 ]
	# Stale: a file from before the last write is not used.
	cp "$DB-vec" old-vec
	echo '{"op":"delete","doc":"docs/boiler.html"}' | rag-index -d "$DB"
	cp old-vec "$DB-vec"
	run -0 rag-query -d "$DB" --mode vector -k 50 "boiler pressure service"
	[[ $output != *boiler.html* ]]
	run -0 rag status -d "$DB" --json
	assert_equal "$(jq -r .vectors_fresh <<<"$output")" true
}

@test "rag-query: a vector file damaged inside is refused (65) and named; removed, it is built again" {
	vector_store
	q="boiler pressure service"
	want=$(rag-query -d "$DB" -k 5 "$q" | jq -c '[.doc, .chunk]')
	want_v=$(rag-query -d "$DB" -k 5 --mode vector "$q" | jq -c '[.doc, .chunk]')
	# Its header stays whole and fresh; its postings (offset and count
	# at bytes 288 and 296) name rows past the last, as a bad disk might.
	read -r off n < <(od -An -t u8 -j 288 -N 16 "$DB-vec")
	head -c $((8 * n)) /dev/zero | tr '\0' '\377' |
	    dd of="$DB-vec" seek="$off" oflag=seek_bytes conv=notrunc status=none
	for m in bm25 hybrid; do
		run -65 --separate-stderr rag-query -d "$DB" -k 5 --mode $m "$q"
		assert_equal "$output" ""
		assert_equal "$stderr" "rag-query: $DB-vec: damaged (its word statistics or postings); remove it, and it is built again"
	done
	# The vectors themselves are sound, and a vector query reads no postings.
	assert_equal "$(rag-query -d "$DB" -k 5 --mode vector "$q" | jq -c '[.doc, .chunk]')" "$want_v"
	run -65 --separate-stderr rag status -d "$DB" --check
	[[ $stderr == *"vector file terms whose statistics or postings differ"* ]]
	rm "$DB-vec"
	assert_equal "$(rag-query -d "$DB" -k 5 "$q" | jq -c '[.doc, .chunk]')" "$want"
	run -0 rag status -d "$DB" --check
}

@test "rag-query: text for people on a terminal, records on a pipe; --format chooses" {
	cp -r "$FIXTURES/docs" docs
	rag-ingest docs | rag-index -d "$DB"
	run -0 rag-query -d "$DB" -k 1 boiler
	assert_equal "$(jq -r .doc <<<"$output")" docs/boiler.html
	run -0 rag-query -d "$DB" -k 1 --format text boiler
	assert_equal "${lines[0]}" "  1  docs/boiler.html:6  (1.674)"
	[[ ${lines[1]} == "     Boiler manual The boiler needs a service every twelve months"* ]]
	run -0 rag-query -d "$DB" -k 1 --format text boiler bread
	assert_equal "${lines[0]}" "== boiler"
	assert_equal "${lines[3]}" "== bread"
	if command -v script >/dev/null; then
		run -0 script -qec "rag-query -d $DB -k 1 boiler" /dev/null
		[[ $output == *$'\e[35mdocs/boiler.html:6\e[0m'* ]]
		run -0 script -qec "env NO_COLOR=1 rag-query -d $DB -k 1 boiler" /dev/null
		[[ $output == *"  1  docs/boiler.html:6  (1.674)"* ]]
		[[ $output != *$'\e['* ]]
	fi
	run -2 --separate-stderr rag-query -d "$DB" --format xml boiler
	assert_equal "$stderr" "rag-query: --format: 'xml' is not text or json"
}

@test "rag-query: int8 gives the float search's hits and scores; postings give FTS5's" {
	[ -f "$DATA/cranfield/corpus.jsonl" ] || skip "no $DATA/cranfield"
	head -700 "$DATA/cranfield/corpus.jsonl" | jq -c '{doc: .id, title, text}' |
	    rag-ingest --json | rag-embed --dimensions 96 >emb.jsonl
	rag-index -d "$DB" --quant int8 <emb.jsonl
	assert_equal "$(rag status -d "$DB" --json | jq -c '[.vectors, .quant]')" '[1078,"int8"]'
	head -30 "$DATA/cranfield/queries.jsonl" | jq -c '{query: .text, id}' >q.jsonl
	for m in vector hybrid; do
		rag-query -d "$DB" --mode $m -k 10 <q.jsonl | jq -c '[.qid, .doc, .score]' >int8.$m
		rag-query -d "$DB" --mode $m -k 100 <q.jsonl | jq -c '[.qid, .doc, .score]' >int8-100.$m
		assert_equal "$(wc -l <int8.$m)" 300
	done
	# The BM25 leg sums the vector file's postings: FTS5's hits and
	# scores (to float32 precision), as --exact gets them from FTS5.
	rag-query -d "$DB" --mode bm25 -k 20 <q.jsonl | jq -c '[.qid, .doc, (.score * 1e3 | round)]' >post.bm25
	rag-query -d "$DB" --mode bm25 -k 20 --exact <q.jsonl | jq -c '[.qid, .doc, (.score * 1e3 | round)]' >fts5.bm25
	assert_equal "$(wc -l <post.bm25)" 600
	run -0 diff post.bm25 fts5.bm25
	rag-index -d "$DB" --quant none </dev/null
	assert_equal "$(rag status -d "$DB" --json | jq -r .quant)" none
	for m in vector hybrid; do
		rag-query -d "$DB" --mode $m -k 10 <q.jsonl | jq -c '[.qid, .doc, .score]' >float.$m
		rag-query -d "$DB" --mode $m -k 100 <q.jsonl | jq -c '[.qid, .doc, .score]' >float-100.$m
		run -0 diff int8.$m float.$m
		run -0 diff int8-100.$m float-100.$m
	done
}
