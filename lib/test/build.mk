# lib/test/: cmocka unit tests of libovsa, one program per file.
# key_test: lib/ovsa_key (key types, algorithms, ECDSA DER <-> r || s,
# private key files), PEM/DER certificates, the key id buffer and the
# answer signing sequence; run by t/052-key-lib.t.

BINS += $(BUILD)/test/key_test

$(BUILD)/test/key_test: lib/test/key_test.c $(LIBOVSA) $(wildcard lib/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(OVSA_CFLAGS) $(OVSA_LDFLAGS) -o $@ $< $(LIBOVSA) $(PKG_LIBS) \
	    -lcmocka -lpthread
