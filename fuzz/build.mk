# fuzz/: libFuzzer targets for every parser of untrusted bytes, built with
# clang from the lib/, backend/ and sdk/ sources into build-fuzz/ (the
# same whatever SANITIZE says: the targets always run with ASan + UBSan).
# See fuzz/README.md.
#
#   make fuzz           each target for FUZZ_SECONDS (60), one after the
#                       other at nice 10; new inputs go to build-fuzz/corpus/
#   make fuzz-regress   each target over its committed corpus for a few
#                       seconds (make test runs it)
#   make fuzz-merge     minimise fuzz/corpus/<target>/ with what make fuzz
#                       found (then commit it)

FUZZ_CC      ?= clang-14
FUZZ_BUILD   := $(CURDIR)/build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_REGRESS_SECONDS ?= 3
FUZZ_TARGETS := sf b64 sig answer license license_rt conf json client chain \
                reqsig grant
FUZZ_BINS    := $(FUZZ_TARGETS:%=$(FUZZ_BUILD)/fuzz_%)

FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=undefined \
                -fno-omit-frame-pointer
FUZZ_CFLAGS  := -g -O1 $(FUZZ_SAN) -std=gnu11 -Wall -Wextra -Werror \
                -Wno-unused-parameter -I$(CURDIR)/lib -I$(CURDIR)/backend \
                -I$(CURDIR)/sdk -I$(CURDIR)/fuzz $(PKG_CFLAGS) \
                $(shell pkg-config --cflags p11-kit-1 2>/dev/null)
FUZZ_LIBS    := $(PKG_LIBS) $(shell pkg-config --libs p11-kit-1 2>/dev/null) \
                -ldl

# the code under test: instrumented for coverage, not linked with main()
FUZZ_SRCS    := $(wildcard lib/*.c) backend/json.c backend/policy.c \
                sdk/ovsa_client.c sdk/ovsa_client_grant.c fuzz/fuzz_util.c
FUZZ_OBJS    := $(FUZZ_SRCS:%.c=$(FUZZ_BUILD)/obj/%.o)
FUZZ_LIB     := $(FUZZ_BUILD)/libovsa-fuzz.a

# libFuzzer's options for every run: ASan/UBSan report to stderr
FUZZ_ENV     := ASAN_OPTIONS=halt_on_error=1:detect_leaks=1 \
                UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1

.PHONY: fuzz fuzz-bins fuzz-regress fuzz-merge

fuzz-bins: $(FUZZ_BINS)

$(FUZZ_BUILD)/obj/%.o: %.c $(wildcard lib/*.h backend/*.h sdk/*.h fuzz/*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

$(FUZZ_LIB): $(FUZZ_OBJS)
	rm -f $@ && ar rcs $@ $^

$(FUZZ_BUILD)/fuzz_%: fuzz/fuzz_%.c $(FUZZ_LIB)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_LIB) \
	    $(FUZZ_LIBS)

fuzz: $(FUZZ_BINS)
	@set -e; for t in $(FUZZ_TARGETS); do \
	    mkdir -p $(FUZZ_BUILD)/corpus/$$t $(FUZZ_BUILD)/crash; \
	    echo "== fuzz_$$t for $(FUZZ_SECONDS) s"; \
	    $(FUZZ_ENV) nice -n 10 $(FUZZ_BUILD)/fuzz_$$t \
	        -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	        -artifact_prefix=$(FUZZ_BUILD)/crash/$$t- \
	        $$(test -f fuzz/$$t.dict && echo -dict=fuzz/$$t.dict) \
	        $(FUZZ_BUILD)/corpus/$$t fuzz/corpus/$$t; \
	done

# Every committed input (crashes found once stay here as seeds) plus a
# short run; new inputs go to a scratch directory, never into fuzz/.
fuzz-regress: $(FUZZ_BINS)
	@set -e; for t in $(FUZZ_TARGETS); do \
	    rm -rf $(FUZZ_BUILD)/regress/$$t; \
	    mkdir -p $(FUZZ_BUILD)/regress/$$t $(FUZZ_BUILD)/crash; \
	    echo "== fuzz_$$t: fuzz/corpus/$$t + $(FUZZ_REGRESS_SECONDS) s"; \
	    $(FUZZ_ENV) $(FUZZ_BUILD)/fuzz_$$t -runs=1000000 \
	        -max_total_time=$(FUZZ_REGRESS_SECONDS) \
	        -artifact_prefix=$(FUZZ_BUILD)/crash/$$t- \
	        $$(test -f fuzz/$$t.dict && echo -dict=fuzz/$$t.dict) \
	        $(FUZZ_BUILD)/regress/$$t fuzz/corpus/$$t 2>$(FUZZ_BUILD)/regress/$$t.log \
	      || { tail -60 $(FUZZ_BUILD)/regress/$$t.log; exit 1; }; \
	    grep -E '^(INFO: seed corpus|Done|#[0-9]+ +DONE)' \
	        $(FUZZ_BUILD)/regress/$$t.log | tail -1; \
	done

# Minimises each committed corpus together with what make fuzz found.  The
# named inputs (seed-*, regress-*: hand-made seeds and crash regressions)
# are always kept; the others are named by their SHA-1, as libFuzzer
# writes them.
fuzz-merge: $(FUZZ_BINS)
	@set -e; for t in $(FUZZ_TARGETS); do \
	    m=$(FUZZ_BUILD)/merged/$$t; rm -rf $$m; mkdir -p $$m \
	        $(FUZZ_BUILD)/corpus/$$t; \
	    $(FUZZ_ENV) nice -n 10 $(FUZZ_BUILD)/fuzz_$$t -set_cover_merge=1 $$m \
	        fuzz/corpus/$$t $(FUZZ_BUILD)/corpus/$$t 2>&1 \
	        | grep -E '^MERGE-OUTER: [0-9]+ new files' || true; \
	    for f in fuzz/corpus/$$t/seed-* fuzz/corpus/$$t/regress-*; do \
	        [ -f "$$f" ] || continue; \
	        rm -f $$m/$$(sha1sum < "$$f" | cut -c1-40); cp "$$f" $$m/; \
	    done; \
	    rm -rf fuzz/corpus/$$t && cp -r $$m fuzz/corpus/$$t; \
	    echo "fuzz/corpus/$$t: $$(ls $$m | wc -l) files, $$(cat $$m/* | wc -c) bytes"; \
	done
