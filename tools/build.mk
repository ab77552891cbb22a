# tools/: the command-line programs for ISVs and operators: ovsatool (the
# ISV's licenses and keystore) and ovsactl (the backend's admin API).

OVSATOOL_SRCS := tools/ovsatool.c tools/ovsatool_keystore.c \
                 tools/ovsatool_license.c tools/ovsatool_show.c \
                 tools/ovsatool_identity.c

# "ovsatool identity" and "ovsatool pin" reach a hardware key through
# lib/ovsa_p11 (p11-kit's URI parser)
OVSATOOL_LIBS := $(shell pkg-config --libs p11-kit-1 2>/dev/null)

BINS += $(BUILD)/bin/ovsatool $(BUILD)/bin/ovsactl

$(BUILD)/bin/ovsatool: $(OVSATOOL_SRCS) tools/ovsatool.h $(LIBOVSA) \
                       $(wildcard lib/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(OVSA_CFLAGS) $(OVSA_LDFLAGS) -o $@ $(OVSATOOL_SRCS) \
	    $(LIBOVSA) $(PKG_LIBS) $(OVSATOOL_LIBS)

OVSACTL_SRCS := tools/ovsactl.c tools/ovsactl_audit.c

$(BUILD)/bin/ovsactl: $(OVSACTL_SRCS) tools/ovsactl.h $(LIBOVSA) \
                      $(wildcard lib/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(OVSA_CFLAGS) $(OVSA_LDFLAGS) -o $@ $(OVSACTL_SRCS) $(LIBOVSA) \
	    $(PKG_LIBS)
