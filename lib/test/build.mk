# lib/test: cmocka unit tests of libovsa pieces (run by t/*-lib.t).
# Included by the top Makefile through lib/build.mk.

BINS += $(BUILD)/test/opt_test

$(BUILD)/test/opt_test: lib/test/opt_test.c $(LIBOVSA) $(wildcard lib/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(OVSA_CFLAGS) $(OVSA_LDFLAGS) -o $@ lib/test/opt_test.c \
	    $(LIBOVSA) $(PKG_LIBS) -lcmocka
