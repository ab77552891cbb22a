# bench/: ovsa-bench-conn, the new-connection-per-request TLS load
# generator used by bench/run.sh (wrk keeps connections alive).

BINS += $(BUILD)/bin/ovsa-bench-conn

$(BUILD)/bin/ovsa-bench-conn: bench/conn.c
	@mkdir -p $(dir $@)
	$(CC) $(OVSA_CFLAGS) $(OVSA_LDFLAGS) -o $@ $< $(PKG_LIBS) -lpthread
