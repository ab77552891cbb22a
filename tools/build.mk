# tools/: command-line programs for ISVs and operators, and the C unit
# tests of the libovsa pieces they rely on (run by t/070-license-lib.t).

OVSATOOL_SRCS := tools/ovsatool.c tools/ovsatool_keystore.c \
                 tools/ovsatool_license.c tools/ovsatool_show.c

BINS += $(BUILD)/bin/ovsatool $(BUILD)/test/ovsa_license_test
C_TESTS += $(BUILD)/test/ovsa_license_test

$(BUILD)/bin/ovsatool: $(OVSATOOL_SRCS) tools/ovsatool.h $(LIBOVSA) \
                       $(wildcard lib/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(OVSA_CFLAGS) $(OVSA_LDFLAGS) -o $@ $(OVSATOOL_SRCS) \
	    $(LIBOVSA) $(PKG_LIBS)

$(BUILD)/test/ovsa_license_test: tools/test/ovsa_license_test.c $(LIBOVSA) \
                                 $(wildcard lib/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(OVSA_CFLAGS) $(OVSA_LDFLAGS) -o $@ \
	    tools/test/ovsa_license_test.c $(LIBOVSA) $(PKG_LIBS) -lcmocka
