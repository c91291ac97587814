#!/usr/bin/env bats
# rag-ingest: finding documents, extracting text, chunk records.
bats_require_minimum_version 1.5.0
load helpers

@test "rag-ingest: a directory is walked in name order, hidden and binary files skipped" {
	run -0 --separate-stderr rag-ingest -v "$FIXTURES/docs"
	docs=$(jq -r .doc <<<"$output" | uniq | sed "s|$FIXTURES/||" | paste -sd, -)
	assert_equal "$docs" "docs/boiler.html,docs/lease.md,docs/sub/recipes.txt,docs/sub/tokyo.txt,docs/sub/util.py"
	[[ $stderr == *"archive.zip: skipped: binary file"* ]]
	[[ $output != *secret* ]]
}

@test "rag-ingest: piped, stderr carries no notes without -v" {
	run -0 --separate-stderr rag-ingest "$FIXTURES/docs"
	assert_equal "$stderr" ""
}

@test "rag-ingest: chunk records carry every field of the format" {
	cp -r "$FIXTURES/docs" d
	touch -d '1 hour ago' d/sub/recipes.txt
	run -0 --separate-stderr rag-ingest d/sub/recipes.txt
	r=$(head -1 <<<"$output")
	assert_equal "$(jq -r '[.doc, .chunk, .nchunks, .start, .line, .size] | @tsv' <<<"$r")" \
	    "d/sub/recipes.txt	0	1	0	1	160"
	assert_equal "$(jq -r .doc_sha256 <<<"$r")" "$(sha256sum d/sub/recipes.txt | cut -d' ' -f1)"
	assert_equal "$(jq -r .mtime <<<"$r")" "$(stat -c %Y d/sub/recipes.txt)"
	assert_equal "$(jq -r '.text | startswith("Bread")' <<<"$r")" true
	assert_equal "$(jq -r '.end - .start > 100' <<<"$r")" true
}

@test "rag-ingest: document names are normalised paths" {
	cp -r "$FIXTURES/docs" d
	run -0 rag-ingest ./d//sub/ d/./lease.md
	assert_equal "$(jq -r .doc <<<"$output" | uniq | paste -sd, -)" \
	    "d/sub/recipes.txt,d/sub/tokyo.txt,d/sub/util.py,d/lease.md"
}

@test "rag-ingest: Markdown headings give title and section; line points into the file" {
	cp "$FIXTURES/docs/lease.md" .
	run -0 rag-ingest --chunk-size 120 --overlap 0 lease.md
	assert_equal "$(jq -r .title <<<"$output" | sort -u)" "Flat lease"
	r=$(jq -c 'select(.text | contains("The lease ends"))' <<<"$output" | head -1)
	assert_equal "$(jq -r .section <<<"$r")" "Renewal"
	line=$(jq -r .line <<<"$r")
	first=$(jq -r '.text | split("\n")[0]' <<<"$r")
	assert_equal "$(sed -n "${line}p" lease.md)" "$first"
	assert_equal "$(jq -r 'select(.text | contains("consumer price")) | .section' <<<"$output")" \
	    "Renewal > Options"
}

@test "rag-ingest: fenced code and tables are never split" {
	cp "$FIXTURES/docs/lease.md" .
	run -0 rag-ingest --chunk-size 60 --overlap 0 lease.md
	assert_equal "$(jq -r 'select(.text | contains("```sh")) | .text | contains("ls ~/letters/renewal\n```")' <<<"$output")" true
	assert_equal "$(jq -r 'select(.text | contains("| item")) | .text | contains("| parking | 60   |")' <<<"$output")" true
}

@test "rag-ingest: HTML gives text only, entities decoded, script and style dropped" {
	cp "$FIXTURES/docs/boiler.html" .
	run -0 rag-ingest boiler.html
	text=$(jq -r .text <<<"$output")
	[[ $text == *"twelve months & the pressure"* ]]
	[[ $text == *"between 1 and 1.5 bar"* ]]
	[[ $text != *secret* && $text != *color* && $text != *"<p>"* ]]
	assert_equal "$(jq -r .title <<<"$output" | sort -u)" "Boiler manual"
	run -0 rag-ingest --chunk-size 100 --overlap 0 boiler.html
	assert_equal "$(jq -r 'select(.text | contains("reset button")) | .section' <<<"$output")" "Resetting"
}

@test "rag-ingest: source code gets the enclosing definition as its section" {
	cp "$FIXTURES/docs/sub/util.py" .
	run -0 rag-ingest --chunk-size 60 --overlap 0 util.py
	assert_equal "$(jq -r 'select(.text | contains("self.items")) | .section' <<<"$output")" "class Cache:"
}

@test "rag-ingest: - reads one document from stdin, named by --name" {
	run -0 rag-ingest --name notes/today.md - <<<"# Today
Bought milk."
	assert_equal "$(jq -r '[.doc, .title, .nchunks] | @tsv' <<<"$output")" "notes/today.md	Today	1"
	run -0 rag-ingest --format text - <<<"# not a heading"
	assert_equal "$(jq -c '[.doc, .title]' <<<"$output")" '["stdin",null]'
}

@test "rag-ingest: --files-from and -0 take path lists" {
	cp -r "$FIXTURES/docs" d
	printf 'd/lease.md\n\nd/sub/recipes.txt\n' >list
	run -0 rag-ingest --files-from list
	assert_equal "$(jq -r .doc <<<"$output" | uniq | paste -sd, -)" "d/lease.md,d/sub/recipes.txt"
	printf 'd/sub/tokyo.txt\0d/boiler.html\0' >list0
	run -0 rag-ingest -0 <list0
	assert_equal "$(jq -r .doc <<<"$output" | uniq | paste -sd, -)" "d/sub/tokyo.txt,d/boiler.html"
	run -0 rag-ingest -0 --files-from list0
	assert_equal "$(jq -r .doc <<<"$output" | uniq | paste -sd, -)" "d/sub/tokyo.txt,d/boiler.html"
}

@test "rag-ingest: --json chunks records, keeps their fields, skips bad lines" {
	printf '%s\n' '{"doc":"a","text":"Alpha text.","title":"A","url":"http://x/a"}' \
	    '{"doc":"b"' '{"text":"no doc"}' '{"doc":"c","text":"# Head\n\nGamma.","format":"markdown"}' >in
	run -65 --separate-stderr rag-ingest --json <in
	assert_equal "$(jq -r .doc <<<"$output" | paste -sd, -)" "a,c"
	assert_equal "$(jq -r 'select(.doc == "a") | [.title, .url] | @tsv' <<<"$output")" "A	http://x/a"
	assert_equal "$(jq -r 'select(.doc == "c") | .title' <<<"$output")" "Head"
	assert_equal "$(jq -r 'select(.doc == "a") | .doc_sha256' <<<"$output")" \
	    "$(printf 'Alpha text.' | sha256sum | cut -d' ' -f1)"
	[[ ${stderr_lines[0]} == "rag-ingest: <stdin>:2: not valid JSON" ]]
	[[ ${stderr_lines[1]} == "rag-ingest: <stdin>:3: record has no 'doc' string" ]]
}

@test "rag-ingest: invalid UTF-8 and NUL bytes are repaired, not fatal" {
	printf 'caf\xe9 cr\xe8me \xff\xfe and more text here\n' >bad.txt
	run -0 rag-ingest bad.txt
	assert_equal "$(jq -r .text <<<"$output")" "caf� cr�me �� and more text here"
	printf '{"doc":"n","text":"a\\u0000b"}\n' >nul.jsonl
	run -0 rag-ingest --json nul.jsonl
	assert_equal "$(jq -r .doc <<<"$output")" "n"
}

@test "rag-ingest: an empty document gives a record with nchunks 0" {
	: >empty.txt
	run -0 rag-ingest empty.txt
	assert_equal "$(jq -c '[.doc, .nchunks, has("text")]' <<<"$output")" '["empty.txt",0,false]'
}

@test "rag-ingest: unreadable and missing files are reported, the rest processed" {
	cp "$FIXTURES/docs/sub/recipes.txt" ok.txt
	run -74 --separate-stderr rag-ingest missing.txt ok.txt
	assert_equal "$(jq -r .doc <<<"$output" | uniq)" "ok.txt"
	assert_equal "$stderr" "rag-ingest: missing.txt: No such file or directory"
	if [ "$(id -u)" != 0 ]; then
		cp ok.txt locked.txt && chmod 000 locked.txt
		run -74 --separate-stderr rag-ingest locked.txt ok.txt
		assert_equal "$stderr" "rag-ingest: locked.txt: Permission denied"
	fi
}

@test "rag-ingest: a file over --max-size is skipped with status 65" {
	head -c 5000 /dev/zero | tr '\0' 'a' >big.txt
	cp "$FIXTURES/docs/sub/recipes.txt" ok.txt
	run -65 --separate-stderr rag-ingest --max-size 4096 big.txt ok.txt
	assert_equal "$(jq -r .doc <<<"$output" | uniq)" "ok.txt"
	assert_equal "$stderr" "rag-ingest: big.txt: skipped: 5000 bytes is more than --max-size 4096"
}

@test "rag-ingest: symbolic link loops in a walk are not followed" {
	mkdir -p tree/a
	echo "some words in a file" >tree/a/f.txt
	ln -s .. tree/a/up
	ln -s nowhere tree/a/broken
	run -0 --separate-stderr rag-ingest tree
	assert_equal "$(jq -r .doc <<<"$output" | uniq)" "tree/a/f.txt"
}

@test "rag-ingest: usage errors exit 2" {
	run -2 --separate-stderr rag-ingest
	[[ $stderr == "usage: rag-ingest"* ]]
	run -2 --separate-stderr rag-ingest --chunk-size 10 x
	assert_equal "$stderr" "rag-ingest: --chunk-size: '10' is not a whole number from 50 to 1000000"
	run -2 --separate-stderr rag-ingest --chunk-size 100 --overlap 60 x
	[[ $stderr == *"--overlap must be less than half"* ]]
	run -2 --separate-stderr rag-ingest --format pdf x
	run -2 --separate-stderr rag-ingest --json --files-from x
}

@test "rag-ingest: a closed pipe ends quietly; a full disk is exit 74" {
	run -0 --separate-stderr bash -c "rag-ingest '$FIXTURES/docs' | head -1"
	assert_equal "$stderr" ""
	run -74 --separate-stderr bash -c "rag-ingest '$FIXTURES/docs' >/dev/full"
	[[ $stderr == "rag-ingest: <stdout>: write error: No space left on device" ]]
}

@test "rag-ingest: --help and --version go to stdout with status 0" {
	run -0 rag-ingest --help
	[[ ${lines[0]} == "usage: rag-ingest"* ]]
	run -0 rag-ingest --version
	[[ $output == "rag-ingest (ragpipe) "* ]]
}

# Files whose mtimes lie an hour back, so that rag-ingest -d never reads
# them in the second they were written (which it looks at twice).
old_files() {
	touch -d '1 hour ago' "$@"
}

@test "rag-ingest -d: unchanged documents are not printed; a missing store makes all new" {
	mkdir tree
	echo "alpha text" >tree/a.md
	echo "beta text" >tree/b.md
	old_files tree/*
	run -0 --separate-stderr rag-ingest -v -d "$DB" tree
	assert_equal "$(jq -r .doc <<<"$output" | paste -sd, -)" "tree/a.md,tree/b.md"
	assert_equal "${stderr_lines[0]}" "rag-ingest: $DB: no store yet: every document is new"
	rag-index -d "$DB" <<<"$output"
	echo "beta text, changed" >tree/b.md
	old_files tree/b.md
	run -0 --separate-stderr rag-ingest -v -d "$DB" tree
	assert_equal "$(jq -r .doc <<<"$output" | sort -u)" "tree/b.md"
	assert_equal "$stderr" "rag-ingest: scanned 2, new 0, changed 1, unchanged 1, skipped 0, deleted 0; 1 chunks"
	# Piped without -v: no summary.
	run -0 --separate-stderr rag-ingest -d "$DB" tree
	assert_equal "$stderr" ""
	# An empty file is a store rag-index is creating (first in a pipe).
	touch new.db
	run -0 --separate-stderr rag-ingest -d new.db tree
	assert_equal "$(jq -r .doc <<<"$output" | sort -u | wc -l)" 2
}

@test "rag-ingest -d: standard input and --json records are compared by SHA-256 (and title)" {
	printf 'some notes\n' | rag-ingest --name n.txt - | rag-index -d "$DB"
	run -0 bash -c 'printf "some notes\n" | rag-ingest -d "$1" --name n.txt -' _ "$DB"
	assert_equal "$output" ""
	run -0 bash -c 'printf "other notes\n" | rag-ingest -d "$1" --name n.txt -' _ "$DB"
	assert_equal "$(jq -r .doc <<<"$output")" n.txt
	echo '{"doc":"j1","title":"One","text":"json text"}' >j.jsonl
	rag-ingest --json j.jsonl | rag-index -d "$DB"
	run -0 rag-ingest --json -d "$DB" j.jsonl
	assert_equal "$output" ""
	echo '{"doc":"j1","title":"Uno","text":"json text"}' >j.jsonl
	run -0 rag-ingest --json -d "$DB" j.jsonl
	assert_equal "$(jq -r .title <<<"$output")" Uno
	run -0 rag-ingest --json -d "$DB" --force j.jsonl
	[ -n "$output" ]
}

@test "rag-ingest --prune: deletions for documents under the paths given that the walk no longer finds" {
	mkdir -p tree/sub tree2 other
	for f in tree/a.md tree/c.md tree/sub/b.md tree/sub/d.md tree2/y.md other/x.md; do
		echo "text of $f" >"$f"
	done
	old_files tree/*.md tree/sub/*.md tree2/y.md other/x.md
	rag-ingest tree tree2 other | rag-index -d "$DB"
	# Named documents from standard input and --json, under tree/ too.
	echo "from stdin" | rag-ingest --name tree/stdin.md - | rag-index -d "$DB"
	echo '{"doc":"tree/json.md","text":"from json"}' | rag-ingest --json | rag-index -d "$DB"
	rm tree/a.md				# gone
	printf 'bin\0ary' >tree/c.md		# now binary: no longer a document
	mv tree/sub/d.md tree/sub/.d.md	# now hidden
	old_files tree/c.md tree/sub/.d.md
	run -0 --separate-stderr rag-ingest -v -d "$DB" --prune ./tree/
	assert_equal "$output" '{"op":"delete","doc":"tree/a.md"}
{"op":"delete","doc":"tree/c.md"}
{"op":"delete","doc":"tree/sub/d.md"}'
	[[ $stderr == *"scanned 2, new 0, changed 0, unchanged 1, skipped 1, deleted 3; 0 chunks" ]]
	rag-index -d "$DB" <<<"$output"
	assert_equal "$(sqlite3 "$DB" 'SELECT group_concat(path) FROM (SELECT path FROM docs ORDER BY path)')" \
	    "other/x.md,tree/json.md,tree/stdin.md,tree/sub/b.md,tree2/y.md"
	# "." holds every relative path; stdin and --json documents stay.
	rm other/x.md
	run -0 rag-ingest -d "$DB" --prune .
	assert_equal "$(jq -c 'select(.op)' <<<"$output")" '{"op":"delete","doc":"other/x.md"}'
}

@test "rag-ingest --prune: a root that cannot be read prunes nothing under it" {
	mkdir -p tree gone
	echo "kept" >tree/k.md
	echo "gone soon" >gone/z.md
	old_files tree/k.md gone/z.md
	rag-ingest tree gone | rag-index -d "$DB"
	rm -r gone
	run -74 --separate-stderr rag-ingest -d "$DB" --prune tree gone
	assert_equal "$output" ""
	assert_equal "$stderr" "rag-ingest: gone: No such file or directory"
	if [ "$(id -u)" -ne 0 ]; then
		mkdir tree/locked
		echo "secret" >tree/locked/s.md
		old_files tree/locked/s.md
		rag-ingest tree | rag-index -d "$DB"
		chmod 000 tree/locked
		run -74 --separate-stderr rag-ingest -d "$DB" --prune tree
		chmod 755 tree/locked
		assert_equal "$output" ""
	fi
}

@test "rag-ingest: -d, --force and --prune misused are usage errors" {
	run -2 --separate-stderr rag-ingest --prune tree
	assert_equal "$stderr" "rag-ingest: --prune needs the store to compare with: give -d"
	for args in "--json" "--files-from list" "-0" "-"; do
		# shellcheck disable=SC2086
		run -2 --separate-stderr rag-ingest -d "$DB" --prune $args
		assert_equal "$stderr" "rag-ingest: --prune needs paths to walk as operands (not --json, --files-from or -0)"
	done
}

@test "rag-ingest -d: a file read in the second it was modified is compared by content next time" {
	echo "version one" >f.md
	sec=$(date +%s)
	touch -d "@$sec" f.md
	rag-ingest -d "$DB" f.md >out
	# Racy: no size, so the store does not trust the file's time.
	assert_equal "$(jq -c '[.doc, .mtime, .size]' out)" "[\"f.md\",$sec,null]"
	rag-index -d "$DB" <out
	# Changed again in the same second, to the same size.
	echo "version two" >f.md
	touch -d "@$sec" f.md
	run -0 rag-ingest -d "$DB" f.md
	assert_equal "$(jq -r .text <<<"$output")" "version two"
	# Once its second is long past, an unchanged file is trusted again.
	touch -d '1 hour ago' f.md
	rag-ingest -d "$DB" f.md | rag-index -d "$DB"
	assert_equal "$(sqlite3 "$DB" "SELECT size FROM docs")" 12
	run -0 rag-ingest -d "$DB" f.md
	assert_equal "$output" ""
}

@test "rag-ingest: a PDF is converted page by page; chunks carry their page" {
	command -v pdftotext >/dev/null || skip "pdftotext is not installed (make deps)"
	python3 "$BATS_TEST_DIRNAME/lib/mkpdf.py" manual.pdf 'Boiler manual\nIntroduction.' \
	    'Pressure\nThe pressure should stay between 1 and 1.5 bar.' 'Reset\nHold the button.'
	run -0 rag-ingest manual.pdf
	assert_equal "$(jq -c '[.chunk, .nchunks, .page, .line]' <<<"$output" | paste -sd' ' -)" \
	    "[0,3,1,1] [1,3,2,1] [2,3,3,1]"
	assert_equal "$(jq -r 'select(.page == 2) | .text' <<<"$output")" \
	    "Pressure
The pressure should stay between 1 and 1.5 bar."
	# The answer cites the page.
	rag add -d "$DB" manual.pdf
	run -0 rag ask -d "$DB" "what pressure should it stay between"
	assert_line "[1] manual.pdf:p2"
}

@test "rag-ingest: a missing converter is named with its Debian package; the rest goes on" {
	python3 "$BATS_TEST_DIRNAME/lib/mkpdf.py" a.pdf 'Some text'
	echo "plain words" >b.txt
	mkdir bin
	for p in sh cat rag-ingest; do ln -s "$(command -v $p)" bin/$p; done
	run -69 --separate-stderr env PATH="$T/bin" rag-ingest a.pdf b.txt
	assert_equal "$stderr" "rag-ingest: a.pdf: cannot convert: pdftotext is not installed (Debian package poppler-utils)"
	assert_equal "$(jq -r .doc <<<"$output")" b.txt
}

@test "rag-ingest: --convert plugs in a converter, or turns one off" {
	printf 'hello\nworld\n' >note.up
	run -0 rag-ingest --convert 'up=tr a-z A-Z <"$1"' note.up
	assert_equal "$(jq -r .text <<<"$output")" "HELLO
WORLD"
	run -65 --separate-stderr rag-ingest --convert 'up=echo broken >&2; exit 4' note.up
	assert_equal "$stderr" "rag-ingest: note.up: converter failed (exit status 4): broken"
	python3 "$BATS_TEST_DIRNAME/lib/mkpdf.py" a.pdf 'Some text'
	run -0 --separate-stderr rag-ingest -v --convert pdf= a.pdf
	assert_equal "$output" ""
	assert_equal "$stderr" "rag-ingest: a.pdf: skipped: no converter (--convert EXT=)
rag-ingest: 0 documents, 0 chunks"
	run -2 --separate-stderr rag-ingest --convert nonsense a.pdf
	assert_equal "$stderr" "rag-ingest: --convert: 'nonsense' is not EXT=COMMAND"
}

@test "rag-ingest: a DOCX goes through pandoc with its headings" {
	command -v pandoc >/dev/null || skip "pandoc is not installed (make deps)"
	python3 - <<'PY'
import zipfile
doc = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
       '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>'
       '<w:p><w:pPr><w:pStyle w:val="Heading1"/></w:pPr><w:r><w:t>Holidays</w:t></w:r></w:p>'
       '<w:p><w:r><w:t>The office closes on the first of May.</w:t></w:r></w:p>'
       '</w:body></w:document>')
with zipfile.ZipFile("memo.docx", "w") as z:
    z.writestr("[Content_Types].xml", '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>')
    z.writestr("_rels/.rels", '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>')
    z.writestr("word/document.xml", doc)
PY
	run -0 rag-ingest memo.docx
	assert_equal "$(jq -r '.text | contains("The office closes on the first of May.")' <<<"$output")" true
}
