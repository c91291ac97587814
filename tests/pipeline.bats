#!/usr/bin/env bats
# The stages together, as users run them.
bats_require_minimum_version 1.5.0
load helpers

@test "pipeline: ingest | index, then query cites doc:line of the real text" {
	cp -r "$FIXTURES/docs" notes
	rag-ingest notes >chunks.jsonl
	rag-index -d "$DB" <chunks.jsonl
	run -0 rag-query -d "$DB" -k 1 "how often does the boiler need a service"
	assert_equal "$(jq -r .doc <<<"$output")" notes/boiler.html
	assert_equal "$(jq -r '.text | contains("service every twelve months")' <<<"$output")" true
	# The cited line is where the chunk's first words are in the file.
	line=$(jq -r .line <<<"$output")
	first=$(jq -r '.text | split("\n")[0] | split(" ")[0:2] | join(" ")' <<<"$output")
	sed -n "${line}p" notes/boiler.html | grep -qF "$first"
}

@test "pipeline: stages compose with jq and grep in between" {
	cp -r "$FIXTURES/docs" notes
	rag-ingest notes | jq -c 'select(.doc | endswith(".md"))' >md.jsonl
	rag-index -d "$DB" <md.jsonl
	assert_equal "$(rag status -d "$DB" --json | jq .documents)" 1
	rag-query -d "$DB" -k 3 rent | jq -r .doc | sort -u >docs
	assert_equal "$(cat docs)" notes/lease.md
}

@test "pipeline: deletions flow through the stream like chunks" {
	cp -r "$FIXTURES/docs" notes
	rag-ingest notes | rag-index -d "$DB"
	{ echo '{"op":"delete","doc":"notes/lease.md"}'; rag-ingest notes/sub/recipes.txt; } | rag-index -d "$DB"
	run -0 rag-query -d "$DB" "lease rent"
	[[ $output != *lease.md* ]]
	assert_equal "$(rag status -d "$DB" --json | jq .documents)" 4
}
