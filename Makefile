# flipper — build, test, install.
#
#   make                         build ./flipper
#   make test                    build and run every test (installs missing deps first)
#   make SANITIZE=address,undefined test
#   make bench | fuzz | demo | clean
#   make install | uninstall   [PREFIX=/usr] [DESTDIR=...] [SYSCONFDIR=...]

PREFIX   ?= /usr/local
BINDIR   ?= $(PREFIX)/bin
DATADIR  ?= $(PREFIX)/share
MANDIR   ?= $(DATADIR)/man
DOCDIR   ?= $(DATADIR)/doc/flipper
# /etc whatever the prefix: the systemd units read the configuration and
# the token credential from $(SYSCONFDIR)/flipper.
SYSCONFDIR ?= /etc
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
BASHCOMPDIR ?= $(DATADIR)/bash-completion/completions
ZSHCOMPDIR ?= $(DATADIR)/zsh/site-functions
FISHCOMPDIR ?= $(DATADIR)/fish/vendor_completions.d
DESTDIR  ?=
PYTHON   ?= /usr/bin/python3
ROOT     := .
include config.mk
# Reference material beside the checkout, used when it is there: the
# TOML conformance corpus, the Hetzner fixtures and the original's example
# (a fresh clone has none of it; the parts that need it say "skip").
SHARED   ?= ../shared
TOML_TEST_DIR ?= $(SHARED)/toml-test/tests
export FLIPPER_SHARED_DIR := $(SHARED)
# A part of the suite that cannot run here is skipped with one line, or
# fails under FLIPPER_CI=1 (.ci/run): tests/skip.sh.
SKIP     := sh tests/skip.sh

CC       ?= cc
CFLAGS   ?= -O2 -g
CFLAGS   += -std=c11 -D_GNU_SOURCE $(WARN) $(PKG_CFLAGS) -Isrc $(SAN_CFLAGS) \
            -DFLIPPER_VERSION='"$(VERSION)"'
LDFLAGS  += $(SAN_LDFLAGS)
LDLIBS   += $(PKG_LIBS)

SRC      := $(sort $(wildcard src/*.c))
LIB_SRC  := $(filter-out src/main.c,$(SRC))
LIB_OBJ  := $(LIB_SRC:src/%.c=$(BUILD)/%.o) $(BUILD)/schema.o
SQL      := $(sort $(wildcard sql/*.sql))

UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

.DELETE_ON_ERROR:
.PHONY: all test unit blackbox toml-suite fixture-crosscheck fuzz fuzz-smoke bench demo deps \
        contrib-verify install install-bin install-man install-units install-config \
        install-completions uninstall clean check-deps completions FORCE

COMPLETIONS := $(BUILD)/completions/flipper.bash $(BUILD)/completions/_flipper \
               $(BUILD)/completions/flipper.fish

all: flipper completions

completions: $(COMPLETIONS)

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

$(BUILD) $(BUILD)/tests $(BUILD)/completions:
	mkdir -p $@

# The scripts come from the binary's own option tables (`flipper
# completion SHELL`), so they always match the flipper they ship with.
$(BUILD)/completions/flipper.bash: $(BUILD)/flipper | $(BUILD)/completions
	$(BUILD)/flipper completion bash > $@
$(BUILD)/completions/_flipper: $(BUILD)/flipper | $(BUILD)/completions
	$(BUILD)/flipper completion zsh > $@
$(BUILD)/completions/flipper.fish: $(BUILD)/flipper | $(BUILD)/completions
	$(BUILD)/flipper completion fish > $@

$(patsubst src/%.c,$(BUILD)/%.o,$(shell grep -l FLIPPER_VERSION src/*.c)): $(BUILD)/version

$(BUILD)/version: FORCE | $(BUILD)
	@echo '$(VERSION)' > $@.tmp
	@if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv $@.tmp $@; fi

$(BUILD)/tests/%: tests/unit/%.c $(wildcard tests/unit/*.h) $(BUILD)/libflipper.a | $(BUILD)/tests
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
	$(MAKE) flipper completions $(UNIT_BIN) $(BUILD)/toml-decoder $(BUILD)/hcloud-driver
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

# Installs the binary, the man page, the systemd units (templates in
# contrib/systemd/*.in, rendered with BINDIR and SYSCONFDIR), the example
# configuration as $(SYSCONFDIR)/flipper/flipper.yaml unless one exists, a
# pristine copy of it in DOCDIR, and the shell completions when the binary
# can generate them. `make uninstall` takes it all away again, except a
# configuration that differs from the example (edited by the user).
UNITS := flipper.service flipper-monitor.service flipper.timer
CONFIG := $(DESTDIR)$(SYSCONFDIR)/flipper/flipper.yaml

install: install-bin install-man install-units install-config install-completions

install-bin: flipper
	install -d $(DESTDIR)$(BINDIR)
	install -m 0755 flipper $(DESTDIR)$(BINDIR)/flipper

install-man:
	install -d $(DESTDIR)$(MANDIR)/man1
	install -m 0644 man/flipper.1 $(DESTDIR)$(MANDIR)/man1/flipper.1

install-units: | $(BUILD)
	install -d $(DESTDIR)$(SYSTEMDUNITDIR)
	for u in $(UNITS); do \
		sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' \
			contrib/systemd/$$u.in > $(BUILD)/$$u && \
		install -m 0644 $(BUILD)/$$u $(DESTDIR)$(SYSTEMDUNITDIR)/$$u || exit 1; \
	done

install-config:
	install -d $(DESTDIR)$(DOCDIR) $(DESTDIR)$(SYSCONFDIR)/flipper
	install -m 0644 contrib/flipper.example.yaml $(DESTDIR)$(DOCDIR)/flipper.example.yaml
	@if [ -e $(CONFIG) ]; then \
		echo "install: kept the existing $(CONFIG); the example is $(DESTDIR)$(DOCDIR)/flipper.example.yaml"; \
	else \
		echo "install -m 0644 contrib/flipper.example.yaml $(CONFIG)"; \
		install -m 0644 contrib/flipper.example.yaml $(CONFIG); \
	fi

# The completions come from the binary's own option tables (the
# completions target above), so they always match its commands and options.
install-completions: completions
	install -d $(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(ZSHCOMPDIR) $(DESTDIR)$(FISHCOMPDIR)
	install -m 0644 $(BUILD)/completions/flipper.bash $(DESTDIR)$(BASHCOMPDIR)/flipper
	install -m 0644 $(BUILD)/completions/_flipper $(DESTDIR)$(ZSHCOMPDIR)/_flipper
	install -m 0644 $(BUILD)/completions/flipper.fish $(DESTDIR)$(FISHCOMPDIR)/flipper.fish

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/flipper $(DESTDIR)$(MANDIR)/man1/flipper.1
	rm -f $(UNITS:%=$(DESTDIR)$(SYSTEMDUNITDIR)/%)
	rm -f $(DESTDIR)$(BASHCOMPDIR)/flipper $(DESTDIR)$(ZSHCOMPDIR)/_flipper \
		$(DESTDIR)$(FISHCOMPDIR)/flipper.fish
	@if [ -e $(CONFIG) ] && ! cmp -s $(CONFIG) $(DESTDIR)$(DOCDIR)/flipper.example.yaml; then \
		echo "uninstall: kept $(CONFIG): it is not the installed example"; \
	else \
		echo "rm -f $(CONFIG)"; rm -f $(CONFIG); \
	fi
	rm -f $(DESTDIR)$(DOCDIR)/flipper.example.yaml
	@rmdir $(DESTDIR)$(DOCDIR) $(DESTDIR)$(SYSCONFDIR)/flipper 2>/dev/null || true

clean:
	rm -rf build flipper
