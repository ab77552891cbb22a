# backend/test/: the cmocka unit tests of ovsa-backend's pure parts
# (policy.c, json.c, license.c, store_cluster.c's key slots;
# store_health.c in its own binary; run by
# t/010-unit.t) and backend-sign,
# the helper that signs test licenses with lib/ovsa_license
# (t/lib/OvsaBackend.pm), and backend-req, which signs test requests
# with a machine key as the SDK does (lib/ovsa_reqsig).

UNIT_TESTS += $(BUILD)/test/backend_unit_test
BINS       += $(BUILD)/test/backend_unit_test $(BUILD)/test/backend-sign \
              $(BUILD)/test/backend-req

$(BUILD)/test/backend_unit_test: $(BUILD)/backend/test/unit_test.o \
        $(BUILD)/backend/policy.o $(BUILD)/backend/json.o \
        $(BUILD)/backend/license.o $(BUILD)/backend/store_cluster.o \
        $(BUILD)/backend/store.o $(BUILD)/backend/store_health.o \
        $(BUILD)/backend/store_sentinel.o $(BUILD)/backend/lua_scripts.o \
        $(LIBOVSA)
	@mkdir -p $(dir $@)
	$(CC) $(OVSA_LDFLAGS) -o $@ $^ $(PKG_LIBS) -lcmocka -lpthread

# store_health.c alone (its logger is the test's)
UNIT_TESTS += $(BUILD)/test/backend_store_health_test
BINS       += $(BUILD)/test/backend_store_health_test

$(BUILD)/test/backend_store_health_test: $(BUILD)/backend/test/store_health_test.o \
        $(BUILD)/backend/store_health.o $(LIBOVSA)
	@mkdir -p $(dir $@)
	$(CC) $(OVSA_LDFLAGS) -o $@ $^ $(PKG_LIBS) -lcmocka -lpthread

$(BUILD)/test/backend-sign: $(BUILD)/backend/test/sign_helper.o $(LIBOVSA)
	@mkdir -p $(dir $@)
	$(CC) $(OVSA_LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(BUILD)/test/backend-req: $(BUILD)/backend/test/req_helper.o $(LIBOVSA)
	@mkdir -p $(dir $@)
	$(CC) $(OVSA_LDFLAGS) -o $@ $^ $(PKG_LIBS)
