#!/usr/bin/env bats
# Progress lines: on a terminal, or with --progress; never otherwise.
bats_require_minimum_version 1.5.0
load helpers

# A producer that writes its arguments as lines, 1.5 s apart: rag-index
# commits what it has once its input has been quiet for a second, and
# draws its progress then.
setup_file() {
	cat >"$BATS_FILE_TMPDIR/slow" <<'SH'
#!/bin/sh
for line; do echo "$line"; sleep 1.5; done
SH
	chmod +x "$BATS_FILE_TMPDIR/slow"
}

slow() {
	"$BATS_FILE_TMPDIR/slow" '{"doc":"a","text":"alpha words"}' \
	    '{"doc":"b","text":"beta words"}' "$@"
}

@test "progress: rag-index --progress draws a line on stderr and erases it" {
	mkfifo records.pipe
	slow >records.pipe &
	run -0 --separate-stderr rag-index --progress -d "$DB" <records.pipe
	assert_equal "$output" ""
	[[ $stderr == $'\r'"rag-index: "[12]" chunks indexed, "*"/s"* ]]
	[[ $stderr == *$'\r\e[K' ]]
}

@test "progress: piped, stderr carries nothing but errors" {
	mkfifo records.pipe
	slow >records.pipe &
	run -0 --separate-stderr rag-index -d "$DB" <records.pipe
	assert_equal "$stderr" ""
	run -0 --separate-stderr rag-ingest "$FIXTURES/docs"
	assert_equal "$stderr" ""
}

@test "progress: under a terminal rag-index shows it; --quiet and --no-progress do not" {
	command -v script >/dev/null || skip "script(1) is not installed"
	mkfifo records.pipe
	slow >records.pipe &
	run -0 script -qec "rag-index -d $DB <records.pipe" /dev/null
	[[ $output == *"rag-index: "[12]" chunks indexed"* ]]
	slow >records.pipe &
	run -0 script -qec "rag-index -q -d $T/q.db <records.pipe" /dev/null
	[[ $output != *"chunks indexed"* ]]
	slow >records.pipe &
	run -0 script -qec "rag-index --no-progress -d $T/n.db <records.pipe" /dev/null
	[[ $output != *"chunks indexed"* ]]
}

@test "progress: an error message replaces the line instead of joining it" {
	mkfifo records.pipe
	slow bad >records.pipe &
	run -65 --separate-stderr rag-index --progress -d "$DB" <records.pipe
	[[ $stderr == *$'\r\e[K'"rag-index: <stdin>:3: not valid JSON"* ]]
}
