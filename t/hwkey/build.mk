# t/hwkey: the C driver of lib/ovsa_p11 used by t/090-hwkey-token.t.

P11_KIT_CFLAGS := $(shell pkg-config --cflags p11-kit-1 2>/dev/null)
P11_KIT_LIBS   := $(shell pkg-config --libs p11-kit-1 2>/dev/null)

# lib/ovsa_p11.c needs the PKCS#11 headers of p11-kit (until p11-kit-1 is
# in the top Makefile's PKGS).
$(BUILD)/lib/ovsa_p11.o: OVSA_CFLAGS += $(P11_KIT_CFLAGS)

P11_TEST := $(BUILD)/t/p11_open_test

$(P11_TEST): t/hwkey/p11_open_test.c $(LIBOVSA)
	@mkdir -p $(dir $@)
	$(CC) $(OVSA_CFLAGS) $(OVSA_LDFLAGS) -o $@ $< $(LIBOVSA) \
	    $(P11_KIT_LIBS) $(PKG_LIBS) -ldl

BINS += $(P11_TEST)
