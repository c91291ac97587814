#!/usr/bin/env bats
# cron: the store as an hourly job keeps it while others query it;
# incremental runs, deletions, readers and writers at once, kills.
bats_require_minimum_version 1.5.0
load helpers

# make_tree DIR N: N small Markdown documents, modified an hour ago (so
# that none is read in the second it was written, which the store would
# not trust: see rag-ingest(1)).
make_tree() {
	local i
	mkdir -p "$1"
	for ((i = 1; i <= $2; i++)); do
		printf '# Document %d\n\nAbout topic%d and the shared word zebra.\n\n%s\n' \
		    "$i" "$i" "$(seq -s ' lorem' "$((i % 40 + 10))")" >"$1/d$i.md"
	done
	touch -d '1 hour ago' "$1"/*
}

# The pipeline a cron job runs, with each stage's stderr kept.
pipeline() {
	rag-ingest -v -d "$DB" "$@" >ingest.out 2>ingest.err || return 1
	rag-embed -v --dimensions 64 <ingest.out >embed.out 2>embed.err || return 1
	rag-index -v -d "$DB" <embed.out 2>index.err
}

# A store's content, without rowids or times: documents, chunks (text as
# its zstd frame, without a dictionary the same for the same text),
# vectors, the full-text index's terms, and the model.
dump() {
	sqlite3 "$1" "SELECT d.path, d.title, d.sha256, d.mtime, d.size,
	    d.nchunks, c.seq, c.start_byte, c.end_byte, c.line, c.section,
	    c.len, hex(c.body), c.extra, hex(v.v)
	    FROM docs d LEFT JOIN chunks c ON c.doc = d.id
	    LEFT JOIN vectors v ON v.chunk = c.id ORDER BY d.path, c.seq;
	    SELECT term, doc, cnt FROM fts_vocab ORDER BY term;
	    SELECT key, value FROM meta
	    WHERE key IN ('embed_model', 'embed_dim') ORDER BY key"
}

# Hold the store's write lock for $2 seconds in the background; returns
# once it is held.  The holder's pid is in $holder.
hold_lock() {
	rm -f locked
	printf 'BEGIN IMMEDIATE;\n.shell touch locked; sleep %s\nROLLBACK;\n' "$2" |
	    sqlite3 "$1" 3>&- &
	holder=$!
	for _ in $(seq 100); do [ -e locked ] && return 0; sleep 0.05; done
	return 1
}

@test "cron: an unchanged re-run prints no chunk records and embeds nothing" {
	make_tree tree 40
	pipeline tree
	[[ $(cat ingest.err) == *"scanned 40, new 40, changed 0, unchanged 0, skipped 0, deleted 0; "* ]]
	pipeline tree
	assert_equal "$(wc -c <ingest.out)" 0
	[[ $(cat ingest.err) == *"scanned 40, new 0, changed 0, unchanged 40, skipped 0, deleted 0; 0 chunks"* ]]
	[[ $(cat embed.err) == *"0 records embedded"* ]]
	[[ $(cat index.err) == *"indexed 0 documents (0 chunks)"* ]]
	# Touched, not changed: read and hashed, no chunk records, only
	# the new time for the store, which then trusts it.
	touch -d '10 minutes ago' tree/d3.md
	pipeline tree
	assert_equal "$(cat ingest.out)" \
	    "{\"op\":\"touch\",\"doc\":\"tree/d3.md\",\"mtime\":$(stat -c %Y tree/d3.md),\"size\":$(stat -c %s tree/d3.md)}"
	[[ $(cat ingest.err) == *"unchanged 40"* ]]
	[[ $(cat embed.err) == *"0 records embedded"* ]]
	[[ $(cat index.err) == *"indexed 0 documents (0 chunks), deleted 0, not found 0, touched 1,"* ]]
	assert_equal "$(sqlite3 "$DB" "SELECT mtime FROM docs WHERE path = 'tree/d3.md'")" \
	    "$(stat -c %Y tree/d3.md)"
	pipeline tree
	assert_equal "$(wc -c <ingest.out)" 0
	# --force prints everything all the same.
	rag-ingest -d "$DB" --force tree >forced.out
	assert_equal "$(jq -r .doc forced.out | sort -u | wc -l)" 40
}

@test "cron: editing one file re-embeds and re-indexes only its chunks" {
	make_tree tree 30
	pipeline tree
	sqlite3 "$DB" "SELECT d.path, c.id FROM chunks c JOIN docs d ON d.id = c.doc
	    WHERE d.path != 'tree/d7.md' ORDER BY 1, 2" >before
	echo "A new paragraph about the giraffe." >>tree/d7.md
	touch -d '5 minutes ago' tree/d7.md
	pipeline tree
	assert_equal "$(jq -r .doc ingest.out | sort -u)" "tree/d7.md"
	n=$(wc -l <ingest.out)
	[[ $(cat ingest.err) == *"new 0, changed 1, unchanged 29"* ]]
	[[ $(cat embed.err) == *"$n records embedded"* ]]
	[[ $(cat index.err) == *"indexed 1 documents ($n chunks)"* ]]
	sqlite3 "$DB" "SELECT d.path, c.id FROM chunks c JOIN docs d ON d.id = c.doc
	    WHERE d.path != 'tree/d7.md' ORDER BY 1, 2" >after
	cmp before after
	run -0 rag-query -d "$DB" -k 1 giraffe
	assert_equal "$(jq -r .doc <<<"$output")" tree/d7.md
}

@test "cron: a deleted file is gone from results after --prune" {
	make_tree tree 20
	pipeline --prune tree
	run -0 rag-query -d "$DB" -k 1 topic12
	assert_equal "$(jq -r .doc <<<"$output")" tree/d12.md
	rm tree/d12.md
	pipeline --prune tree
	assert_equal "$(cat ingest.out)" '{"op":"delete","doc":"tree/d12.md"}'
	[[ $(cat index.err) == *"deleted 1,"* ]]
	run -0 rag-query -d "$DB" -k 50 topic12
	[[ $output != *d12.md* ]]
	assert_equal "$(rag status -d "$DB" --json | jq .documents)" 19
	run -0 rag status --check -d "$DB"
}

@test "cron: rag-index killed with SIGKILL at random points leaves a sound store that converges" {
	make_tree tree 300
	rag-ingest --chunk-size 300 tree >stream.jsonl
	# Then deletions, and new versions of some documents.
	for i in $(seq 7 7 300); do echo "{\"op\":\"delete\",\"doc\":\"tree/d$i.md\"}"; done >>stream.jsonl
	for i in $(seq 5 5 300); do echo "Edited: the okapi." >>"tree/d$i.md"; done
	rag-ingest --chunk-size 300 tree/d*5.md tree/d*0.md >>stream.jsonl
	rag-embed --dimensions 32 <stream.jsonl >emb.jsonl
	rag-index -d ref.db emb.jsonl
	# Timed over a store that has it all already, as most runs below
	# are: timed on the first, the kills could all come too late.
	t0=${EPOCHREALTIME/./}
	rag-index -d ref.db emb.jsonl
	ms=$(( (${EPOCHREALTIME/./} - t0) / 1000 + 10 ))
	want=$(dump ref.db)
	killed=0
	for i in $(seq 20); do
		rag-index -d "$DB" emb.jsonl 3>&- &
		pid=$!
		d=$((RANDOM % ms))
		sleep "$((d / 1000)).$(printf %03d $((d % 1000)))"
		kill -9 "$pid" 2>/dev/null || true
		wait "$pid" && rc=0 || rc=$?
		[ "$rc" -eq 137 ] && killed=$((killed + 1))
		[ "$rc" -eq 0 ] || [ "$rc" -eq 137 ]
		[ -e "$DB" ] || continue
		run -0 --separate-stderr rag status --check -d "$DB"
		run -0 --separate-stderr rag-query -d "$DB" -k 3 okapi zebra
		if [ $((i % 10)) -eq 0 ]; then
			# The same input again, whole: exactly the uninterrupted store.
			rag-index -d "$DB" emb.jsonl
			assert_equal "$(dump "$DB")" "$want"
		fi
	done
	echo "# $killed of 20 runs were killed while at work" >&3
	[ "$killed" -ge 5 ]
	rm -f "$DB-vec"
	run -0 rag status --check -d "$DB"
	assert_equal "$(ls "$T" | grep -c 'vec\.tmp')" 0
}

@test "cron: readers during a large index run see each document whole, old or new" {
	# 200 documents; version A has 3 chunks each, version B 4.
	awk 'BEGIN { for (i = 1; i <= 200; i++) {
	    for (j = 0; j < 3; j++) printf "{\"doc\":\"d%d\",\"chunk\":%d,\"nchunks\":3,\"text\":\"zebra d%d vA part%d\"}\n", i, j, i, j
	    for (j = 0; j < 4; j++) printf "{\"doc\":\"d%d\",\"chunk\":%d,\"nchunks\":4,\"text\":\"zebra d%d vB part%d and more\"}\n", i, j, i, j > "b.jsonl" } }' >a.jsonl
	rag-embed --dimensions 32 <a.jsonl >A.jsonl
	rag-embed --dimensions 32 <b.jsonl >B.jsonl
	rag-index -d "$DB" A.jsonl
	# The writer swaps versions, many commits a run, until the readers
	# have had at least 3 s and 8 rounds (however loaded the machine).
	bash -c 'while [ ! -e stop ]; do
	    rag-index -d "$1" B.jsonl && rag-index -d "$1" A.jsonl || exit 1; done' \
	    _ "$DB" 3>&- &
	writer=$!
	n=0 errors=0 end=$((SECONDS + 3))
	while kill -0 "$writer" 2>/dev/null; do
		if [ "$n" -ge 8 ] && [ $SECONDS -ge $end ]; then
			touch stop
			break
		fi
		n=$((n + 1))
		mode=bm25
		[ $((n % 2)) -eq 0 ] && mode=vector
		rag-query -d "$DB" --mode $mode -k 10000 zebra >"q$n.jsonl" 2>>q.err ||
		    errors=$((errors + 1))
		# A second reader at once, racing to rebuild the vector file.
		rag-query -d "$DB" --mode vector -k 10000 zebra >"r$n.jsonl" 2>>q.err &
		wait $! || errors=$((errors + 1))
	done
	wait "$writer"
	echo "# $n queries (x2) while writing" >&3
	assert_equal "$errors" 0
	assert_equal "$(cat q.err)" ""
	[ "$n" -ge 8 ]
	# Per query and document: one version, all its chunks.
	jq -r '[input_filename, .doc, (.text | capture("v(?<v>[AB])").v)] | @tsv' q*.jsonl r*.jsonl |
	    awk -F'\t' '{ k = $1 SUBSEP $2; n[k]++; v[k] = v[k] $3; docs[$1]++ }
	    END {
		for (k in n) {
			if (!(v[k] == "AAA" || v[k] == "BBBB")) { print "torn: " k " " v[k]; bad++ }
			split(k, p, SUBSEP); d[p[1]]++
		}
		for (f in d) if (d[f] != 200) { print f ": " d[f] " documents"; bad++ }
		for (k in v) { if (v[k] ~ /A/) a++; else b++ }
		print a + 0, b + 0 > "versions"
		exit bad > 0 }'
	# Both versions were seen: the readers did overlap the writer.
	read -r a b <versions
	[ "$a" -gt 0 ] && [ "$b" -gt 0 ]
}

@test "cron: two rag add runs at once neither fail nor duplicate anything" {
	make_tree tree 120
	rag add -d ref.db tree
	rag add -d "$DB" tree 3>&- &
	p1=$!
	rag add -d "$DB" tree 3>&- &
	p2=$!
	wait "$p1"
	wait "$p2"
	assert_equal "$(dump "$DB")" "$(dump ref.db)"
	assert_equal "$(sqlite3 "$DB" 'SELECT count(*) FROM docs')" 120
	run -0 rag status --check -d "$DB"
	# And again at once, with nothing to do.
	rag add -d "$DB" tree 3>&- &
	p1=$!
	run -0 rag add -d "$DB" tree
	wait "$p1"
	assert_equal "$(dump "$DB")" "$(dump ref.db)"
}

@test "cron: a second writer waits for the first; past --wait it gives up with 69" {
	make_tree tree 5
	rag-ingest tree >chunks.jsonl
	rag-index -d "$DB" chunks.jsonl
	hold_lock "$DB" 1
	run -0 --separate-stderr rag-index -d "$DB" chunks.jsonl
	wait "$holder"
	hold_lock "$DB" 5
	start=$SECONDS
	run -69 --separate-stderr rag-index --wait 1 -d "$DB" chunks.jsonl
	[ $((SECONDS - start)) -le 3 ]
	[[ $stderr == "rag-index: $DB: BEGIN IMMEDIATE: the store is busy: another process kept it locked for more than 1 s (try again later)" ]]
	kill "$holder"
	wait "$holder" || true
}

@test "cron: SIGTERM while waiting for the lock commits nothing and exits 143 at once" {
	make_tree tree 5
	rag-ingest tree >chunks.jsonl
	rag-index -d "$DB" </dev/null
	hold_lock "$DB" 10
	rag-index -d "$DB" chunks.jsonl 2>err 3>&- &
	pid=$!
	sleep 0.5
	start=$SECONDS
	kill -TERM "$pid"
	wait "$pid" && rc=0 || rc=$?
	assert_equal "$rc" 143
	[ $((SECONDS - start)) -le 2 ]
	assert_equal "$(cat err)" "rag-index: interrupted by SIGTERM: committed 0 documents and 0 deletions; nothing else was written"
	kill "$holder"
	wait "$holder" || true
	assert_equal "$(sqlite3 "$DB" 'SELECT count(*) FROM docs')" 0
}

@test "cron: SIGINT between batches exits 130, keeping what was committed" {
	make_tree tree 6
	rag-ingest tree/d[1-3].md >part1
	rag-ingest tree/d[4-6].md >part2
	mkfifo in
	# Background jobs of a script ignore SIGINT; undo that for rag-index.
	/usr/bin/python3 -c 'import os, signal, sys
signal.signal(signal.SIGINT, signal.SIG_DFL)
os.execvp("rag-index", ["rag-index"] + sys.argv[1:])' -d "$DB" <in 2>err 3>&- &
	pid=$!
	exec 4>in
	cat part1 >&4
	for _ in $(seq 100); do
		[ "$(sqlite3 "$DB" 'SELECT count(*) FROM docs' 2>/dev/null)" = 3 ] && break
		sleep 0.05
	done
	kill -INT "$pid"
	wait "$pid" && rc=0 || rc=$?
	exec 4>&-
	assert_equal "$rc" 130
	assert_equal "$(cat err)" "rag-index: interrupted by SIGINT: committed 3 documents and 0 deletions; nothing else was written"
	assert_equal "$(sqlite3 "$DB" 'SELECT count(*) FROM docs')" 3
	run -0 rag status --check -d "$DB"
}

# 200 documents of 2,000 distinct words each: one batch of rag-index
# (at most 256 documents), and megabytes in the store.
big_batch() {
	awk 'BEGIN { for (i = 0; i < 200; i++) { printf "{\"doc\":\"big%d\",\"text\":\"", i
	    for (j = 0; j < 2000; j++) printf "w%d_%d ", i, j; print "\"}" } }'
}

@test "cron: SIGTERM to rag add stops its stages too, and names the one stopped" {
	mkfifo in
	rag add -d "$DB" - <in 2>err 3>&- &
	pid=$!
	exec 4>in
	sleep 0.5
	start=$SECONDS
	kill -TERM "$pid"
	wait "$pid" && rc=0 || rc=$?
	exec 4>&-
	assert_equal "$rc" 143
	[ $((SECONDS - start)) -le 2 ]
	assert_equal "$(cat err)" "rag-index: interrupted by SIGTERM: committed 0 documents and 0 deletions; nothing else was written
rag: add: rag-ingest was killed by signal 15"
}

@test "cron: a write past the file size limit is an I/O error (74); the store stays as it was" {
	make_tree tree 10
	rag-ingest tree | rag-index -d "$DB"
	before=$(dump "$DB")
	# Far more than the 2 MiB the limit lets the store grow.
	big_batch >big.jsonl
	size=$(( ($(stat -c %s "$DB") + 2 * 1024 * 1024) / 1024 ))
	run -74 --separate-stderr bash -c 'trap "" XFSZ; ulimit -f "$1"; exec rag-index -d "$2" big.jsonl' _ "$size" "$DB"
	[[ $stderr == "rag-index: $DB: "*"I/O error"* || $stderr == *"is full"* ]]
	assert_equal "$(dump "$DB")" "$before"
	run -0 rag status --check -d "$DB"
}

# Root may mount a small file system: a real full disk.
@test "cron: a full disk is an I/O error (74); the store stays as it was" {
	[ "$(id -u)" -eq 0 ] || skip "needs root to mount a small tmpfs"
	mkdir small
	mount -t tmpfs -o size=2m tmpfs small 2>/dev/null || skip "cannot mount a tmpfs here"
	make_tree tree 10
	rag-ingest tree | rag-index -d small/kb.db
	before=$(dump small/kb.db)
	big_batch >big.jsonl
	run -74 --separate-stderr rag-index -d small/kb.db big.jsonl
	after=$(dump small/kb.db)
	run -0 rag status --check -d small/kb.db
	umount small
	[[ $stderr == "rag-index: small/kb.db: "*"full"* ]]
	assert_equal "$after" "$before"
}

@test "cron: an unwritable store is an I/O error (74) named as such" {
	make_tree tree 3
	mkdir ro
	rag-ingest tree | rag-index -d ro/kb.db
	if [ "$(id -u)" -ne 0 ]; then
		chmod a-w ro ro/kb.db
	elif mount -t tmpfs tmpfs ro 2>/dev/null; then
		umount ro
		cp "$T/ro/kb.db" kb.copy
		mount -t tmpfs tmpfs ro
		cp kb.copy ro/kb.db
		mount -o remount,ro ro
	else
		skip "root, and cannot mount a tmpfs to make read-only"
	fi
	run -74 --separate-stderr rag-index -d ro/kb.db <<<'{"doc":"x","text":"y"}'
	[ "$(id -u)" -ne 0 ] || umount ro
	assert_equal "$stderr" "rag-index: ro/kb.db: cannot write the store: permission denied or a read-only file system"
}

@test "rag status --check: a sound store passes; damage is named and exits 65" {
	make_tree tree 8
	rag-ingest tree | rag-embed --dimensions 16 | rag-index -d "$DB"
	run -0 --separate-stderr rag status --check --format text -d "$DB"
	[[ $output == *"check           ok"* ]]
	assert_equal "$stderr" ""
	run -0 rag status --check --json -d "$DB"
	assert_equal "$(jq -c .problems <<<"$output")" "[]"
	# A vector file that claims to be fresh but is not the store's.
	cp "$DB-vec" vec.bak
	# (4096 bytes of header, 8 ids, 8 document ids, then the rows: this
	# changes the document of a row.)
	printf 'XXXX' | dd of="$DB-vec" bs=1 seek=4200 conv=notrunc 2>/dev/null
	run -65 --separate-stderr rag status --check -d "$DB"
	assert_equal "$stderr" "rag: status: $DB: vector file rows that differ from the store though it is marked fresh: 1 of 8 ($DB-vec)"
	cp vec.bak "$DB-vec"
	# A lost vector, a ghost in the full-text index, a wrong count:
	# written past the store's generation, so the vector file still
	# claims to be fresh, and its differences are named too (the lost
	# vector moves the rows of the postings of 40 terms; and the ghost).
	sqlite3 "$DB" "DELETE FROM vectors WHERE chunk = (SELECT min(id) FROM chunks);
	    INSERT INTO fts(rowid, title, section, body) VALUES (999, '', '', 'ghost');
	    UPDATE docs SET nchunks = 9 WHERE path = 'tree/d2.md'"
	run -65 --separate-stderr rag status --check --json -d "$DB"
	assert_equal "$(jq -r '.problems[]' <<<"$output")" "documents with another number of chunks than they say: 1 (first: 'tree/d2.md')
full-text index rows of no chunk: 1 (first: 999)
full-text index terms the chunks do not have, or not as often: 1 (first: 'ghost')
chunks with other word counts in the full-text index: 1 (first: chunk 999)
chunks without a vector: 1 (first: chunk 1)
vector file rows that differ from the store though it is marked fresh: 1 of 8 ($DB-vec)
vector file terms whose statistics or postings differ from the full-text index: 41 ($DB-vec)"
	assert_equal "${#stderr_lines[@]}" 7
}

@test "rag status: the last indexing time, the model and the freshness of the vector file" {
	make_tree tree 3
	rag-ingest tree | rag-embed --dimensions 16 | rag-index -d "$DB"
	run -0 rag status --json -d "$DB"
	assert_equal "$(jq -c '[.model, .dimensions, .vectors_fresh, (now - .last_indexed < 60)]' <<<"$output")" \
	    '["local:hash-v1-16",16,true,true]'
	echo '{"op":"delete","doc":"tree/d1.md"}' | rag-index -d "$DB"
	rm "$DB-vec"
	run -0 rag status --format text -d "$DB"
	[[ $output == *"vector file stale (rebuilt by the next query)"* ]]
	rag-query -d "$DB" zebra >/dev/null
	run -0 rag status --format text -d "$DB"
	[[ $output == *"vector file fresh"* ]]
}
