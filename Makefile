# ragpipe: retrieval-augmented generation from the shell.
# GNU make.  User knobs first; `make help` lists the targets.

PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
DATADIR    ?= $(PREFIX)/share
MANDIR     ?= $(DATADIR)/man
BASHCOMPDIR ?= $(DATADIR)/bash-completion/completions
ZSHCOMPDIR ?= $(DATADIR)/zsh/site-functions
FISHCOMPDIR ?= $(DATADIR)/fish/vendor_completions.d
PKG_CONFIG ?= pkg-config
INSTALL    ?= install
CFLAGS     ?= -O2 -g
O          ?= build
PYTHON     ?= python3

# Debian packages for the libraries, and for building and testing.
PKGS       = libcurl libcjson sqlite3 libzstd
DEB_libcurl = libcurl4-openssl-dev
DEB_libcjson = libcjson-dev
DEB_sqlite3 = libsqlite3-dev
DEB_libzstd = libzstd-dev
DEB_PKGS   = gcc make pkg-config libc6-dev libcurl4-openssl-dev libcjson-dev \
	     libsqlite3-dev libzstd-dev sqlite3 bats bats-support bats-assert \
	     jq python3 mandoc shellcheck zsh fish poppler-utils pandoc

PROGS      = rag rag-answer rag-embed rag-eval rag-index rag-ingest rag-query
MAN1       = $(wildcard man/*.1)
MAN5       = $(wildcard man/*.5)
MAN7       = $(wildcard man/*.7)

WARN       = -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	     -Wvla -Wformat=2
SANITIZE   = -fsanitize=address,undefined -fno-omit-frame-pointer \
	     -fno-sanitize-recover=undefined

# Goals that need no C libraries.
NOLIB_GOALS = deps clean help lint uninstall
ifneq ($(filter-out $(NOLIB_GOALS),$(or $(MAKECMDGOALS),all)),)
MISSING := $(strip $(foreach p,$(PKGS),$(if $(shell $(PKG_CONFIG) --exists $(p) && echo y),,$(p))))
ifneq ($(MISSING),)
$(error missing libraries: $(MISSING); install them with: apt-get install -y $(foreach p,$(MISSING),$(DEB_$(p))) (or run: make deps))
endif
PKG_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(PKGS))
# libcurl is not linked: lib/http.c loads it (dlopen) on first use, so
# that programs which make no request start without it.
PKG_LIBS   := $(shell $(PKG_CONFIG) --libs $(filter-out libcurl,$(PKGS))) \
	      -lm -lpthread -ldl
endif

RP_CFLAGS  = -std=c11 -D_DEFAULT_SOURCE -Ilib $(WARN) $(PKG_CFLAGS) \
	     $(CPPFLAGS) $(CFLAGS) $(EXTRA_CFLAGS)
RP_LDFLAGS = $(LDFLAGS) $(EXTRA_LDFLAGS)

LIB_SRC    = $(wildcard lib/*.c)
LIB_OBJ    = $(LIB_SRC:%.c=$(O)/%.o)
UNIT_SRC   = $(wildcard tests/unit/t-*.c)
UNIT_BIN   = $(UNIT_SRC:%.c=$(O)/%)
BINS       = $(PROGS:%=$(O)/%)

.PHONY: all check test unit deps demo eval install uninstall clean lint help

all: $(BINS) $(UNIT_BIN)

$(O)/lib/%.o: lib/%.c
	@mkdir -p $(@D)
	$(CC) $(RP_CFLAGS) -MMD -MP -c -o $@ $<

$(O)/cmd/%.o: cmd/%.c
	@mkdir -p $(@D)
	$(CC) $(RP_CFLAGS) -MMD -MP -c -o $@ $<

$(O)/librp.a: $(LIB_OBJ)
	rm -f $@
	$(AR) rcs $@ $^

# A program is cmd/NAME.c, or, past ~800 lines, cmd/NAME/*.c (STYLE 1).
prog_objs = $(patsubst %.c,$(O)/%.o,$(or $(wildcard cmd/$(1).c),$(wildcard cmd/$(1)/*.c)))
define prog_rule
$(O)/$(1): $(call prog_objs,$(1)) $(O)/librp.a
	$$(CC) $$(RP_CFLAGS) $$(RP_LDFLAGS) -o $$@ $(call prog_objs,$(1)) $(O)/librp.a $$(PKG_LIBS)
endef
$(foreach p,$(PROGS),$(eval $(call prog_rule,$(p))))

$(UNIT_BIN): $(O)/tests/unit/%: tests/unit/%.c tests/unit/tap.h $(O)/librp.a
	@mkdir -p $(@D)
	$(CC) $(RP_CFLAGS) -MMD -MP $(RP_LDFLAGS) -o $@ $< $(O)/librp.a $(PKG_LIBS)

-include $(LIB_OBJ:.o=.d) $(UNIT_BIN:=.d) \
    $(foreach p,$(PROGS),$(patsubst %.o,%.d,$(call prog_objs,$(p))))

# ---- asan: the programs and tests built with AddressSanitizer,
# LeakSanitizer and UndefinedBehaviorSanitizer, in their own directory.
ASAN_O     = $(O)/asan
.PHONY: asan leakcheck
asan:
	$(MAKE) all replay leakcheck O=$(ASAN_O) \
	    EXTRA_CFLAGS="-Werror $(SANITIZE)" EXTRA_LDFLAGS="$(SANITIZE)"

# A program that leaks on purpose: tests/run checks that LeakSanitizer
# reports it, so that silence means no leaks rather than no checking.
leakcheck: $(O)/tests/unit/leak

$(O)/tests/unit/leak: tests/unit/leak.c
	@mkdir -p $(@D)
	$(CC) $(RP_CFLAGS) $(RP_LDFLAGS) -o $@ $<

# ---- fuzz: libFuzzer targets tests/fuzz/f-NAME.c (tests/fuzz/README).
# make check replays their corpora and every crash input kept with a
# plain driver (replay), so it needs no clang; make fuzz runs each
# target for FUZZ_TIME seconds with clang, ASan and UBSan, one at a
# time on one core, and fails if any finds something.
FUZZ_NAMES = $(patsubst tests/fuzz/f-%.c,%,$(wildcard tests/fuzz/f-*.c))
FUZZ_TARGETS ?= $(FUZZ_NAMES)
FUZZ_TIME  ?= 60
FUZZ_CC    ?= clang
FUZZ_O     = $(O)/fuzz
FUZZ_SAN   = -fsanitize=address,undefined -fno-sanitize-recover=undefined \
	     -fno-omit-frame-pointer
DEB_FUZZ_PKGS = clang libclang-rt-14-dev
REPLAY_BIN = $(FUZZ_NAMES:%=$(O)/tests/fuzz/r-%)
.PHONY: replay fuzz fuzz-build fuzz-targets

replay: $(REPLAY_BIN)

$(O)/tests/fuzz/%.o: tests/fuzz/%.c
	@mkdir -p $(@D)
	$(CC) $(RP_CFLAGS) -MMD -MP -c -o $@ $<

$(REPLAY_BIN): $(O)/tests/fuzz/r-%: $(O)/tests/fuzz/f-%.o \
    $(O)/tests/fuzz/replay.o $(O)/librp.a
	$(CC) $(RP_CFLAGS) $(RP_LDFLAGS) -o $@ $^ $(PKG_LIBS)

-include $(FUZZ_NAMES:%=$(O)/tests/fuzz/f-%.d) $(O)/tests/fuzz/replay.d

fuzz: fuzz-build
	tests/fuzz/run $(FUZZ_TIME) $(FUZZ_O) $(FUZZ_TARGETS)

fuzz-build:
	@command -v $(FUZZ_CC) >/dev/null 2>&1 || { echo "make fuzz needs" \
	    "$(FUZZ_CC) and libFuzzer: apt-get install -y $(DEB_FUZZ_PKGS)" >&2; \
	    exit 1; }
	$(MAKE) fuzz-targets O=$(FUZZ_O) CC=$(FUZZ_CC) CFLAGS="-O1 -g" \
	    EXTRA_CFLAGS="-fsanitize=fuzzer-no-link $(FUZZ_SAN)" \
	    EXTRA_LDFLAGS="-fsanitize=fuzzer $(FUZZ_SAN)"

fuzz-targets: $(FUZZ_NAMES:%=$(O)/f-%)

$(O)/f-%: $(O)/tests/fuzz/f-%.o $(O)/librp.a
	$(CC) $(RP_CFLAGS) $(RP_LDFLAGS) -o $@ $^ $(PKG_LIBS)

# Everything, built with -Werror, then again with AddressSanitizer and
# UndefinedBehaviorSanitizer; tests/run prints "N passed, N failed".
check:
	$(MAKE) all replay O=$(O) EXTRA_CFLAGS=-Werror
	$(MAKE) asan O=$(O)
	tests/run $(O) $(O)/asan

# The same tests, on the normal build only.
test: all
	tests/run $(O)

unit: $(UNIT_BIN)
	tests/run --unit-only $(O)

# Install the Debian packages the build and the tests need.
deps:
	@missing=; for p in $(DEB_PKGS); do \
	    dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | \
	    grep -q '^install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -z "$$missing" ]; then echo "deps: all installed"; exit 0; fi; \
	sudo=; [ "$$(id -u)" -eq 0 ] || sudo=sudo; \
	echo "deps: installing$$missing"; \
	$$sudo apt-get install -y $$missing || \
	{ $$sudo apt-get update && $$sudo apt-get install -y $$missing; }

# Index the project's own README and manuals, then ask them something.
DEMO_DB = $(O)/demo.db
demo:
	@$(MAKE) --no-print-directory deps
	@$(MAKE) --no-print-directory all
	@rm -rf $(DEMO_DB) $(DEMO_DB)-wal $(DEMO_DB)-shm $(DEMO_DB)-vec \
	    $(O)/demo-docs
	@mkdir -p $(O)/demo-docs
	@for m in man/*.[157]; do \
	    mandoc -T html $$m >$(O)/demo-docs/$$(basename $$m).html; \
	done
	$(O)/rag add -d $(DEMO_DB) README.md $(O)/demo-docs
	$(O)/rag status --format text -d $(DEMO_DB)
	$(O)/rag-query -d $(DEMO_DB) -k 3 "how do I delete a document from the store" | \
	    jq -r '"\(.rank). \(.doc):\(.line)  \(.section // .title // "")"'
	$(O)/rag ask -d $(DEMO_DB) "how do I delete a document from the store"

# Retrieval quality on the test collections (DESIGN.md section 4): each
# is indexed afresh through the real pipeline under $(O)/eval/, then
# rag-eval scores every mode; one table at the end.
DATA      ?= ../shared/data
EVAL_SETS ?= cranfield cisi
EVAL_MODES ?= bm25 vector hybrid
eval: all
	@mkdir -p $(O)/eval
	@for c in $(EVAL_SETS); do \
	    d=$(DATA)/$$c; db=$(O)/eval/$$c.db; \
	    [ -f $$d/corpus.jsonl ] || { echo "eval: no $$d/corpus.jsonl" >&2; exit 1; }; \
	    rm -f $$db $$db-wal $$db-shm $$db-vec; \
	    jq -c '{doc: .id, title, text}' $$d/corpus.jsonl | \
	        $(O)/rag-ingest --json | $(O)/rag-embed | \
	        $(O)/rag-index -d $$db || exit 1; \
	    for m in $(EVAL_MODES); do \
	        $(O)/rag-eval -q --json -d $$db --mode $$m --qrels $$d/qrels.tsv \
	            --queries $$d/queries.jsonl \
	            --run $(O)/eval/$$c.$$m.run.jsonl | \
	            jq -c --arg c $$c --arg m $$m '{c: $$c, m: $$m} + .' || exit 1; \
	    done; \
	done >$(O)/eval/results.jsonl
	@printf '%-10s %-7s %8s %9s %10s %7s\n' collection mode nDCG@10 Recall@10 \
	    Recall@100 MRR@10
	@jq -r '[.c, .m, ."nDCG@10", ."Recall@10", ."Recall@100", ."MRR@10"] | @tsv' \
	    $(O)/eval/results.jsonl | awk -F'\t' \
	    '{printf "%-10s %-7s %8.4f %9.4f %10.4f %7.4f\n", $$1, $$2, $$3, $$4, $$5, $$6}'

install: all
	$(INSTALL) -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 \
	    $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man7
	$(INSTALL) -m 755 $(BINS) $(DESTDIR)$(BINDIR)
	$(INSTALL) -m 644 $(MAN1) $(DESTDIR)$(MANDIR)/man1
	$(if $(MAN5),$(INSTALL) -m 644 $(MAN5) $(DESTDIR)$(MANDIR)/man5)
	$(if $(MAN7),$(INSTALL) -m 644 $(MAN7) $(DESTDIR)$(MANDIR)/man7)
	$(INSTALL) -d $(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(ZSHCOMPDIR) \
	    $(DESTDIR)$(FISHCOMPDIR)
	$(INSTALL) -m 644 completions/rag.bash $(DESTDIR)$(BASHCOMPDIR)/rag
	for p in $(filter-out rag,$(PROGS)); do \
	    ln -sf rag $(DESTDIR)$(BASHCOMPDIR)/$$p; done
	$(INSTALL) -m 644 completions/_rag $(DESTDIR)$(ZSHCOMPDIR)/_rag
	$(INSTALL) -m 644 completions/rag.fish $(DESTDIR)$(FISHCOMPDIR)/rag.fish
	for p in $(filter-out rag,$(PROGS)); do \
	    ln -sf rag.fish $(DESTDIR)$(FISHCOMPDIR)/$$p.fish; done

uninstall:
	for p in $(PROGS); do \
	    rm -f $(DESTDIR)$(BINDIR)/$$p $(DESTDIR)$(MANDIR)/man1/$$p.1 \
	    $(DESTDIR)$(BASHCOMPDIR)/$$p $(DESTDIR)$(FISHCOMPDIR)/$$p.fish; \
	done
	rm -f $(DESTDIR)$(MANDIR)/man5/ragpipe-format.5 \
	    $(DESTDIR)$(MANDIR)/man7/ragpipe.7 $(DESTDIR)$(ZSHCOMPDIR)/_rag

lint:
	mandoc -Tlint -Wwarning $(MAN1) $(MAN5) $(MAN7)
	shellcheck -x tests/run tests/fuzz/run tests/*.bash .ci/run
	shellcheck -s bash completions/rag.bash

clean:
	rm -rf $(O)

help:
	@echo "targets: all check test unit deps demo eval install uninstall lint clean asan fuzz bench"
	@echo "knobs:   PREFIX=$(PREFIX) DESTDIR= O=$(O) CFLAGS='$(CFLAGS)' FUZZ_TIME=$(FUZZ_TIME) N=$(N)"

# ---------------------------------------------------------------------------
# make bench (DESIGN.md section 7): a corpus of N chunks (default 100000;
# N=1000000 works too) generated from a fixed seed, indexed through the
# real pipeline, then one table of speeds and memory, each figure beside
# a reference measured in the same run and with the command that gave it.
# Not part of make check.  Everything goes under $(O)/bench/N/; see
# tests/bench/run for the knobs, tests/bench/RESULTS.md for a run.
N            ?= 100000
BENCH_SEED   ?= 20240601
BENCH_Q      ?= 1000
BENCH_PYTHON ?= /usr/bin/python3
BENCH_BINS    = $(O)/bench/bexec $(O)/bench/scan

.PHONY: bench lint-bench

$(O)/bench/bexec: tests/bench/bexec.c
	@mkdir -p $(@D)
	$(CC) $(RP_CFLAGS) $(RP_LDFLAGS) -o $@ $<

$(O)/bench/scan: tests/bench/scan.c $(O)/librp.a
	@mkdir -p $(@D)
	$(CC) $(RP_CFLAGS) $(RP_LDFLAGS) -o $@ $< $(O)/librp.a $(PKG_LIBS)

bench: all $(BENCH_BINS)
	tests/bench/run -b $(O) -n $(N) -s $(BENCH_SEED) -q $(BENCH_Q) \
	    -d $(DATA) -p $(BENCH_PYTHON)

lint: lint-bench
lint-bench:
	shellcheck -x tests/bench/run
