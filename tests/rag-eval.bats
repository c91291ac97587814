#!/usr/bin/env bats
# rag-eval: retrieval metrics from rag-query's hits and a qrels file.
bats_require_minimum_version 1.5.0
load helpers

# A store of nine tiny documents whose BM25 order is known (the first
# test checks it): "apple" finds 1 > 2 > 3 (three, two, one "apple" in
# four words); "banana" finds 4, then the four chunks of 9 (chunk 0 best);
# "cherry" finds 5 and 6, which are the same text and tie.
setup_file() {
	export EDB=$BATS_FILE_TMPDIR/e.db F=$BATS_FILE_TMPDIR
	PATH=${RAG_BUILD:-$BATS_TEST_DIRNAME/../build}:$PATH
	cd "$BATS_FILE_TMPDIR" || return 1
	printf '%s\n' '{"doc":"1","text":"apple apple apple zebra"}' \
	    '{"doc":"2","text":"apple apple yak xenon"}' \
	    '{"doc":"3","text":"apple wolf vole urchin"}' \
	    '{"doc":"4","text":"banana banana banana kiwi"}' \
	    '{"doc":"5","text":"cherry date"}' \
	    '{"doc":"6","text":"cherry date"}' \
	    '{"doc":"7","text":"mango nectarine olive"}' \
	    '{"doc":"8","text":"papaya quince raisin"}' \
	    '{"doc":"9","text":"banana banana banana. Sun moon star.\n\nbanana sky rain snow hail wind fog mist dew frost ice.\n\nbanana cloud hill dale glen moor fell tarn beck gill.\n\nbanana only."}' \
	    >docs.jsonl
	rag-ingest --json --chunk-size 60 --overlap 0 docs.jsonl >chunks.jsonl
	rag-index -d "$EDB" <chunks.jsonl
	# Graded judgments: gains 2 and 1; doc 1 is judged not relevant.
	printf '%s\t%s\t%s\n' query-id corpus-id score 1 1 0 1 2 2 1 3 1 \
	    1 7 1 2 9 2 2 8 1 3 5 1 >qrels.tsv
	# A numeric id with "query"; question 6 is not in the qrels.
	printf '%s\n' '{"id":"1","text":"apple"}' '{"id":2,"query":"banana"}' \
	    '{"id":"3","text":"cherry"}' '{"id":"6","text":"mango"}' \
	    >queries.jsonl
}

# The expected figures, worked by hand (l2(n) = log2(n): l2(3) = 1.58496).
#  query 1, ranked 1 2 3, gains 0 2 1; judged relevant 2 (2), 3 (1), 7 (1):
#    DCG = 2/l2(3) + 1/l2(4) = 1.261860 + 0.5 = 1.761860
#    IDCG (2 1 1) = 2/l2(2) + 1/l2(3) + 1/l2(4) = 2 + 0.630930 + 0.5
#      = 3.130930; nDCG = 1.761860/3.130930 = 0.562727
#    Recall = 2/3; MRR = 1/2 (first relevant at rank 2); P@10 = 2/10;
#    AP = (1/2 + 2/3)/3 = 0.388889
#  query 2, ranked 4 9 (9's three chunks count once), gains 0 2; relevant
#    9 (2) and 8 (1, never found):
#    nDCG = (2/l2(3)) / (2/l2(2) + 1/l2(3)) = 1.261860/2.630930 = 0.479625
#    Recall = 1/2; MRR = 1/2; P@10 = 1/10; AP = (1/2)/2 = 0.25
#  query 3: 5 and 6 tie, so 6 ranks first (doc id descending), gains 0 1:
#    nDCG = (1/l2(3))/1 = 0.630930; Recall = 1; MRR = 1/2; P@10 = 1/10;
#    AP = 1/2
#  means over the three: nDCG (0.562727 + 0.479625 + 0.630930)/3 = 0.5578,
#    Recall (2/3 + 1/2 + 1)/3 = 0.7222, MRR 0.5, MAP (0.388889 + 0.25 +
#    0.5)/3 = 0.3796, P@10 (0.2 + 0.1 + 0.1)/3 = 0.1333.
@test "rag-eval: metrics worked out by hand (graded gains, ties, chunks)" {
	run -0 rag-query -d "$EDB" -k 100 apple banana cherry
	assert_equal "$(jq -r '[.query, .doc, .chunk] | join(":")' <<<"$output" | paste -sd, -)" \
	    "apple:1:0,apple:2:0,apple:3:0,banana:4:0,banana:9:0,banana:9:3,banana:9:2,banana:9:1,cherry:5:0,cherry:6:0"
	run -0 --separate-stderr rag-eval -d "$EDB" --qrels "$F/qrels.tsv" --queries "$F/queries.jsonl"
	assert_equal "$output" "queries     3
nDCG@10     0.5578
Recall@10   0.7222
Recall@100  0.7222
MRR@10      0.5000
# extra: MAP 0.3796  P@10 0.1333  Recall@1000 0.7222  nDCG@100 0.5578"
	assert_equal "$stderr" ""
}

@test "rag-eval: --per-query writes each query's metrics" {
	run -0 rag-eval -d "$EDB" --qrels "$F/qrels.tsv" --queries "$F/queries.jsonl" --per-query pq.tsv
	assert_equal "$(cat pq.tsv)" "qid	nDCG@10	Recall@10	Recall@100	MRR@10	MAP	P@10	Recall@1000	nDCG@100
1	0.562727	0.666667	0.666667	0.500000	0.388889	0.200000	0.666667	0.562727
2	0.479625	0.500000	0.500000	0.500000	0.250000	0.100000	0.500000	0.479625
3	0.630930	1.000000	1.000000	0.500000	0.500000	0.100000	1.000000	0.630930"
}

@test "rag-eval: chunks of one document count once, at their best score" {
	run -0 rag-query -d "$EDB" -k 100 banana
	best=$(jq -s 'map(select(.doc == "9") | .score) | max' <<<"$output")
	run -0 rag-eval -d "$EDB" --qrels "$F/qrels.tsv" --queries "$F/queries.jsonl" --run run.jsonl
	assert_equal "$(jq -r 'select(.qid == "2") | .docid' run.jsonl | paste -sd, -)" "4,9"
	assert_equal "$(jq 'select(.docid == "9") | .score' run.jsonl)" "$best"
	assert_equal "$(jq -r '.qid' run.jsonl | paste -sd, -)" "1,1,1,2,2,3,3,6"
	assert_equal "$(jq -r 'select(.qid == "3") | .docid' run.jsonl | paste -sd, -)" "6,5"
	assert_equal "$(jq -c 'keys_unsorted' run.jsonl | sort -u)" '["qid","docid","score"]'
}

@test "rag-eval: --json has eval.py's metric keys, the mode, k, store and time" {
	run -0 --separate-stderr rag-eval -d "$EDB" --qrels "$F/qrels.tsv" --queries "$F/queries.jsonl" --json
	assert_equal "${#lines[@]}" 1
	assert_equal "$(jq -c 'keys_unsorted' <<<"$output")" \
	    '["nDCG@10","Recall@10","Recall@100","MRR@10","MAP","P@10","Recall@1000","nDCG@100","queries","mode","k","db","seconds"]'
	assert_equal "$(jq -r '[."nDCG@10", ."Recall@10", .MAP, ."P@10", .queries, .mode, .k] | map(tostring) | join(" ")' <<<"$output")" \
	    "0.557761 0.722222 0.37963 0.133333 3 null 100"
	assert_equal "$(jq -r '.db' <<<"$output")" "$EDB"
	assert_equal "$(jq -r '.seconds | type' <<<"$output")" number
	run -0 rag-eval -d "$EDB" --qrels "$F/qrels.tsv" --queries "$F/queries.jsonl" --json --mode bm25 -k 1
	assert_equal "$(jq -r '[.mode, .k] | map(tostring) | join(" ")' <<<"$output")" "bm25 1"
}

# Five qrels queries: 1-3 as above, 4 without a question and 5 whose
# question finds nothing.  Both score 0, so each mean is the sum of the
# first three over 5: nDCG 1.673282/5 = 0.3347, Recall 2.166667/5 =
# 0.4333, MRR 1.5/5 = 0.3, MAP 1.138889/5 = 0.2278, P@10 0.4/5 = 0.08.
@test "rag-eval: qrels queries missing from the run score 0, with warnings" {
	{ cat "$F/qrels.tsv"; printf '4\t7\t1\n5\t8\t1\n'; } >qrels.tsv
	{ cat "$F/queries.jsonl"; echo '{"id":"5","text":"xylophone"}'; } >queries.jsonl
	run -0 --separate-stderr rag-eval -d "$EDB" --qrels qrels.tsv --queries queries.jsonl
	assert_equal "$output" "queries     5
nDCG@10     0.3347
Recall@10   0.4333
Recall@100  0.4333
MRR@10      0.3000
# extra: MAP 0.2278  P@10 0.0800  Recall@1000 0.4333  nDCG@100 0.3347"
	assert_equal "$stderr" "rag-eval: 1 qrels query has no question in queries.jsonl
rag-eval: 2 qrels queries are not in the run (scored 0)"
	run -0 --separate-stderr rag-eval -q -d "$EDB" --qrels qrels.tsv --queries queries.jsonl
	assert_equal "$stderr" ""
}

@test "rag-eval: a qrels query without relevant documents scores 0" {
	printf '1 1 0\n1 2 0\n' >qrels.tsv
	run -0 --separate-stderr rag-eval -d "$EDB" --qrels qrels.tsv --queries "$F/queries.jsonl"
	assert_equal "${lines[0]}" "queries     1"
	assert_equal "${lines[1]}" "nDCG@10     0.0000"
	assert_equal "${lines[4]}" "MRR@10      0.0000"
	assert_equal "$stderr" "rag-eval: 1 qrels query has no relevant (rel>=1) docs; it scores 0"
}

@test "rag-eval: TREC qrels (qid 0 docid rel) give the same figures" {
	run -0 rag-eval -d "$EDB" --qrels "$F/qrels.tsv" --queries "$F/queries.jsonl"
	tsv=$output
	tail -n +2 "$F/qrels.tsv" | awk '{ print $1, 0, $2, $3 }' >qrels.trec
	assert_equal "$(head -1 qrels.trec)" "1 0 1 0"
	run -0 rag-eval -d "$EDB" --qrels qrels.trec --queries "$F/queries.jsonl"
	assert_equal "$output" "$tsv"
}

# What is left of query 1: gain 2 for doc 2, at rank 2 of 1 2 3, so
# nDCG = (2/log2(3))/(2/log2(2)) = 0.6309, Recall 1, MRR 0.5, AP 0.5.
@test "rag-eval: bad qrels lines are reported with file:line and skipped (65)" {
	printf 'query-id\tcorpus-id\tscore\n1\t2\t2\n1\t3\n1 3 high\n1 7 x 1 1\n\n' >qrels.tsv
	run -65 --separate-stderr rag-eval -d "$EDB" --qrels qrels.tsv --queries "$F/queries.jsonl"
	assert_equal "${stderr_lines[0]}" "rag-eval: qrels.tsv:3: expected 3 or 4 columns, got 2"
	assert_equal "${stderr_lines[1]}" "rag-eval: qrels.tsv:4: bad relevance 'high'"
	assert_equal "${stderr_lines[2]}" "rag-eval: qrels.tsv:5: expected 3 or 4 columns, got 5"
	assert_equal "${#stderr_lines[@]}" 3
	assert_equal "${lines[0]}" "queries     1"
	assert_equal "${lines[1]}" "nDCG@10     0.6309"
	assert_equal "${lines[2]}" "Recall@10   1.0000"
	assert_equal "${lines[5]}" "# extra: MAP 0.5000  P@10 0.1000  Recall@1000 1.0000  nDCG@100 0.6309"
}

@test "rag-eval: bad question lines are reported and skipped (65)" {
	printf '%s\n' '{"id":"1","text":"apple"}' '{bad' '{"text":"banana"}' \
	    '{"id":"3"}' '{"id":"1","text":"cherry"}' '{"_id":"3","text":"cherry"}' >queries.jsonl
	run -65 --separate-stderr rag-eval -d "$EDB" --qrels "$F/qrels.tsv" --queries queries.jsonl --run run.jsonl
	assert_equal "$stderr" "rag-eval: queries.jsonl:2: not valid JSON
rag-eval: queries.jsonl:3: no \"id\" string or number
rag-eval: queries.jsonl:4: no \"text\" or \"query\" string
rag-eval: queries.jsonl:5: duplicate id '1'
rag-eval: 1 qrels query has no question in queries.jsonl
rag-eval: 1 qrels query is not in the run (scored 0)"
	assert_equal "$(jq -r .qid run.jsonl | uniq | paste -sd, -)" "1,3"
	assert_equal "${lines[0]}" "queries     3"
}

@test "rag-eval: --qrels and --queries are required; bad options exit 2" {
	run -2 --separate-stderr rag-eval -d "$EDB" --queries "$F/queries.jsonl"
	assert_equal "${stderr_lines[0]}" "rag-eval: --qrels is required"
	[[ ${stderr_lines[1]} == "usage: rag-eval "* ]]
	assert_equal "$output" ""
	run -2 --separate-stderr rag-eval -d "$EDB" --qrels "$F/qrels.tsv"
	assert_equal "${stderr_lines[0]}" "rag-eval: --queries is required"
	run -2 --separate-stderr rag-eval -d "$EDB" -k 0 --qrels "$F/qrels.tsv" --queries "$F/queries.jsonl"
	assert_equal "$stderr" "rag-eval: -k: '0' is not a whole number from 1 to 10000"
	run -2 --separate-stderr rag-eval -d "$EDB" --qrels "$F/qrels.tsv" --queries "$F/queries.jsonl" extra
	[[ ${stderr_lines[0]} == "usage: rag-eval "* ]]
	run -2 --separate-stderr rag-eval --frob
	[[ ${stderr_lines[1]} == "usage: rag-eval "* ]]
}

@test "rag-eval: --help lists every option; --version" {
	run -0 --separate-stderr rag-eval --help
	[[ ${lines[0]} == "usage: rag-eval "* ]]
	for o in db help json mode per-query qrels queries quiet run top version; do
		assert_output --partial -- "--$o"
	done
	assert_equal "$stderr" ""
	run -0 rag-eval --version
	[[ $output == "rag-eval (ragpipe) "* ]]
}

@test "rag-eval: --run scored by eval.py gives the same figures" {
	EVAL=$DATA/eval.py
	[ -f "$EVAL" ] || skip "no $EVAL"
	run -0 rag-eval -d "$EDB" --qrels "$F/qrels.tsv" --queries "$F/queries.jsonl" --run run.jsonl --json
	ours=$(jq -r '[."nDCG@10", ."Recall@10", ."Recall@100", ."MRR@10", .MAP, ."P@10", ."Recall@1000", ."nDCG@100"] | map(. * 10000 | round) | @tsv' <<<"$output")
	run -0 python3 "$EVAL" "$F/qrels.tsv" run.jsonl --json
	theirs=$(jq -r '[."nDCG@10", ."Recall@10", ."Recall@100", ."MRR@10", .MAP, ."P@10", ."Recall@1000", ."nDCG@100"] | map(. * 10000 | round) | @tsv' <<<"$output")
	assert_equal "$ours" "$theirs"
	# The text reports are the same too, and so are the per-query figures.
	run -0 rag-eval -d "$EDB" --qrels "$F/qrels.tsv" --queries "$F/queries.jsonl" --per-query ours.tsv
	ours=$output
	run -0 python3 "$EVAL" "$F/qrels.tsv" run.jsonl --per-query theirs.tsv
	assert_equal "$ours" "$output"
	assert_equal "$(cat ours.tsv)" "$(cat theirs.tsv)"
}

@test "rag-eval: --mode goes to rag-query, which judges it" {
	run -2 --separate-stderr rag-eval -d "$EDB" --mode frob --qrels "$F/qrels.tsv" --queries "$F/queries.jsonl"
	assert_equal "$stderr" "rag-query: --mode: 'frob' is not one of bm25, vector, hybrid
rag-eval: rag-query failed (exit 2)"
	assert_equal "$output" ""
}

@test "rag-eval: a missing store is rag-query's error and status" {
	run -74 --separate-stderr rag-eval -d "$T/none.db" --qrels "$F/qrels.tsv" --queries "$F/queries.jsonl"
	assert_equal "$stderr" "rag-query: $T/none.db: cannot open store: No such file or directory
rag-eval: rag-query failed (exit 74)"
	RAG_DB=$EDB run -0 rag-eval --qrels "$F/qrels.tsv" --queries "$F/queries.jsonl" --json
	assert_equal "$(jq -r '[.db, ."nDCG@10"] | @tsv' <<<"$output")" "$EDB	0.557761"
}

@test "rag-eval: runs the rag-query beside it first, then PATH's; 69 if none" {
	mkdir bin alone fake
	cp "$RAG_BUILD/rag-eval" "$RAG_BUILD/rag-query" bin/
	cp "$RAG_BUILD/rag-eval" alone/
	# A stand-in that finds doc 2 for question 1 whatever it is asked.
	printf '#!/bin/sh\ncat >/dev/null\necho %s\n' "'{\"qid\":\"1\",\"doc\":\"2\",\"score\":1}'" >fake/rag-query
	chmod +x fake/rag-query
	run -0 env PATH="$T/fake:/usr/bin:/bin" "$T/bin/rag-eval" -d "$EDB" --qrels "$F/qrels.tsv" --queries "$F/queries.jsonl"
	assert_equal "${lines[1]}" "nDCG@10     0.5578"
	# Query 1 alone, with doc 2 (gain 2) at rank 1: nDCG 2/3.130930 =
	# 0.638789, over 3 queries 0.2129; Recall (1/3)/3 = 0.1111.
	run -0 --separate-stderr env PATH="$T/fake:/usr/bin:/bin" "$T/alone/rag-eval" -d "$EDB" --qrels "$F/qrels.tsv" --queries "$F/queries.jsonl"
	assert_equal "${lines[1]}" "nDCG@10     0.2129"
	assert_equal "${lines[2]}" "Recall@10   0.1111"
	run -69 --separate-stderr env PATH="/usr/bin:/bin" "$T/alone/rag-eval" -d "$EDB" --qrels "$F/qrels.tsv" --queries "$F/queries.jsonl"
	assert_equal "$stderr" "rag-eval: cannot run 'rag-query': No such file or directory"
	assert_equal "$output" ""
}

@test "rag-eval: unreadable input and unwritable output are I/O errors (74)" {
	run -74 --separate-stderr rag-eval -d "$EDB" --qrels none.tsv --queries "$F/queries.jsonl"
	assert_equal "$stderr" "rag-eval: none.tsv: No such file or directory"
	run -74 --separate-stderr rag-eval -d "$EDB" --qrels "$F/qrels.tsv" --queries none.jsonl
	assert_equal "$stderr" "rag-eval: none.jsonl: No such file or directory"
	run -74 --separate-stderr rag-eval -d "$EDB" --qrels "$F/qrels.tsv" --queries "$F/queries.jsonl" --run nodir/run.jsonl
	assert_equal "$stderr" "rag-eval: nodir/run.jsonl: No such file or directory"
	run -74 --separate-stderr rag-eval -d "$EDB" --qrels "$F/qrels.tsv" --queries "$F/queries.jsonl" --run /dev/full
	assert_equal "$stderr" "rag-eval: /dev/full: write error: No space left on device"
	assert_equal "${lines[0]}" "queries     3"
	run -74 --separate-stderr rag-eval -d "$EDB" --qrels "$F/qrels.tsv" --queries "$F/queries.jsonl" --per-query /dev/full
	assert_equal "$stderr" "rag-eval: /dev/full: write error: No space left on device"
}

@test "rag-eval: | head -1 ends quietly; /dev/full is exit 74" {
	run -0 --separate-stderr bash -c "rag-eval -d '$EDB' --qrels '$F/qrels.tsv' --queries '$F/queries.jsonl' | head -1"
	assert_equal "$output" "queries     3"
	assert_equal "$stderr" ""
	run -74 --separate-stderr bash -c "rag-eval -d '$EDB' --qrels '$F/qrels.tsv' --queries '$F/queries.jsonl' >/dev/full"
	assert_equal "$stderr" "rag-eval: <stdout>: write error: No space left on device"
}

@test "rag eval: the front command runs rag-eval" {
	run -0 rag-eval -d "$EDB" --qrels "$F/qrels.tsv" --queries "$F/queries.jsonl"
	direct=$output
	run -0 --separate-stderr rag eval -d "$EDB" --qrels "$F/qrels.tsv" --queries "$F/queries.jsonl"
	assert_equal "$output" "$direct"
	run -0 rag eval --version
	[[ $output == "rag-eval (ragpipe) "* ]]
}
