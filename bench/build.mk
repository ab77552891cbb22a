# bench/ (bench_tls.c: what the C load generators share): ovsa-bench-conn, the new-connection-per-request TLS load
# generator used by bench/run.sh (wrk keeps connections alive).

BINS += $(BUILD)/bin/ovsa-bench-conn

$(BUILD)/bin/ovsa-bench-conn: bench/conn.c bench/bench_tls.c \
        bench/bench_tls.h $(LIBOVSA)
	@mkdir -p $(dir $@)
	$(CC) $(OVSA_CFLAGS) $(OVSA_LDFLAGS) -o $@ bench/conn.c \
	    bench/bench_tls.c $(LIBOVSA) $(PKG_LIBS) -lpthread

# ovsa-bench-signed: kept-alive requests signed with a machine key (the
# floating-seat mix, node-locked checks), which wrk cannot sign.
BINS += $(BUILD)/bin/ovsa-bench-signed

$(BUILD)/bin/ovsa-bench-signed: bench/signed.c bench/bench_tls.c \
        bench/bench_tls.h $(LIBOVSA)
	@mkdir -p $(dir $@)
	$(CC) $(OVSA_CFLAGS) $(OVSA_LDFLAGS) -o $@ bench/signed.c \
	    bench/bench_tls.c $(LIBOVSA) $(PKG_LIBS) -lpthread

# ovsa-bench-p11sign: signing rate of a PKCS#11 token key (the
# hardware-key ceiling).
BINS += $(BUILD)/bin/ovsa-bench-p11sign

$(BUILD)/bin/ovsa-bench-p11sign: bench/p11sign.c $(LIBOVSA)
	@mkdir -p $(dir $@)
	$(CC) $(OVSA_CFLAGS) $(OVSA_LDFLAGS) -o $@ $< $(LIBOVSA) $(PKG_LIBS) -ldl

# ovsa-bench-mallinfo.so: the soak's LD_PRELOAD probe of what the nginx
# worker's malloc holds (bench/mallinfo.c, bench/lib/soak.sh).
BINS += $(BUILD)/bin/ovsa-bench-mallinfo.so

$(BUILD)/bin/ovsa-bench-mallinfo.so: bench/mallinfo.c
	@mkdir -p $(dir $@)
	$(CC) $(filter-out $(SAN_FLAGS),$(OVSA_CFLAGS)) -shared -o $@ $< -lpthread
