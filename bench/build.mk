# bench/: ovsa-bench-conn, the new-connection-per-request TLS load
# generator used by bench/run.sh (wrk keeps connections alive).

BINS += $(BUILD)/bin/ovsa-bench-conn

$(BUILD)/bin/ovsa-bench-conn: bench/conn.c
	@mkdir -p $(dir $@)
	$(CC) $(OVSA_CFLAGS) $(OVSA_LDFLAGS) -o $@ $< $(PKG_LIBS) -lpthread

# ovsa-bench-p11sign: signing rate of a PKCS#11 token key (the
# hardware-key ceiling).
BINS += $(BUILD)/bin/ovsa-bench-p11sign

$(BUILD)/bin/ovsa-bench-p11sign: bench/p11sign.c $(LIBOVSA)
	@mkdir -p $(dir $@)
	$(CC) $(OVSA_CFLAGS) $(OVSA_LDFLAGS) -o $@ $< $(LIBOVSA) $(PKG_LIBS) -ldl
