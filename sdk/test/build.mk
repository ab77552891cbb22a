# sdk/test/: the unit tests of the SDK's local state and hwid derivation
# (sdk/test/<name>_test.c -> $(BUILD)/test/sdk_<name>_test, run by
# t/010-unit.t).

SDK_TESTS := $(patsubst sdk/test/%_test.c,$(BUILD)/test/sdk_%_test, \
                 $(wildcard sdk/test/*_test.c))

UNIT_TESTS += $(SDK_TESTS)
BINS       += $(SDK_TESTS)

$(BUILD)/test/sdk_%_test: sdk/test/%_test.c $(SDK_LIB) $(LIBOVSA) \
                          $(SDK_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(OVSA_CFLAGS) -Isdk $(OVSA_LDFLAGS) -o $@ $< $(SDK_LIB) \
	    $(LIBOVSA) $(PKG_LIBS) -pthread -lcmocka
