#!/usr/bin/env bats
# make install and make uninstall, into a DESTDIR.
bats_require_minimum_version 1.5.0
load helpers

ROOT=$BATS_TEST_DIRNAME/..

setup_file() {
	# The tests of this file share one installation, of the programs
	# under test as they are: -o all, for make must not rebuild them
	# (without the sanitizer flags they were built with, say).
	export DEST=$BATS_FILE_TMPDIR/root
	make -s -o all -C "$BATS_TEST_DIRNAME/.." install O="$RAG_BUILD" DESTDIR="$DEST" \
	    PREFIX=/usr >"$BATS_FILE_TMPDIR/install.log" 2>&1
}

@test "install: binaries, manuals and completions go where each belongs" {
	for p in rag rag-answer rag-embed rag-eval rag-index rag-ingest rag-query; do
		[ -x "$DEST/usr/bin/$p" ]
		[ -f "$DEST/usr/share/man/man1/$p.1" ]
		[ -e "$DEST/usr/share/bash-completion/completions/$p" ]
		[ -e "$DEST/usr/share/fish/vendor_completions.d/$p.fish" ]
	done
	[ -f "$DEST/usr/share/man/man5/ragpipe-format.5" ]
	[ -f "$DEST/usr/share/man/man7/ragpipe.7" ]
	[ -f "$DEST/usr/share/zsh/site-functions/_rag" ]
	run -0 mandoc -T ascii "$DEST/usr/share/man/man1/rag-query.1"
	[[ $output == *"RAG-QUERY(1)"* ]]
}

@test "install: the installed rag finds its programs beside itself" {
	run -0 env PATH=/usr/bin:/bin "$DEST/usr/bin/rag" ingest --version
	[[ $output == "rag-ingest (ragpipe) "* ]]
	cp -r "$FIXTURES/docs" notes
	run -0 env PATH=/usr/bin:/bin "$DEST/usr/bin/rag" add -d kb.db notes
	run -0 env PATH=/usr/bin:/bin "$DEST/usr/bin/rag" ask -d kb.db when does the lease end
	assert_line --index 0 "The lease ends on 31 May 2027 [1]."
}

@test "install: the installed bash completion is found by command name" {
	run -0 bash -c "source '$DEST/usr/share/bash-completion/completions/rag-query'
		COMP_WORDS=(rag-query --mo); COMP_CWORD=1; _ragpipe_complete; echo \"\${COMPREPLY[*]}\""
	assert_equal "$output" "--mode"
}

@test "install: make uninstall removes everything it installed" {
	cp -r "$DEST" copy
	run -0 make -s -C "$ROOT" uninstall O="$RAG_BUILD" DESTDIR="$T/copy" PREFIX=/usr
	run -0 find copy -type f -o -type l
	assert_equal "$output" ""
}
