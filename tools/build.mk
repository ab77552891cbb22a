# tools/: command-line programs for ISVs and operators, and the C unit
# tests of the libovsa pieces they rely on (run by t/070-license-lib.t).

OVSATOOL_SRCS := tools/ovsatool.c tools/ovsatool_keystore.c \
                 tools/ovsatool_license.c tools/ovsatool_show.c \
                 tools/ovsatool_identity.c

# "ovsatool identity" and "ovsatool pin" reach a hardware key through
# lib/ovsa_p11 (p11-kit's URI parser)
OVSATOOL_LIBS := $(shell pkg-config --libs p11-kit-1 2>/dev/null)

BINS += $(BUILD)/bin/ovsatool $(BUILD)/test/ovsa_license_test

$(BUILD)/bin/ovsatool: $(OVSATOOL_SRCS) tools/ovsatool.h $(LIBOVSA) \
                       $(wildcard lib/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(OVSA_CFLAGS) $(OVSA_LDFLAGS) -o $@ $(OVSATOOL_SRCS) \
	    $(LIBOVSA) $(PKG_LIBS) $(OVSATOOL_LIBS)

$(BUILD)/test/ovsa_license_test: tools/test/ovsa_license_test.c $(LIBOVSA) \
                                 $(wildcard lib/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(OVSA_CFLAGS) $(OVSA_LDFLAGS) -o $@ \
	    tools/test/ovsa_license_test.c $(LIBOVSA) $(PKG_LIBS) -lcmocka
