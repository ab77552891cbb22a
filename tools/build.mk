# tools/: command-line programs for ISVs and operators, and the C unit
# tests of the libovsa pieces they rely on (run by t/070-license-lib.t).

BINS += $(BUILD)/test/ovsa_license_test

$(BUILD)/bin/ovsatool: tools/ovsatool.c $(LIBOVSA) $(wildcard lib/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(OVSA_CFLAGS) $(OVSA_LDFLAGS) -o $@ tools/ovsatool.c \
	    $(LIBOVSA) $(PKG_LIBS)

$(BUILD)/test/ovsa_license_test: tools/test/ovsa_license_test.c $(LIBOVSA) \
                                 $(wildcard lib/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(OVSA_CFLAGS) $(OVSA_LDFLAGS) -o $@ \
	    tools/test/ovsa_license_test.c $(LIBOVSA) $(PKG_LIBS) -lcmocka
