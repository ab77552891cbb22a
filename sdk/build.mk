# Client SDK: libovsa-client (verified requests to an ovsa license server,
# and the high-level API of ovsa.h), static and shared, its pkg-config
# files, and the ovsa-check CLI.
#
#   make install PREFIX=/usr/local [DESTDIR=...]   the SDK: headers,
#       libovsa-client.so.1 (+ the .so link) and ovsa-client.pc
#
# The shared library exports the public API only: its own objects are
# compiled with -fvisibility=hidden (ovsa.h / ovsa_client.h mark the
# API), and sdk/libovsa-client.map hides everything else it links in
# from libovsa.a.

SDK_LIB      := $(BUILD)/lib/libovsa-client.a
SDK_SONAME   := libovsa-client.so.1
SDK_SO       := $(BUILD)/lib/$(SDK_SONAME).0.0
SDK_SRCS     := sdk/ovsa_client.c sdk/ovsa_client_license.c \
                sdk/ovsa_client_machine.c sdk/ovsa_client_grant.c \
                sdk/ovsa_client_offline.c \
                sdk/ovsa_sdk.c sdk/ovsa_sdk_state.c sdk/ovsa_sdk_offline.c
SDK_OBJS     := $(SDK_SRCS:%.c=$(BUILD)/%.o)
SDK_SO_OBJS  := $(SDK_SRCS:sdk/%.c=$(BUILD)/sdk/so/%.o)
SDK_HDRS     := $(wildcard sdk/*.h lib/*.h)
SDK_PUB_HDRS := sdk/ovsa.h sdk/ovsa_client.h lib/ovsa_err.h
SDK_PC       := $(BUILD)/pkgconfig/ovsa-client.pc
SDK_PC_REQ   := openssl libcurl jansson

PREFIX       ?= /usr/local
SDK_LIBDIR   ?= $(PREFIX)/lib
SDK_INCDIR   ?= $(PREFIX)/include/ovsa

BINS += $(SDK_LIB) $(SDK_SO) $(SDK_PC) $(BUILD)/bin/ovsa-check

$(BUILD)/sdk/%.o: sdk/%.c $(SDK_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(OVSA_CFLAGS) -Isdk -c -o $@ $<

$(BUILD)/sdk/so/%.o: sdk/%.c $(SDK_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(OVSA_CFLAGS) -fvisibility=hidden -Isdk -c -o $@ $<

$(SDK_LIB): $(SDK_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(SDK_SO): $(SDK_SO_OBJS) $(LIBOVSA) sdk/libovsa-client.map
	@mkdir -p $(dir $@)
	$(CC) $(OVSA_LDFLAGS) -shared -Wl,-soname,$(SDK_SONAME) \
	    -Wl,--version-script=sdk/libovsa-client.map -Wl,--as-needed \
	    -o $@ $(SDK_SO_OBJS) $(LIBOVSA) $(PKG_LIBS) -pthread
	ln -sf $(SDK_SONAME).0.0 $(BUILD)/lib/$(SDK_SONAME)
	ln -sf $(SDK_SONAME).0.0 $(BUILD)/lib/libovsa-client.so

# sdk_pc(prefix, includedir, libdir, extra Libs): the pkg-config file
sdk_pc = printf '%s\n' 'prefix=$(1)' 'includedir=$(2)' 'libdir=$(3)' '' \
    'Name: ovsa-client' \
    'Description: client SDK of an ovsa license server' \
    'Version: 1.0.0' 'Requires.private: $(SDK_PC_REQ)' \
    'Cflags: -I$${includedir}' \
    'Libs: -L$${libdir} $(4) -lovsa-client'

# in-tree: the headers where they are, the library in $(BUILD)/lib (with
# an rpath, so a program built against the tree runs from it)
$(SDK_PC): sdk/build.mk
	@mkdir -p $(dir $@) $(BUILD)/include
	ln -sf $(CURDIR)/sdk/ovsa.h $(CURDIR)/sdk/ovsa_client.h \
	    $(CURDIR)/lib/ovsa_err.h $(BUILD)/include/
	$(call sdk_pc,$(BUILD),$(BUILD)/include,$(BUILD)/lib,$(SAN_FLAGS) -Wl$(comma)-rpath$(comma)$${libdir}) > $@

comma := ,

$(BUILD)/bin/ovsa-check: $(BUILD)/sdk/ovsa_check.o $(SDK_LIB) $(LIBOVSA)
	@mkdir -p $(dir $@)
	$(CC) $(OVSA_LDFLAGS) -o $@ $< $(SDK_LIB) $(LIBOVSA) $(PKG_LIBS) \
	    -pthread

.PHONY: install
install: $(SDK_SO)
	install -d $(DESTDIR)$(SDK_INCDIR) $(DESTDIR)$(SDK_LIBDIR)/pkgconfig
	install -m 0644 $(SDK_PUB_HDRS) $(DESTDIR)$(SDK_INCDIR)/
	install -m 0755 $(SDK_SO) $(DESTDIR)$(SDK_LIBDIR)/
	ln -sf $(SDK_SONAME).0.0 $(DESTDIR)$(SDK_LIBDIR)/$(SDK_SONAME)
	ln -sf $(SDK_SONAME) $(DESTDIR)$(SDK_LIBDIR)/libovsa-client.so
	$(call sdk_pc,$(PREFIX),$(SDK_INCDIR),$(SDK_LIBDIR),) \
	    > $(DESTDIR)$(SDK_LIBDIR)/pkgconfig/ovsa-client.pc
