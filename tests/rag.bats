#!/usr/bin/env bats
# rag: the front command.
bats_require_minimum_version 1.5.0
load helpers

@test "rag: 'rag X' runs rag-X with its arguments" {
	run -0 rag ingest --version
	[[ $output == "rag-ingest (ragpipe) "* ]]
	run -0 rag query --help
	[[ ${lines[0]} == "usage: rag-query"* ]]
}

@test "rag: finds its programs beside itself before PATH" {
	mkdir bin fake
	cp "$RAG_BUILD/rag" "$RAG_BUILD/rag-ingest" bin/
	printf '#!/bin/sh\necho impostor\n' >fake/rag-ingest
	chmod +x fake/rag-ingest
	run -0 env PATH="$T/fake:/usr/bin:/bin" "$T/bin/rag" ingest --version
	[[ $output == "rag-ingest (ragpipe) "* ]]
	printf '#!/bin/sh\necho from-path\n' >fake/rag-query
	chmod +x fake/rag-query
	run -0 env PATH="$T/fake:/usr/bin:/bin" "$T/bin/rag" query --version
	assert_equal "$output" from-path
	run -69 --separate-stderr env PATH="/usr/bin:/bin" "$T/bin/rag" index --version
	assert_equal "$stderr" "rag: cannot run 'rag-index': No such file or directory"
}

@test "rag: an unknown command is exit 2 with a hint" {
	run -2 --separate-stderr rag frob
	assert_equal "$stderr" "rag: 'frob' is not a rag command (see rag --help)"
	run -2 --separate-stderr rag
	[[ $stderr == "usage: rag "* ]]
}

@test "rag: --help lists the commands" {
	run -0 rag --help
	for c in add answer ask embed eval index ingest query status; do
		assert_line --partial "  $c "
	done
}

@test "rag status: text on a terminal, JSON on a pipe; --format and --json choose" {
	rag-ingest "$FIXTURES/docs" | rag-index -d "$DB"
	run -0 rag status -d "$DB"
	assert_equal "$(jq -r .documents <<<"$output")" 5
	run -0 rag status -d "$DB" --json
	assert_equal "$(jq -r '[.documents, .schema_version] | @tsv' <<<"$output")" "5	3"
	for k in documents chunks bytes schema_version stored_bytes file_bytes last_indexed db; do
		assert_equal "$(jq "has(\"$k\")" <<<"$output")" true
	done
	run -0 rag status -d "$DB" --format text
	assert_line "documents       5"
	if command -v script >/dev/null; then
		run -0 script -qec "rag status -d $DB" /dev/null
		[[ $output == *"documents       5"* ]]
	fi
	run -2 --separate-stderr rag status -d "$DB" --format yaml
	assert_equal "$stderr" "rag: --format: 'yaml' is not text or json"
	run -74 --separate-stderr rag status -d "$T/none.db"
	[[ $stderr == "rag: $T/none.db: cannot open store: No such file or directory" ]]
}

@test "rag add: ingest, embed and index in one go; options reach their stage" {
	cp -r "$FIXTURES/docs" notes
	run -0 --separate-stderr rag add -d "$DB" --chunk-size 300 --dimensions 128 notes
	assert_equal "$stderr" ""
	run -0 rag status -d "$DB" --json
	assert_equal "$(jq -c '[.documents, .model]' <<<"$output")" '[5,"local:hash-v1-128"]'
	run -2 --separate-stderr rag add -d "$DB" --frob notes
	[[ $stderr == *"usage: rag add"* ]]
}

@test "rag add: a failing stage is named and sets the status" {
	run -2 --separate-stderr rag add -d "$DB" --chunk-size 10 "$FIXTURES/docs"
	assert_equal "${stderr_lines[-1]}" "rag: add: rag-ingest failed (exit status 2)"
	echo "not json" >bad.jsonl
	run -65 --separate-stderr rag add -d "$DB" --json bad.jsonl
	assert_equal "${stderr_lines[0]}" "rag-ingest: bad.jsonl:1: not valid JSON"
	assert_equal "${stderr_lines[1]}" "rag: add: rag-ingest failed (exit status 65)"
}

@test "rag ask: answers from the store with a doc:line citation, offline" {
	cp -r "$FIXTURES/docs" notes
	rag add -d "$DB" notes
	run -0 rag ask -d "$DB" when does the lease end
	assert_line --index 0 "The lease ends on 31 May 2027 [1]."
	assert_line --index 1 "Sources:"
	src=$(sed -n 's/^\[1\] //p' <<<"$output")
	line=${src##*:}
	sed -n "${line}p" "${src%:*}" | grep -q "The lease ends on 31 May 2027"
	run -0 rag ask -d "$DB" --json "how often does the boiler need a service"
	assert_equal "$(jq -r '.citations[0].doc' <<<"$output")" notes/boiler.html
}

@test "rag ask: no relevant text is an honest no answer with status 3" {
	cp -r "$FIXTURES/docs" notes
	rag add -d "$DB" notes
	run -3 --separate-stderr rag ask -d "$DB" "zeppelin xylophone"
	assert_equal "$output" "No answer found in the indexed documents."
	assert_equal "$stderr" ""
}

@test "rag ask: a store that cannot be opened is an error, not also no answer" {
	run -74 --separate-stderr rag ask -d "$T/none.db" "when does the lease end"
	assert_equal "$output" ""
	assert_equal "${stderr_lines[0]}" "rag-query: $T/none.db: cannot open store: No such file or directory"
	assert_equal "${stderr_lines[1]}" "rag: ask: rag-query failed (exit status 74)"
	# Questions on stdin: the answers still stream as the hits come.
	cp -r "$FIXTURES/docs" notes
	rag add -d "$DB" notes
	run -0 --separate-stderr rag ask -d "$DB" <<<"when does the lease end"
	assert_line --index 0 "The lease ends on 31 May 2027 [1]."
}

@test "rag add: a stage that cannot be started is exit 69, named" {
	mkdir bin
	cp "$RAG_BUILD/rag" "$RAG_BUILD/rag-ingest" "$RAG_BUILD/rag-embed" bin/
	run -69 --separate-stderr env PATH="/usr/bin:/bin" "$T/bin/rag" add -d "$DB" "$FIXTURES/docs"
	assert_equal "${stderr_lines[0]}" "rag: add: cannot run 'rag-index': No such file or directory"
	[ ! -e "$DB" ]
}
