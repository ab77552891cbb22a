# lib/test/: the unit tests of libovsa, one cmocka program per file
# (lib/test/<name>_test.c -> $(BUILD)/test/lib_<name>_test, run by
# t/010-unit.t), and p11-open, the C driver of lib/ovsa_p11 that
# t/090-hwkey-token.t runs against a real token.

LIB_TESTS := $(patsubst lib/test/%_test.c,$(BUILD)/test/lib_%_test, \
                 $(wildcard lib/test/*_test.c))

UNIT_TESTS += $(LIB_TESTS)
BINS       += $(LIB_TESTS) $(BUILD)/test/p11-open

$(BUILD)/test/lib_%_test: lib/test/%_test.c $(LIBOVSA) $(wildcard lib/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(OVSA_CFLAGS) $(OVSA_LDFLAGS) -o $@ $< $(LIBOVSA) $(PKG_LIBS) \
	    -lcmocka

$(BUILD)/test/p11-open: lib/test/p11_open_driver.c $(LIBOVSA) \
                        $(wildcard lib/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(OVSA_CFLAGS) $(OVSA_LDFLAGS) -o $@ $< $(LIBOVSA) $(PKG_LIBS) -ldl
