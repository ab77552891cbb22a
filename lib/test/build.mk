# lib/test/: cmocka tests of libovsa pieces (run by t/052-lib-unit.t and
# make test-c).

LIB_TESTS := $(BUILD)/test/b64_test $(BUILD)/test/conf_test

BINS    += $(LIB_TESTS)
C_TESTS += $(LIB_TESTS)

$(LIB_TESTS): $(BUILD)/test/%: lib/test/%.c $(LIBOVSA) $(wildcard lib/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(OVSA_CFLAGS) $(OVSA_LDFLAGS) -o $@ $< $(LIBOVSA) $(PKG_LIBS) \
	    -lcmocka
