# ovsa-nginx: top-level build.
#
#   make            the nginx module, libovsa, backend, tools and client SDK
#   make test       install missing packages, build, run all tests in t/
#   make bench      benchmarks (bench/), see docs/performance.md
#   make deps       install the Debian packages the build and tests need
#
# Each component adds its programs in its own build.mk: lib/, backend/,
# tools/, sdk/; its C unit tests live beside it in <dir>/test/ with their
# own build.mk (<dir>/test/<name>_test.c -> build/test/<dir>_<name>_test,
# all run by t/010-unit.t).  A build.mk uses only what the directories
# below it provide (lib/ uses nothing).  Everything lands in build/.

BUILD      := $(CURDIR)/build
NGX_SRC    ?= /usr/share/nginx/src
PKGS       := openssl yaml-0.1 jansson libcurl libmicrohttpd p11-kit-1
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lhiredis

CFLAGS     ?= -O2 -g
OVSA_CFLAGS = $(CFLAGS) -std=gnu11 -Wall -Wextra -Werror \
              -Wno-unused-parameter -fPIC -D_FORTIFY_SOURCE=2 \
              -fstack-protector-strong -I$(CURDIR)/lib $(PKG_CFLAGS)
OVSA_LDFLAGS = -Wl,-z,relro -Wl,-z,now

LIBOVSA    := $(BUILD)/lib/libovsa.a
BINS       :=
UNIT_TESTS :=

.PHONY: all module test bench deps clean demo

all: module bins

include $(wildcard */build.mk) $(wildcard */test/build.mk)

bins: $(BINS)

# ---- the nginx dynamic module, built with Debian's own configure flags
MODULE     := $(BUILD)/nginx/ngx_http_ovsa_module.so
MODULE_SRC := config $(wildcard ngx_ovsa_module/*.c ngx_ovsa_module/*.h \
                               lib/*.c lib/*.h)

module: $(MODULE)

$(BUILD)/nginx/Makefile: config
	@mkdir -p $(BUILD)/nginx
	cd $(NGX_SRC) && bash -c '. ./conf_flags && ./configure \
	  --with-cc-opt="$$(dpkg-buildflags --get CFLAGS) -fPIC $$(dpkg-buildflags --get CPPFLAGS)" \
	  --with-ld-opt="$$(dpkg-buildflags --get LDFLAGS) -fPIC" \
	  "$${NGX_CONF_FLAGS[@]}" --add-dynamic-module=$(CURDIR) \
	  --builddir=$(BUILD)/nginx' > $(BUILD)/nginx/configure.log 2>&1 \
	  || { tail -20 $(BUILD)/nginx/configure.log; exit 1; }

$(MODULE): $(BUILD)/nginx/Makefile $(MODULE_SRC)
	$(MAKE) -f $(BUILD)/nginx/Makefile -C $(NGX_SRC) modules

# ---- tests and benchmarks
test: deps
	$(MAKE) all
	prove -r t/

bench: all
	sh bench/run.sh

deps:
	sh scripts/install-deps.sh

demo: all
	sh scripts/demo.sh

clean:
	rm -rf $(BUILD) t/servroot*
