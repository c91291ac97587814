# helpers.bash: loaded by every tests/*.bats file.
#
# Each test gets its own directory $T, a store path $DB inside it, HOME
# and the XDG directories inside it, no RAG_* variables from outside,
# and the binaries under test ($RAG_BUILD, set by tests/run) first on
# PATH.
bats_load_library bats-support
bats_load_library bats-assert

RAG_BUILD=${RAG_BUILD:-$(cd "$BATS_TEST_DIRNAME/../build" && pwd)}
# Used by the test files that load this one.
# shellcheck disable=SC2034
FIXTURES=$BATS_TEST_DIRNAME/fixtures
# shellcheck disable=SC2034
DATA=$BATS_TEST_DIRNAME/../../shared/data

# python3 is Debian's (make deps installs it), not whatever comes first
# on PATH: a version manager's shim there (pyenv) costs most of a second
# a call, and the fake server is called a few hundred times a run.
PYBIN=$BATS_RUN_TMPDIR/python-bin
if [ -x /usr/bin/python3 ] && [ ! -e "$PYBIN/python3" ]; then
	mkdir -p "$PYBIN" && ln -sf /usr/bin/python3 "$PYBIN/python3"
fi
PATH=$PYBIN:$PATH

setup() {
	common_setup
}

common_setup() {
	T=$BATS_TEST_TMPDIR
	DB=$T/kb.db
	export HOME=$T/home XDG_CONFIG_HOME=$T/home/.config
	export XDG_DATA_HOME=$T/home/.local/share XDG_CACHE_HOME=$T/home/.cache
	mkdir -p "$HOME"
	while IFS= read -r v; do unset "$v"; done < <(compgen -e | grep '^RAG_' | grep -v '^RAG_BUILD$')
	unset OPENAI_API_KEY OPENAI_BASE_URL OLLAMA_HOST NO_COLOR
	PATH=$RAG_BUILD:$PATH
	cd "$T" || return 1
}

# Index the files and directories given into $DB (fails the test if a
# stage fails).
index_docs() {
	rag-ingest "$@" >"$T/chunks.jsonl" || return 1
	rag-index -d "$DB" <"$T/chunks.jsonl" || return 1
}

# The values of one field of JSON lines on stdin, joined by commas.
field() {
	jq -r ".$1" | paste -sd, -
}

# Start the fake model server (tests/fake/server.py) with the options
# given, for this test, and point the programs at it: sets FAKE_PORT,
# and exports OPENAI_BASE_URL and OLLAMA_HOST.  "3>&-": a child holding
# bats' fd 3 would hang bats.  teardown stops it.
start_fake() {
	local dir
	dir=$(mktemp -d "$T/fake.XXXXXX") || return 1
	python3 "$BATS_TEST_DIRNAME/fake/server.py" --port-file "$dir/port" \
	    "$@" 3>&- &
	FAKE_PIDS="${FAKE_PIDS:-} $!"
	use_fake "$(python3 "$BATS_TEST_DIRNAME/fake/ctl.py" "$dir/port" wait)"
}

# Point the programs at the fake server on port $1.
use_fake() {
	[ -n "$1" ] || return 1
	FAKE_PORT=$1
	export OPENAI_BASE_URL=http://127.0.0.1:$FAKE_PORT/v1
	export OLLAMA_HOST=http://127.0.0.1:$FAKE_PORT
}

# Ask the fake server: fake stats [KEY], fake push JSON, fake requests...
fake() {
	python3 "$BATS_TEST_DIRNAME/fake/ctl.py" "$FAKE_PORT" "$@"
}

teardown() {
	local p
	for p in ${FAKE_PIDS:-}; do
		kill "$p" 2>/dev/null && wait "$p" 2>/dev/null
	done
	FAKE_PIDS=
	return 0
}
