#!/usr/bin/env bats
# rag-answer: extractive answers with numbered citations, from hit records.
bats_require_minimum_version 1.5.0
load helpers

setup_file() {
	export ADB=$BATS_FILE_TMPDIR/a.db
	cd "$BATS_FILE_TMPDIR" || return 1
	cp -r "$BATS_TEST_DIRNAME/fixtures/docs" notes
	PATH=${RAG_BUILD:-$BATS_TEST_DIRNAME/../build}:$PATH
	rag-ingest notes | rag-index -d "$ADB"
}

# A hit record: hit DOC TEXT [QUERY [extra jq fields]].
hit() {
	jq -nc --arg doc "$1" --arg text "$2" --arg q "${3:-boiler pressure}" \
	    "{query: \$q, doc: \$doc, text: \$text, line: 1, start: 0, chunk: 0} + (${4:-{\}})"
}

# Query the fixture store from the directory it was built in.
query() {
	(cd "$BATS_FILE_TMPDIR" && rag-query -d "$ADB" "$@")
}

@test "rag-answer: the lease question is answered from the store, citing the real line" {
	query "when does the lease end" >"$T/hits"
	run -0 --separate-stderr rag-answer <"$T/hits"
	assert_equal "$stderr" ""
	assert_equal "${lines[0]}" "The lease ends on 31 May 2027 [1]."
	assert_equal "${lines[1]}" "Sources:"
	[[ ${lines[2]} =~ ^\[1\]\ notes/lease\.md:([0-9]+)$ ]]
	n=${BASH_REMATCH[1]}
	assert_equal "$(sed -n "${n}p" "$BATS_FILE_TMPDIR/notes/lease.md")" \
	    "The lease ends on 31 May 2027. It renews for one year unless either"
	assert_equal "${#lines[@]}" 3
	# bats drops blank lines from $lines; the whole output has one.
	assert_equal "$output" "The lease ends on 31 May 2027 [1].

Sources:
[1] notes/lease.md:$n"
}

@test "rag-answer: the best sentence wins, not the first of the first hit" {
	hit a.md "The weather was fine all week. We painted the fence green. The boiler pressure should stay between 1 and 1.5 bar. Lunch was late." >"$T/in"
	run -0 rag-answer --sentences 1 <"$T/in"
	assert_equal "${lines[0]}" "The boiler pressure should stay between 1 and 1.5 bar [1]."
	# Sentences with no word of the question are never taken.
	run -0 rag-answer --sentences 10 <"$T/in"
	assert_equal "${lines[0]}" "The boiler pressure should stay between 1 and 1.5 bar [1]."
}

@test "rag-answer: a line leading into an unmarked list is taken for a fragment" {
	hit a.md $'The boiler pressure is checked by the engineer for each of the\n\nvalves under the sink; twice a year.\n\nThe boiler pressure should stay between 1 and 1.5 bar.' >"$T/in"
	run -0 rag-answer --sentences 1 <"$T/in"
	assert_equal "${lines[0]}" "The boiler pressure should stay between 1 and 1.5 bar [1]."
	run -0 rag-answer --sentences 2 <"$T/in"
	assert_equal "${lines[0]}" "The boiler pressure is checked by the engineer for each of the… [1] The boiler pressure should stay between 1 and 1.5 bar [1]."
}

@test "rag-answer: a sentence an example set apart is joined again, cited at its start" {
	hit fmt.5 $'Deletions\n\n{"op":"delete","doc":"notes/old.md"}\n\nremoves a document and everything derived from it from the store.\n\nA delete costs work in proportion to the document.' \
	    "how do I delete a document from the store" >"$T/in"
	run -0 rag-answer --sentences 1 <"$T/in"
	assert_equal "${lines[0]}" '{"op":"delete","doc":"notes/old.md"} removes a document and everything derived from it from the store [1].'
	run -0 rag-answer --json --sentences 1 <"$T/in"
	assert_equal "$(jq -c '.citations[0] | [.doc, .line]' <<<"$output")" '["fmt.5",3]'
}

@test "rag-answer: sentences keep source order and text order, sources numbered as cited" {
	{
		hit a.md "Intro text here. The boiler is old." "boiler pressure" '{start: 100, line: 5}'
		hit b.md "The boiler pressure must stay at 1.5 bar. Nothing else." "boiler pressure" '{line: 10}'
		hit a.md "Check the pressure weekly." "boiler pressure" '{start: 0, line: 2}'
	} >"$T/in"
	run -0 rag-answer --sentences 3 <"$T/in"
	assert_equal "${lines[0]}" "Check the pressure weekly [1]. The boiler is old [1]. The boiler pressure must stay at 1.5 bar [2]."
	assert_equal "${lines[1]}" "Sources:"
	assert_equal "${lines[2]}" "[1] a.md:2"
	assert_equal "${lines[3]}" "[2] b.md:10"
}

@test "rag-answer: a sentence twice in overlapping chunks is cited once, from the better hit" {
	{
		hit l.md "The lease ends on 31 May 2027. It renews for one year." "lease renews" '{chunk: 4, line: 7}'
		hit l.md "lease ends on 31 May 2027. It renews for one year.
Rent is due monthly." "lease renews" '{chunk: 5, start: 20, line: 7}'
		hit m.md "The lease ends on 31 May 2027." "lease renews" '{chunk: 9}'
	} >"$T/in"
	run -0 rag-answer --json <"$T/in"
	assert_equal "$(jq -r .answer <<<"$output")" "The lease ends on 31 May 2027 [1]. It renews for one year [1]."
	assert_equal "$(jq -c .citations <<<"$output")" '[{"n":1,"doc":"l.md","line":7,"chunk":4}]'
	# A chunk cut inside a sentence loses to the whole sentence, and
	# alone it is marked as cut.
	{
		hit l.md $'Rent is due.\nThe lease on the flat ends on the last day of' "lease end" '{chunk: 1}'
		hit l.md "The lease on the flat ends on the last day of May." "lease end" '{chunk: 2, start: 13, line: 2}'
	} >"$T/in"
	run -0 rag-answer <"$T/in"
	assert_equal "${lines[0]}" "The lease on the flat ends on the last day of May [1]."
	head -1 "$T/in" >"$T/cut"
	run -0 rag-answer <"$T/cut"
	assert_equal "${lines[0]}" "The lease on the flat ends on the last day of… [1]"
	assert_equal "${lines[2]}" "[1] l.md:2"
}

@test "rag-answer: --sentences and --max-chars limit the answer" {
	hit a.md "The boiler is red. The boiler is loud. The boiler is old. The boiler is in the attic." >"$T/in"
	run -0 rag-answer <"$T/in"
	assert_equal "$(grep -o '\[1\]' <<<"${lines[0]}" | wc -l)" 3
	run -0 rag-answer --sentences 2 <"$T/in"
	assert_equal "${lines[0]}" "The boiler is red [1]. The boiler is loud [1]."
	run -0 rag-answer --max-chars 40 <"$T/in"
	assert_equal "${lines[0]}" "The boiler is red [1]. The boiler is loud [1]."
	hit a.md "The boiler pressure should stay between one and one and a half bar at all times of the year." >"$T/long"
	run -0 rag-answer --max-chars 30 <"$T/long"
	assert_equal "${lines[0]}" "The boiler pressure should… [1]"
	run -2 --separate-stderr rag-answer --sentences 0 <"$T/in"
	assert_equal "$stderr" "rag-answer: --sentences: '0' is not a whole number from 1 to 100"
	run -2 --separate-stderr rag-answer --max-chars 5 <"$T/in"
	assert_equal "$stderr" "rag-answer: --max-chars: '5' is not a whole number from 10 to 100000"
}

@test "rag-answer: --json gives one object whose citations resolve to doc, line and chunk" {
	query "rent renewal" >"$T/hits"
	run -0 --separate-stderr rag-answer --json <"$T/hits"
	assert_equal "${#lines[@]}" 1
	assert_equal "$(jq -r '[.query, .model, (.answer | type), (.usage.hits > 0), (.usage.sentences > 0)] | @tsv' <<<"$output")" \
	    "rent renewal	extractive	string	true	true"
	assert_equal "$(jq -r 'has("qid")' <<<"$output")" false
	assert_equal "$(jq -r '[.citations[].n] | join(",")' <<<"$output")" "1"
	# Each [n] in the answer is a citation, and each citation points at
	# a line of its document that holds words of the answer.
	assert_equal "$(jq -r '[.answer | scan("\\[([0-9]+)\\]") | .[0]] | unique | join(",")' <<<"$output")" "1"
	c=$(jq -c '.citations[0]' <<<"$output")
	assert_equal "$(jq -r '[.doc, (.line | type), (.chunk | type)] | @tsv' <<<"$c")" "notes/lease.md	number	number"
	line=$(jq -r .line <<<"$c")
	first=$(jq -r '.answer | split(" [1]")[0]' <<<"$output")
	[[ $first == "$(sed -n "${line}p" "$BATS_FILE_TMPDIR/notes/lease.md" | cut -c1-20)"* ]]
	chunk=$(jq -r .chunk <<<"$c")
	assert_equal "$(jq -r --argjson c "$chunk" 'select(.doc == "notes/lease.md" and .chunk == $c) | .chunk' "$T/hits" | head -1)" "$chunk"
}

@test "rag-answer: no hits is no answer, exit 3" {
	query "xylophone zeppelin" >"$T/hits"
	[ ! -s "$T/hits" ]
	run -3 --separate-stderr rag-answer <"$T/hits"
	assert_equal "$output" "No answer found in the indexed documents."
	assert_equal "$stderr" ""
	run -3 --separate-stderr rag-answer --json --question "who won?" </dev/null
	assert_equal "$output" '{"query":"who won?","answer":null,"citations":[],"model":"extractive","usage":{"hits":0,"sentences":0}}'
}

@test "rag-answer: hits without a word of the question are no answer, exit 3" {
	hit a.md "The weather was fine. We painted the fence." "boiler pressure" >"$T/in"
	run -3 --separate-stderr rag-answer <"$T/in"
	assert_equal "$output" "No answer found in the indexed documents."
	run -3 rag-answer --json <"$T/in"
	assert_equal "$(jq -c '[.answer, .citations, .usage]' <<<"$output")" '[null,[],{"hits":1,"sentences":0}]'
	# Headings, tables and code hold words but are never answers.
	hit a.md $'# Boiler pressure\n\n| boiler | pressure |\n\n```\nboiler --pressure\n```' >"$T/in"
	run -3 rag-answer <"$T/in"
}

@test "rag-answer: several questions with qids get Q: headers and an answer each" {
	printf '%s\n' '{"query":"lease end","id":"q1"}' '{"query":"bread yeast","id":"q2"}' '{"query":"boiler pressure","id":"q3"}' >"$T/qs"
	query -k 3 <"$T/qs" >"$T/hits"
	run -0 --separate-stderr rag-answer <"$T/hits"
	assert_equal "$output" "Q: lease end
The lease ends on 31 May 2027 [1].

Sources:
[1] notes/lease.md:15

Q: bread yeast
Mix 500 g flour, 10 g salt, 7 g yeast and 350 ml warm water [1].

Sources:
[1] notes/sub/recipes.txt:3

Q: boiler pressure
The boiler needs a service every twelve months & the pressure should stay between 1 and 1.5 bar [1].

Sources:
[1] notes/boiler.html:8"
	run -0 --separate-stderr rag-answer --json <"$T/hits"
	assert_equal "${#lines[@]}" 3
	assert_equal "$(jq -r '[.qid, .query, (.citations[0].doc)] | @tsv' <<<"$output")" "q1	lease end	notes/lease.md
q2	bread yeast	notes/sub/recipes.txt
q3	boiler pressure	notes/boiler.html"
}

@test "rag-answer: the same query with two qids is two questions; a number qid stays a number" {
	{
		hit a.md "The boiler is red." "boiler" '{qid: 1}'
		hit b.md "The boiler is blue." "boiler" '{qid: 2}'
		hit c.md "The boiler is green." "boiler" '{qid: 2}'
	} >"$T/in"
	run -0 rag-answer --json <"$T/in"
	assert_equal "$(jq -c '[.qid, .usage.hits]' <<<"$output" | paste -sd' ' -)" "[1,1] [2,2]"
	run -0 rag-answer <"$T/in"
	assert_equal "${lines[0]}" "Q: boiler"
	assert_equal "$(grep -c '^Q: boiler$' <<<"$output")" 2
}

@test "rag-answer: a bad line is reported with its number and skipped, exit 65" {
	{
		hit a.md "The boiler pressure is 1.5 bar."
		echo '{"doc":'
		echo '{"doc":"b.md","query":"boiler pressure"}'
		echo '{"text":"The boiler.","query":"boiler pressure"}'
		echo '{"doc":"c.md","text":"The boiler pressure is high."}'
		hit d.md "The pressure is low."
	} >"$T/in"
	run -65 --separate-stderr rag-answer <"$T/in"
	assert_equal "${stderr_lines[0]}" "rag-answer: <stdin>:2: not valid JSON"
	assert_equal "${stderr_lines[1]}" 'rag-answer: <stdin>:3: no "text" string'
	assert_equal "${stderr_lines[2]}" 'rag-answer: <stdin>:4: no "doc" string'
	assert_equal "${stderr_lines[3]}" 'rag-answer: <stdin>:5: no "query" string (give --question)'
	assert_equal "${lines[0]}" "The boiler pressure is 1.5 bar [1]. The pressure is low [2]."
	# Files are named in messages; a missing one is an I/O error.
	run -74 --separate-stderr rag-answer "$T/in" "$T/none"
	assert_equal "${stderr_lines[0]}" "rag-answer: $T/in:2: not valid JSON"
	assert_equal "${stderr_lines[4]}" "rag-answer: $T/none: No such file or directory"
}

@test "rag-answer: --question answers hand-made hits without a query" {
	printf '%s\n' '{"doc":"n.txt","text":"Bins go out on Tuesday night. The recycling goes out every other week."}' >"$T/in"
	run -0 rag-answer --question "when do the bins go out?" <"$T/in"
	assert_equal "${lines[0]}" "Bins go out on Tuesday night [1]."
	assert_equal "${lines[2]}" "[1] n.txt"
}

@test "rag-answer: a CJK question is answered from tokyo.txt" {
	query "東京の家賃" >"$T/hits"
	run -0 --separate-stderr rag-answer <"$T/hits"
	assert_equal "${lines[0]}" "東京都の家賃は高いです[1]。"
	assert_equal "${lines[2]}" "[1] notes/sub/tokyo.txt:1"
	query "人気" >"$T/hits"
	run -0 rag-answer <"$T/hits"
	assert_equal "${lines[0]}" "駅から近い部屋はとても人気があります[1]。"
}

@test "rag-answer: sentences do not end at decimals, abbreviations or initials" {
	hit a.md "Dr. Smith set the boiler to 1.5 bar, e.g. for winter. J. Doe checked it vs. the manual." >"$T/in"
	run -0 rag-answer --sentences 5 <"$T/in"
	assert_equal "${lines[0]}" "Dr. Smith set the boiler to 1.5 bar, e.g. for winter [1]."
	hit a.md $'Steps:\n- Check the boiler pressure weekly\n- Bleed the radiators' >"$T/in"
	run -0 rag-answer <"$T/in"
	assert_equal "${lines[0]}" "Check the boiler pressure weekly [1]."
}

@test "rag-answer: | head -1 ends quietly; /dev/full is exit 74" {
	for i in $(seq 1 3000); do
		printf '{"query":"boiler %d","doc":"a.md","text":"The boiler is fine.","line":1}\n' "$i"
	done >"$T/in"
	run -0 --separate-stderr bash -c "rag-answer <'$T/in' | head -1"
	assert_equal "$output" "Q: boiler 1"
	assert_equal "$stderr" ""
	query "when does the lease end" >"$T/hits"
	run -74 --separate-stderr bash -c "rag-answer <'$T/hits' >/dev/full"
	assert_equal "$stderr" "rag-answer: <stdout>: write error: No space left on device"
	run -74 --separate-stderr bash -c "rag-answer --json <'$T/hits' >/dev/full"
	assert_equal "$stderr" "rag-answer: <stdout>: write error: No space left on device"
}

@test "rag-answer: --provider and RAG_ANSWER_PROVIDER name a provider; the flag wins" {
	run -2 --separate-stderr rag-answer --provider frob </dev/null
	assert_equal "$stderr" "rag-answer: --provider: 'frob' is not an answer provider (extractive, openai, ollama)"
	assert_equal "$output" ""
	RAG_ANSWER_PROVIDER=frob run -2 --separate-stderr rag-answer </dev/null
	assert_equal "$stderr" "rag-answer: RAG_ANSWER_PROVIDER: 'frob' is not an answer provider (extractive, openai, ollama)"
	hit a.md "The boiler pressure is 1.5 bar." >"$T/in"
	RAG_ANSWER_PROVIDER=ollama run -0 rag-answer --provider extractive <"$T/in"
	assert_equal "${lines[0]}" "The boiler pressure is 1.5 bar [1]."
}

@test "rag-answer: --help, --version and bad options" {
	run -0 --separate-stderr rag-answer --help
	assert_equal "${lines[0]}" "usage: rag-answer [-hq] [--json] [--max-chars n] [--max-context n] [--model name]"
	assert_equal "$stderr" ""
	for o in --json --max-chars --max-context --model --provider --question --quiet \
	    --sentences --system --temperature --version; do
		[[ $output == *"$o"* ]]
	done
	run -0 rag-answer --version
	assert_equal "$output" "rag-answer (ragpipe) $(sed -n 's/^#define RP_VERSION[[:space:]]*"\(.*\)"/\1/p' "$BATS_TEST_DIRNAME/../lib/rp.h")"
	run -2 --separate-stderr rag-answer --frob
	assert_equal "$output" ""
	assert_equal "${stderr_lines[1]}" "usage: rag-answer [-hq] [--json] [--max-chars n] [--max-context n] [--model name]"
}
