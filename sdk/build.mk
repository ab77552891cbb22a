# Client SDK: libovsa-client.a (verified requests to an ovsa license
# server) and the ovsa-check CLI.

SDK_LIB      := $(BUILD)/lib/libovsa-client.a
SDK_SRCS     := sdk/ovsa_client.c sdk/ovsa_client_license.c \
                sdk/ovsa_client_machine.c
SDK_OBJS     := $(SDK_SRCS:%.c=$(BUILD)/%.o)
SDK_HDRS     := $(wildcard sdk/*.h lib/*.h)

BINS += $(SDK_LIB) $(BUILD)/bin/ovsa-check

$(BUILD)/sdk/%.o: sdk/%.c $(SDK_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(OVSA_CFLAGS) -Isdk -c -o $@ $<

$(SDK_LIB): $(SDK_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/bin/ovsa-check: $(BUILD)/sdk/ovsa_check.o $(SDK_LIB) $(LIBOVSA)
	@mkdir -p $(dir $@)
	$(CC) $(OVSA_LDFLAGS) -o $@ $< $(SDK_LIB) $(LIBOVSA) $(PKG_LIBS)
