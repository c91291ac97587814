#!/usr/bin/env bats
# docs: every option a program accepts is in its --help, its man page
# and all three shell completions; every man page EXAMPLE runs.
bats_require_minimum_version 1.5.0
load helpers

ROOT=$BATS_TEST_DIRNAME/..

# The long options a program accepts, from its getopt_long tables (and,
# for rag, the route tables of rag add and rag ask); a program is
# cmd/NAME.c or cmd/NAME/*.c.
long_options() {
	sed -n -e 's/^[[:space:]]*{ "\([a-z0-9-]*\)",.*_argument.*/\1/p' \
	    -e 's/^[[:space:]]*{ "\([a-z0-9-]*\)", [01], .*/\1/p' \
	    "$ROOT/cmd/$1".c "$ROOT/cmd/$1"/*.c 2>/dev/null | sort -u
}

programs() {
	for f in "$ROOT"/cmd/rag*; do basename "$f" .c; done
}

# The text of zsh function _NAME in completions/_rag.
zsh_function() {
	awk -v f="_$1() {" '$0 == f {on = 1} on {print} on && /^}/ {exit}' "$ROOT/completions/_rag"
}

@test "docs: every long option is in --help, the man page and the completions" {
	source "$ROOT/completions/rag.bash"
	missing=()
	for p in $(programs); do
		help=$("$p" --help)
		man=$(cat "$ROOT/man/$p.1")
		bash_opts=" $(_ragpipe_options "$p") "
		zsh=$(zsh_function "$p")
		if [ "$p" = rag ]; then
			for sub in status add ask config; do
				help+=$(rag $sub --help)
				bash_opts+=" $(_ragpipe_options rag-$sub) "
				zsh+=$(zsh_function rag-$sub)
			done
		fi
		for o in $(long_options "$p"); do
			[[ $help == *"--$o"* ]] || missing+=("$p --$o: --help")
			[[ $man == *"Fl \\-$o"* ]] || missing+=("$p --$o: man page")
			[[ $bash_opts == *" --$o "* ]] || missing+=("$p --$o: bash completion")
			[[ $zsh == *"'--$o"* || $zsh == *"--$o["* || $zsh == *"--$o="* || $zsh == *"{--$o"* || $zsh == *",--$o"* ]] ||
			    missing+=("$p --$o: zsh completion")
			grep -Eq "^complete -c $p .*-l $o( |$)" "$ROOT/completions/rag.fish" ||
			    missing+=("$p --$o: fish completion")
		done
	done
	if [ ${#missing[@]} -gt 0 ]; then
		printf '%s\n' "${missing[@]}"
		return 1
	fi
}

@test "docs: every program has a man page and every page is clean under mandoc -Tlint" {
	for p in $(programs); do
		[ -f "$ROOT/man/$p.1" ]
	done
	run -0 mandoc -Tlint -Wwarning "$ROOT"/man/*.[157]
	assert_equal "$output" ""
}

@test "docs: the bash completion loads and completes options and commands" {
	run -0 bash -c "source '$ROOT/completions/rag.bash'
		COMP_WORDS=(rag-query --mo); COMP_CWORD=1; _ragpipe_complete; echo \"\${COMPREPLY[*]}\"
		COMP_WORDS=(rag-query --mode ''); COMP_CWORD=2; _ragpipe_complete; echo \"\${COMPREPLY[*]}\"
		COMP_WORDS=(rag st); COMP_CWORD=1; _ragpipe_complete; echo \"\${COMPREPLY[*]}\""
	assert_equal "${lines[0]}" "--mode"
	assert_equal "${lines[1]}" "bm25 vector hybrid"
	assert_equal "${lines[2]}" "status"
}

# Commands in the EXAMPLES of a page, each ended by a NUL: lines
# starting "$ ", with the indented lines after them as continuations;
# mdoc escapes undone.
examples() {
	sed -e 's/\\e/\\/g' -e 's/\\&//g' "$1" |
	awk 'function out() { if (cmd != "") printf "%s%c", cmd, 0; cmd = "" }
	    /^\.Sh EXAMPLES/ {ex = 1; next}
	    /^\.Sh / {ex = 0}
	    ex && /^\.Bd -literal/ {lit = 1; next}
	    ex && /^\.Ed/ {lit = 0; out(); next}
	    ex && lit && /^\$ / {out(); cmd = substr($0, 3); next}
	    ex && lit && /^    / && cmd != "" {cmd = cmd "\n" $0; next}'
}

# A directory as the examples expect it: notes/, a store kb.db built
# from it, and corpus.jsonl.
example_dir() {
	cp -r "$FIXTURES/docs" notes
	printf '%s\n' '{"id":"1","title":"Wings","text":"Lift on a wing in a slipstream."}' \
	    '{"id":"2","title":"Heat","text":"Heat transfer in composite slabs."}' >corpus.jsonl
	rag-ingest notes | rag-index -d kb.db
}

@test "docs: every man page EXAMPLE runs and succeeds" {
	# Examples with model servers talk to the fake one.
	start_fake
	n=0
	for page in "$ROOT"/man/*.[157]; do
		mkdir "$T/$(basename "$page")" && cd "$T/$(basename "$page")"
		# A home of its own: an example may write a config file.
		export HOME=$PWD/home XDG_CONFIG_HOME=$PWD/home/.config
		mkdir home
		example_dir
		while IFS= read -r -d '' cmd; do
			n=$((n + 1))
			run bash -e -o pipefail -c "$cmd"
			if [ "$status" -ne 0 ]; then
				echo "$(basename "$page"): exit $status: $cmd"
				echo "$output"
				return 1
			fi
		done < <(examples "$page")
	done
	[ "$n" -gt 0 ]
}

# The commands of README.md's sh blocks, NUL-terminated, a line ending
# in a backslash joined to the next.
readme_commands() {
	awk 'function out() { if (cmd != "") printf "%s%c", cmd, 0; cmd = "" }
	    /^```sh/ {sh = 1; next}
	    /^```/ {sh = 0; next}
	    !sh || /^#/ || /^$/ {next}
	    {cmd = cmd $0; if (cmd ~ /\\$/) cmd = cmd "\n"; else out()}' "$ROOT/README.md"
}

@test "docs: every README example runs and succeeds, in order, as a session" {
	start_fake
	export HOME=$T/home XDG_CONFIG_HOME=$T/home/.config
	mkdir -p "$HOME/letters" "$HOME/docs" "$T/srv/docs"
	cp -r "$FIXTURES/docs" "$HOME/notes"
	cp "$FIXTURES/docs/boiler.html" "$HOME/docs"
	cp "$FIXTURES/docs/lease.md" "$T/srv/docs"
	cd "$T"
	n=0
	while IFS= read -r -d '' cmd; do
		case $cmd in
		# Not here: make (this is make check), model downloads and
		# servers (the fake one stands in for them).
		make*|"sudo make"*|"ollama pull"*|llama-server*) continue ;;
		esac
		# A crontab line: its command, with /srv in the test's place.
		if [[ $cmd =~ ^[0-9*]+\ [0-9*]+\ [0-9*]+\ [0-9*]+\ [0-9*]+\ (.*) ]]; then
			cmd=${BASH_REMATCH[1]//\/srv\//$T/srv/}
		fi
		cmd=${cmd//127.0.0.1:8080/127.0.0.1:$FAKE_PORT}
		n=$((n + 1))
		run bash -e -o pipefail -c "$cmd"
		if [ "$status" -ne 0 ]; then
			echo "README.md: exit $status: $cmd"
			echo "$output"
			return 1
		fi
		# What an export sets holds for the commands after it.
		[[ $cmd == export\ * ]] && eval "$cmd"
	done < <(readme_commands)
	[ "$n" -ge 15 ]
	# The cron line indexed /srv/docs.
	run -0 rag-query -d "$T/srv/kb.db" -k 1 lease
	[[ $output == *'"doc":"'"$T"'/srv/docs/lease.md"'* ]]
}

@test "docs: the zsh completion completes options, values and commands" {
	command -v zsh >/dev/null || skip "zsh is not installed (make deps)"
	run -0 timeout 30 zsh -f "$ROOT/tests/lib/zcomp.zsh" "$ROOT/completions" 'rag-query --mo' '--mode*how to search'
	[[ $output == *"--mode"*"how to search"* ]]
	run -0 timeout 30 zsh -f "$ROOT/tests/lib/zcomp.zsh" "$ROOT/completions" 'rag-ingest --format ' 'markdown'
	[[ $output == *markdown* && $output == *html* ]]
	run -0 timeout 30 zsh -f "$ROOT/tests/lib/zcomp.zsh" "$ROOT/completions" 'rag sta' 'rag status'
	[[ $output == *"rag status"* ]]
}

@test "docs: the fish completion completes options, values and commands" {
	command -v fish >/dev/null || skip "fish is not installed (make deps)"
	run -0 fish -c "source '$ROOT/completions/rag.fish'; complete -C 'rag-query --mo'"
	assert_equal "$output" "--mode	how to search"
	run -0 fish -c "source '$ROOT/completions/rag.fish'; complete -C 'rag-query --mode '"
	assert_equal "$(cut -f1 <<<"$output" | paste -sd, -)" "bm25,hybrid,vector"
	run -0 fish -c "source '$ROOT/completions/rag.fish'; complete -C 'rag st'"
	[[ $output == "status	"* ]]
}
