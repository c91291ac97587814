#!/usr/bin/env bats
# hostile: input built to hurt, and failures around the programs
# (issue 8).  Huge files and records are handled within documented
# memory caps; stores that are damaged, foreign or too new are refused
# and left as they were; unreadable files, link loops, files that
# change while being read and bytes that are not UTF-8 are reported or
# repaired, and the rest is processed; output to a full disk is exit 74
# and a closed pipe ends quietly.  Model servers that flood, stall or
# close mid-reply are in answers.bats and providers.bats; the parsers'
# fuzzing is in tests/fuzz (see tests/README).
bats_require_minimum_version 1.5.0
load helpers

# Peak memory of a command, in KiB, into $T/rss: maxrss CMD ARGS...
# ASan keeps freed memory in quarantine; measure what the program
# itself holds.
maxrss() {
	ASAN_OPTIONS="${ASAN_OPTIONS:-}:quarantine_size_mb=0" \
	    python3 "$BATS_TEST_DIRNAME/lib/maxrss" "$T/rss" "$@"
}

# Assert that the last maxrss was under $1 MiB.
rss_under() {
	local kb
	kb=$(cat "$T/rss")
	[ "$kb" -lt $(($1 * 1024)) ] || {
		echo "peak memory $((kb / 1024)) MiB, not under $1 MiB" >&2
		return 1
	}
}

# A record of document $1 with text $2, on one line.
rec() {
	jq -nc --arg d "$1" --arg t "$2" '{doc: $d, text: $t}'
}

teardown() {
	[ -n "${WRITER:-}" ] && kill "$WRITER" 2>/dev/null
	[ -n "${MANY:-}" ] && rm -rf "$MANY"
	return 0
}

# Is standard input valid UTF-8?
utf8() {
	iconv -f UTF-8 -t UTF-8 >/dev/null 2>&1
}

# --- Bounded memory --------------------------------------------------

@test "hostile: a 1 GB single-line file is skipped by its size, unread; from a pipe, cut at the cap" {
	# Sparse: it costs no disk, and is never read.
	printf 'one line that never ends ' >line.txt
	truncate -s 1G line.txt
	echo "a small note about the lease" >ok.txt
	run -65 --separate-stderr maxrss rag-ingest line.txt ok.txt
	assert_equal "$stderr" "rag-ingest: line.txt: skipped: 1073741824 bytes is more than --max-size 33554432"
	assert_equal "$(jq -r .doc <<<"$output")" "ok.txt"
	rss_under 64
	# From a pipe, reading stops at the cap.
	run -65 --separate-stderr maxrss rag-ingest - <line.txt
	assert_equal "$stderr" "rag-ingest: <stdin>: skipped: more than --max-size 33554432 bytes"
	rss_under 128
}

@test "hostile: raised --max-size, a huge one-line file is chunked in memory of a few times its size" {
	head -c 8000000 /dev/zero | tr '\0' 'w' >one.txt
	maxrss rag-ingest --max-size 10000000 one.txt >out
	assert_equal "$(wc -l <out)" 8000
	assert_equal "$(tail -1 out | jq -c '[.chunk, .nchunks, (.text | length)]')" "[7999,8000,1000]"
	rss_under 48
}

@test "hostile: a 500 MB Markdown file is skipped by its size; --max-size names the cap" {
	mkdir docs
	printf '# Title\n\nSome text.\n' >docs/huge.md
	truncate -s 500M docs/huge.md
	echo "# Small" >docs/small.md
	run -65 --separate-stderr maxrss rag-ingest docs
	assert_equal "$stderr" "rag-ingest: docs/huge.md: skipped: 524288000 bytes is more than --max-size 33554432"
	assert_equal "$(jq -r .doc <<<"$output")" "docs/small.md"
	rss_under 64
}

@test "hostile: a JSON record with a 100 MB string is skipped by every reader, the rest read" {
	python3 -c '
import json, sys
sys.stdout.write("{\"doc\":\"big\",\"text\":\"" + "x" * 100000000 + "\"}\n")
print(json.dumps({"doc": "small", "text": "The lease ends in May."}))' >big.jsonl
	# rag-index reads records with jsonl_next (as rag-ingest --json,
	# rag-answer and rag-eval do), rag-embed reads lines.
	for p in rag-embed "rag-index -d $DB"; do
		# shellcheck disable=SC2086
		run -65 --separate-stderr maxrss $p <big.jsonl
		assert_equal "${stderr_lines[0]}" "${p%% *}: <stdin>:1: line is longer than 67108864 bytes"
		rss_under 200
	done
	assert_equal "$(rag-query -d "$DB" lease | jq -r .doc)" small
}

@test "hostile: a directory of 100000 empty files is walked in bounded memory" {
	# In memory when there is a tmpfs: creating them is most of the time.
	many=$(mktemp -d /dev/shm/ragpipe-many.XXXXXX 2>/dev/null) || many=$T/many
	MANY=$many
	(cd "$many" && seq -w 1 100000 | sed 's/$/.txt/' | xargs touch -d '1 hour ago')
	maxrss rag-ingest "$many" >out
	assert_equal "$(wc -l <out)" 100000
	assert_equal "$(tail -1 out)" '{"doc":"'"$many"'/100000.txt","nchunks":0,"doc_sha256":"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855","mtime":'"$(stat -c %Y "$many/100000.txt")"',"size":0}'
	rss_under 64
}

@test "hostile: deeply nested and unclosed HTML is extracted in linear time and bounded memory" {
	python3 -c '
n = 300000
open("nest.html", "w").write("<body>" + "<div>" * n + "<p>The deepest paragraph.</p>" + "</div>" * n)
open("open.html", "w").write("<body>" + "<b><i><span>" * n + "Never closed.")'
	run -0 --separate-stderr maxrss rag-ingest nest.html open.html
	assert_equal "$(jq -r .text <<<"$output" | paste -sd,)" "The deepest paragraph.,Never closed."
	rss_under 64
}

# --- Stores that are not what they should be ---------------------------

# A store with one document, as $DB.
one_doc_store() {
	rec notes/a.md "The lease ends in May." | rag-index -d "$DB"
}

# Run every program that opens the store on $1 and check each exits $2
# with message $3 (after "prog: "), leaving the file as it was.
refused_by_all() {
	local db=$1 code=$2 msg=$3 sum p
	sum=$(sha256sum <"$db")
	for p in "rag-query -d $db lease" "rag status -d $db" \
	    "rag status --check -d $db" "rag-ingest -d $db ok.txt" \
	    "rag-index -d $db"; do
		# shellcheck disable=SC2086
		run -"$code" --separate-stderr $p <<<'{"doc":"b","text":"new"}'
		assert_equal "$stderr" "${p%% *}: $msg"
		assert_equal "$output" ""
	done
	assert_equal "$(sha256sum <"$db")" "$sum"
}

@test "hostile: a store cut short is refused by every program (65) and left as it was" {
	echo "a note" >ok.txt
	one_doc_store
	sqlite3 "$DB" 'PRAGMA wal_checkpoint(TRUNCATE)' >/dev/null
	cp "$DB" cut.db
	truncate -s $(($(stat -c %s "$DB") / 2)) cut.db
	refused_by_all cut.db 65 "cut.db: open: database disk image is malformed"
	# Cut inside the header, it is not even a database.
	head -c 100 "$DB" >head.db
	refused_by_all head.db 65 "head.db: open: database disk image is malformed"
}

@test "hostile: a file that is not SQLite, or not ours, is refused (65) and left alone" {
	echo "a note" >ok.txt
	head -c 20000 /dev/urandom >noise.db
	refused_by_all noise.db 65 "noise.db: open: file is not a database"
	sqlite3 theirs.db 'CREATE TABLE accounts(id, balance)'
	refused_by_all theirs.db 65 "theirs.db: not a ragpipe store"
}

@test "hostile: a store of a newer schema version is refused (65), never migrated back" {
	echo "a note" >ok.txt
	one_doc_store
	sqlite3 "$DB" 'PRAGMA user_version = 99' >/dev/null
	refused_by_all "$DB" 65 "$DB: store schema version 99 is newer than this ragpipe supports (3)"
	assert_equal "$(sqlite3 "$DB" 'PRAGMA user_version')" 99
}

@test "hostile: a store whose dimensions are nonsense is refused (65) where they are read, and left as it was" {
	rec notes/a.md "The lease ends in May." | rag-embed | rag-index -d "$DB"
	dim=$(sqlite3 "$DB" "SELECT value FROM meta WHERE key = 'embed_dim'")
	for v in -5 0 abc 2000000000 " 12"; do
		sqlite3 "$DB" "UPDATE meta SET value = '$v' WHERE key = 'embed_dim'"
		sum=$(sha256sum <"$DB")
		for p in "rag-query -d $DB lease" "rag status -d $DB" \
		    "rag status --check -d $DB" "rag-index -d $DB"; do
			# shellcheck disable=SC2086
			run -65 --separate-stderr $p <<<'{"doc":"b","text":"new"}'
			assert_equal "$stderr" "${p%% *}: $DB: damaged: its embed_dim is '$v', not a number of dimensions from 1 to 65536"
			assert_equal "$output" ""
		done
		assert_equal "$(sha256sum <"$DB")" "$sum"
	done
	sqlite3 "$DB" "UPDATE meta SET value = '$dim' WHERE key = 'embed_dim'"
	run -0 rag-query -d "$DB" lease
	sqlite3 "$DB" "UPDATE meta SET value = '-1' WHERE key = 'embed_dimensions'"
	run -65 --separate-stderr rag-query -d "$DB" lease
	assert_equal "$stderr" "rag-query: $DB: damaged: its embed_dimensions is '-1', not a number of dimensions from 0 to 65536"
}

# --- Files that fight back -----------------------------------------------

# Make $T reachable to other users.
reachable() {
	local d=$T
	while [ "$d" != / ]; do
		chmod o+x "$d" 2>/dev/null
		d=$(dirname "$d")
	done
	chmod -R o+rwX "$T"
}

# Run a command as nobody (root reads anything: the unreadable cases
# need a user that cannot).
as_nobody() {
	setpriv --reuid=nobody --regid=nogroup --clear-groups \
	    env HOME="$T" PATH="$PATH" ASAN_OPTIONS="${ASAN_OPTIONS:-}" \
	    UBSAN_OPTIONS="${UBSAN_OPTIONS:-}" "$@"
}

@test "hostile: unreadable files and directories are reported, the others processed (74)" {
	command -v setpriv >/dev/null || skip "setpriv (util-linux) is not installed"
	mkdir -p tree/locked tree/open
	echo "words in a readable file" >tree/open/a.txt
	echo "words in a locked file" >tree/open/locked.txt
	echo "words in a locked directory" >tree/locked/b.txt
	one_doc_store
	reachable
	chmod 000 tree/open/locked.txt tree/locked
	run -74 --separate-stderr as_nobody rag-ingest tree
	assert_equal "$(jq -r .doc <<<"$output" | uniq)" "tree/open/a.txt"
	assert_equal "$stderr" "rag-ingest: tree/locked: Permission denied
rag-ingest: tree/open/locked.txt: Permission denied"
	# A store that cannot be read is one too.
	chmod 000 "$DB"
	run -74 --separate-stderr as_nobody rag-query -d "$DB" lease
	assert_equal "$stderr" "rag-query: $DB: cannot open store: Permission denied"
	chmod 644 "$DB"
}

@test "hostile: symbolic link loops are reported, never followed round" {
	mkdir -p tree/sub
	echo "a file among loops" >tree/sub/f.txt
	ln -s b tree/a
	ln -s a tree/b
	ln -s ../.. tree/sub/up
	ln -s self tree/self
	run -0 --separate-stderr rag-ingest -v tree
	assert_equal "$(jq -r .doc <<<"$output" | uniq)" "tree/sub/f.txt"
	assert_equal "${stderr_lines[0]}" "rag-ingest: tree/a: skipped: symbolic link loop"
	assert_equal "${stderr_lines[1]}" "rag-ingest: tree/b: skipped: symbolic link loop"
	assert_equal "${stderr_lines[2]}" "rag-ingest: tree/self: skipped: symbolic link loop"
	assert_equal "${stderr_lines[3]}" "rag-ingest: tree/sub/up: skipped: symbolic link to a directory"
	run -74 --separate-stderr rag-ingest tree/a
	assert_equal "$stderr" "rag-ingest: tree/a: Too many levels of symbolic links"
}

@test "hostile: a file that keeps changing while being read is skipped, not indexed torn (74)" {
	: >grow.txt
	truncate -s 64M grow.txt
	echo "a quiet file" >calm.txt
	# A writer in a shell of its own (bats' traps would slow its
	# loop), on the CPU the reader uses: each read of 64 MiB takes
	# longer than the scheduler lets it run with another waiting.
	taskset -c 0 bash -c 'while :; do printf "more\n" >>grow.txt; done' 3>&- &
	WRITER=$!
	while [ "$(stat -c %s grow.txt)" -le 67108864 ]; do sleep 0.01; done
	run -74 --separate-stderr taskset -c 0 rag-ingest --max-size 100000000 grow.txt calm.txt
	kill "$WRITER"
	wait "$WRITER" || true
	WRITER=
	assert_equal "$stderr" "rag-ingest: grow.txt: skipped: changed while being read (3 times)"
	assert_equal "$(jq -r .doc <<<"$output")" "calm.txt"
	# One whose size lies (as /proc's do) is read as it is, to the cap.
	run -65 --separate-stderr rag-ingest --max-size 100 /proc/self/maps
	assert_equal "$stderr" "rag-ingest: /proc/self/maps: skipped: grew past --max-size 100 while being read"
}

@test "hostile: bytes that are not UTF-8, anywhere, come out as valid UTF-8" {
	mkdir d && cd d
	name=$(printf 'caf\xe9.md')
	printf 'menu \xff\xfe du jour\n' >"$name"
	run -0 --separate-stderr rag-ingest "$name"
	utf8 <<<"$output"
	assert_equal "$(jq -r '[.doc, .text] | @tsv' <<<"$output")" "$(printf 'caf\xef\xbf\xbd.md\tmenu \xef\xbf\xbd\xef\xbf\xbd du jour')"
	# The name's identity holds from run to run: not new, not pruned.
	rag-ingest "$name" | rag-index -d "$DB"
	touch -d '2 hours ago' "$name"
	rag-ingest "$name" | rag-index -d "$DB"
	run -0 --separate-stderr rag-ingest -d "$DB" --prune .
	assert_equal "$output" ""
	cd "$T"
	# In records, in questions and in hits.
	printf '{"doc":"r\xc3","text":"bad \xc0\xaf bytes and a lease"}\n' >bad.jsonl
	run -0 --separate-stderr rag-index -d "$DB" bad.jsonl
	run -0 --separate-stderr rag-query -d "$DB" "$(printf 'lease \xff')"
	utf8 <<<"$output"
	assert_equal "$(jq -r .doc <<<"$output" | grep '^r')" "$(printf 'r\xef\xbf\xbd')"
	assert_equal "$(jq -r .query <<<"$output" | uniq)" "$(printf 'lease \xef\xbf\xbd')"
	printf '{"query":"when does the lease end\xfe","doc":"d\xfe","text":"The lease ends \xfe in May."}\n' >hits
	run -0 --separate-stderr rag-answer --json hits
	utf8 <<<"$output"
}

@test "hostile: NUL bytes: binary files are skipped, text and records repaired" {
	printf 'text\0with a NUL' >nul.txt
	run -0 --separate-stderr rag-ingest -v nul.txt
	assert_equal "$output" ""
	assert_equal "${stderr_lines[0]}" "rag-ingest: nul.txt: skipped: binary file"
	run -0 --separate-stderr rag-ingest --name n - <nul.txt
	assert_equal "$(jq -r .text <<<"$output")" "text with a NUL"
	# An escaped NUL in a record neither ends its string nor is kept.
	printf '{"doc":"a\\u0000b","text":"one\\u0000two"}\n' >nul.jsonl
	run -0 --separate-stderr rag-index -d "$DB" nul.jsonl
	run -0 --separate-stderr rag-query -d "$DB" two
	assert_equal "$(jq -r '[.doc, .text] | @tsv' <<<"$output")" "$(printf 'a\xef\xbf\xbdb\tone\xef\xbf\xbdtwo')"
}

# --- Output that goes nowhere ----------------------------------------------

@test "hostile: every program's output to a full disk is exit 74 with one message" {
	one_doc_store
	for c in "rag --help" "rag --version" "rag-ingest --help" \
	    "rag-ingest --version" "rag-embed --help" "rag-embed --version" \
	    "rag-index --help" "rag-index --version" "rag-query --help" \
	    "rag-query --version" "rag-answer --help" "rag-answer --version" \
	    "rag-eval --help" "rag-eval --version" "rag add --help" \
	    "rag status -d $DB" "rag status --format text -d $DB" \
	    "rag config" "rag-index --json -d $DB"; do
		run -74 --separate-stderr bash -c "$c </dev/null >/dev/full"
		assert_equal "$stderr" "${c%% *}: <stdout>: write error: No space left on device"
	done
	# rag ask: its second stage writes, and rag says which failed.
	run -74 --separate-stderr bash -c "rag ask -d '$DB' lease >/dev/full"
	assert_equal "$stderr" "rag-answer: <stdout>: write error: No space left on device
rag: ask: rag-answer failed (exit status 74)"
}

@test "hostile: every program's output to a closed pipe ends quietly, exit 0" {
	one_doc_store
	for c in "rag --help" "rag-ingest --help" "rag-embed --help" \
	    "rag-index --help" "rag-query --help" "rag-answer --help" \
	    "rag-eval --help" "rag status --format text -d $DB" \
	    "rag ask -d $DB lease" "rag config"; do
		run -0 --separate-stderr bash -c "$c </dev/null | head -c1 >/dev/null; exit \${PIPESTATUS[0]}"
		assert_equal "$stderr" ""
	done
}
