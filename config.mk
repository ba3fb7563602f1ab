# config.mk — what the three Makefiles share (./Makefile, bench/Makefile,
# fuzz/Makefile): the libraries, the warnings, the sanitizer knob, the
# version. Each sets ROOT (the repository root, relative to where make
# runs) and includes $(ROOT)/config.mk.

PKGS       := libcurl libcjson yaml-0.1 sqlite3 libmicrohttpd
# A missing pkg-config or library is reported by `make deps`; keep the
# variables empty rather than failing the parse.
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
# libcurl is not linked, anywhere: src/curl_api.c loads it the first time
# a run needs the network. Most runs never do, and linking it would cost
# each of them ~3 ms and ~6 MB (bench/README.md). Nor is libmicrohttpd:
# src/mhd_api.c loads it when monitor serves server.* (its headers only
# are needed to build).
DLOPENED   := libcurl libmicrohttpd
PKG_LIBS   := $(shell pkg-config --libs $(filter-out $(DLOPENED),$(PKGS)) 2>/dev/null) -ldl -lm

WARN       := -Wall -Wextra -Werror -Wshadow -Wpointer-arith -Wcast-align \
              -Wstrict-prototypes -Wmissing-prototypes -Wwrite-strings \
              -Wformat=2 -Wundef -Wvla -Wnull-dereference -Wimplicit-fallthrough

# make SANITIZE=address,undefined ...: a separate build directory, so the
# sanitizer build and the release build never share objects.
ifneq ($(SANITIZE),)
SAN_CFLAGS  := -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
SAN_LDFLAGS := -fsanitize=$(SANITIZE)
BUILD      ?= build/san
else
SAN_CFLAGS  :=
SAN_LDFLAGS :=
BUILD      ?= build/release
endif

# VERSION plus git describe (scripts/version.sh), e.g. 0.1.0-12-gabc1234.
VERSION    := $(shell sh $(ROOT)/scripts/version.sh $(ROOT) 2>/dev/null || cat $(ROOT)/VERSION)
