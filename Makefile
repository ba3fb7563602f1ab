# flipper — build, test, install.
#
#   make                         build ./flipper
#   make test                    build and run every test (installs missing deps first)
#   make SANITIZE=address,undefined test
#   make bench | fuzz | demo | install PREFIX=/usr DESTDIR=... | clean

PREFIX   ?= /usr/local
BINDIR   ?= $(PREFIX)/bin
MANDIR   ?= $(PREFIX)/share/man
DESTDIR  ?=
PYTHON   ?= /usr/bin/python3
# Reference material beside the checkout, used when it is there: the
# TOML conformance corpus, the Hetzner fixtures and the original's example
# (a fresh clone has none of it; the parts that need it say "skip").
SHARED   ?= ../shared
TOML_TEST_DIR ?= $(SHARED)/toml-test/tests
export FLIPPER_SHARED_DIR := $(SHARED)
# A part of the suite that cannot run here is skipped with one line, or
# fails under FLIPPER_CI=1 (.ci/run): tests/skip.sh.
SKIP     := sh tests/skip.sh
PKGS     := libcurl libcjson yaml-0.1 sqlite3

CC       ?= cc
# A missing pkg-config or library is reported by `make deps`; keep the
# variables empty rather than failing the parse of this file.
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
# libcurl is not linked: src/curl_lazy.c loads it on first use, because most
# runs never touch the network and loading it costs ~5 ms and ~7 MB.
PKG_LIBS   := $(shell pkg-config --libs $(filter-out libcurl,$(PKGS)) 2>/dev/null) -ldl

WARN     := -Wall -Wextra -Werror -Wshadow -Wpointer-arith -Wcast-align \
            -Wstrict-prototypes -Wmissing-prototypes -Wwrite-strings \
            -Wformat=2 -Wundef -Wvla -Wnull-dereference -Wimplicit-fallthrough
CFLAGS   ?= -O2 -g
CFLAGS   += -std=c11 -D_GNU_SOURCE $(WARN) $(PKG_CFLAGS) -Isrc
LDLIBS   += $(PKG_LIBS) -lm

ifneq ($(SANITIZE),)
CFLAGS   += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS  += -fsanitize=$(SANITIZE)
BUILD    ?= build/san
else
BUILD    ?= build/release
endif

VERSION  := $(shell cat VERSION 2>/dev/null || echo 0.0.0)
CFLAGS   += -DFLIPPER_VERSION='"$(VERSION)"'

SRC      := $(sort $(wildcard src/*.c))
LIB_SRC  := $(filter-out src/main.c,$(SRC))
LIB_OBJ  := $(LIB_SRC:src/%.c=$(BUILD)/%.o) $(BUILD)/schema.o
SQL      := $(sort $(wildcard sql/*.sql))

UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

.PHONY: all test unit blackbox toml-suite fixture-crosscheck fuzz fuzz-smoke bench demo deps \
        contrib-verify install clean check-deps

all: flipper

# ./flipper is a copy of the build output so the sanitizer build and the
# release build never overwrite each other's objects.
flipper: $(BUILD)/flipper
	cp $< $@

$(BUILD)/flipper: $(BUILD)/main.o $(BUILD)/libflipper.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/libflipper.a: $(LIB_OBJ)
	rm -f $@
	ar rcs $@ $^

# V=1 shows the full commands.
ifeq ($(V),1)
Q :=
else
Q := @
endif

$(BUILD)/%.o: src/%.c src/*.h | $(BUILD)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CFLAGS) -c -o $@ $<

# The schema is compiled into the binary: sql/*.sql become one C string
# array, ordered by file name (001-..., 002-...), one entry per migration.
$(BUILD)/schema.c: $(SQL) scripts/embed-sql.sh | $(BUILD)
	sh scripts/embed-sql.sh $(SQL) > $@

$(BUILD)/schema.o: $(BUILD)/schema.c
	$(Q)$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD) $(BUILD)/tests:
	mkdir -p $@

$(BUILD)/tests/%: tests/unit/%.c tests/unit/test.h $(BUILD)/libflipper.a | $(BUILD)/tests
	@$(if $(Q),echo "  TEST    $<")
	$(Q)$(CC) $(CFLAGS) -Itests/unit $(LDFLAGS) -o $@ $< $(BUILD)/libflipper.a $(LDLIBS)

# Small programs the tests drive: the TOML decoder for the conformance
# suite, the Hetzner client driver.
$(BUILD)/toml-decoder $(BUILD)/hcloud-driver: $(BUILD)/%: tests/%.c $(BUILD)/libflipper.a
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libflipper.a $(LDLIBS)

check-deps:
	@sh scripts/deps.sh --check || sh scripts/deps.sh

deps:
	sh scripts/deps.sh

test: check-deps
	$(MAKE) flipper $(UNIT_BIN) $(BUILD)/toml-decoder $(BUILD)/hcloud-driver
	$(MAKE) unit toml-suite fixture-crosscheck blackbox contrib-verify fuzz-smoke

unit: $(UNIT_BIN)
	@sh tests/run-unit.sh $(UNIT_BIN)

# The official TOML test suite (toml-test), from TOML_TEST_DIR when it is there.
toml-suite: $(BUILD)/toml-decoder
	@if [ -f "$(TOML_TEST_DIR)/files-toml-1.0.0" ]; then \
		$(PYTHON) tests/toml-suite.py --decoder $(BUILD)/toml-decoder --suite "$(TOML_TEST_DIR)"; \
	else $(SKIP) "toml-suite: the toml-test corpus is not at TOML_TEST_DIR=$(TOML_TEST_DIR)"; fi

# Our fixtures against the reference ones, so they cannot drift apart.
fixture-crosscheck:
	@if [ -d "$(SHARED)/hetzner-fixtures" ]; then \
		$(PYTHON) tests/fixture-crosscheck.py --shared "$(SHARED)"; \
	else $(SKIP) "fixture-crosscheck: no reference fixtures at $(SHARED)/hetzner-fixtures"; fi

# The tests run the build directory's binary, not ./flipper, so a release
# and a sanitizer run never test each other's copy.
blackbox: $(BUILD)/flipper $(BUILD)/hcloud-driver
	$(MAKE) -C bench build
	FLIPPER=$(CURDIR)/$(BUILD)/flipper HCLOUD_DRIVER=$(CURDIR)/$(BUILD)/hcloud-driver \
		BENCH_CHECKS=$(CURDIR)/$(BUILD)/bench_checks \
		$(PYTHON) -m pytest -q -rs -p no:cacheprovider tests/blackbox tests/world

# systemd units (systemd-analyze verify), the man page (groff), the k8s
# manifests and the example configuration.
contrib-verify: $(BUILD)/flipper
	FLIPPER=$(CURDIR)/$(BUILD)/flipper sh tests/contrib-verify.sh
fuzz:
	$(MAKE) -f fuzz/Makefile

# Needs clang and its libFuzzer runtime: try linking an empty target first.
fuzz-smoke:
	@if printf 'int LLVMFuzzerTestOneInput(const char *d, long n) { return d && n; }\n' | \
	    clang -x c -fsanitize=fuzzer -o /dev/null - >/dev/null 2>&1; then \
		$(MAKE) -f fuzz/Makefile smoke; \
	else $(SKIP) "fuzz-smoke: clang with libFuzzer is not installed (Debian packages clang, libclang-rt-14-dev)"; fi

bench: flipper
	$(MAKE) -C bench

demo: check-deps
	$(MAKE) flipper
	$(PYTHON) tests/demo.py --flipper $(CURDIR)/flipper

install: flipper
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1
	install -m 0755 flipper $(DESTDIR)$(BINDIR)/flipper
	install -m 0644 man/flipper.1 $(DESTDIR)$(MANDIR)/man1/flipper.1

clean:
	rm -rf build flipper
