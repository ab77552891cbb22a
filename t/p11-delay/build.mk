# t/p11-delay: a slow-token PKCS#11 shim for tests (see p11_delay.c).
# Never sanitized: nginx, which is not, loads it.

P11_DELAY := $(BUILD)/lib/ovsa-p11-delay.so

$(P11_DELAY): t/p11-delay/p11_delay.c
	@mkdir -p $(dir $@)
	$(CC) $(filter-out $(SAN_FLAGS),$(OVSA_CFLAGS)) \
	    $(shell pkg-config --cflags p11-kit-1 2>/dev/null) \
	    $(filter-out $(SAN_FLAGS),$(OVSA_LDFLAGS)) -shared -o $@ $< -ldl

BINS += $(P11_DELAY)
