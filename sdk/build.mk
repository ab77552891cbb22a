# Client SDK: libovsa-client.a (verified requests to an ovsa license
# server), the ovsa-check CLI, and the cmocka tests of lib/ovsa_httpsig.

SDK_LIB      := $(BUILD)/lib/libovsa-client.a
SDK_SRCS     := sdk/ovsa_client.c sdk/ovsa_client_license.c
SDK_OBJS     := $(SDK_SRCS:%.c=$(BUILD)/%.o)
SDK_HDRS     := $(wildcard sdk/*.h lib/*.h)

BINS += $(SDK_LIB) $(BUILD)/bin/ovsa-check $(BUILD)/test/httpsig_test
C_TESTS += $(BUILD)/test/httpsig_test

$(BUILD)/sdk/%.o: sdk/%.c $(SDK_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(OVSA_CFLAGS) -Isdk -c -o $@ $<

$(SDK_LIB): $(SDK_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/bin/ovsa-check: $(BUILD)/sdk/ovsa_check.o $(SDK_LIB) $(LIBOVSA)
	@mkdir -p $(dir $@)
	$(CC) $(OVSA_LDFLAGS) -o $@ $< $(SDK_LIB) $(LIBOVSA) $(PKG_LIBS)

$(BUILD)/test/httpsig_test: sdk/test/httpsig_test.c $(SDK_HDRS) $(LIBOVSA)
	@mkdir -p $(dir $@)
	$(CC) $(OVSA_CFLAGS) $(OVSA_LDFLAGS) -o $@ $< $(LIBOVSA) $(PKG_LIBS) \
	    -lcmocka
