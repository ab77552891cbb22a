# backend/: ovsa-backend, the license-state daemon on Redis (its admin
# CLI, ovsactl, is in tools/).  The Lua scripts in backend/lua/ are embedded at build
# time: each operation's script is _common.lua and _audit.lua followed by <op>.lua,
# NUL-terminated, in the generated $(BUILD)/backend/lua_scripts.c.

BACKEND_LUA_OPS := check activate deactivate checkout heartbeat checkin \
                   import revoke release unbind show index ids summary \
                   audit_read audit_cp
BACKEND_SRCS    := backend/main.c backend/http.c backend/routes_public.c \
                   backend/routes_admin.c backend/store.c \
                   backend/store_cluster.c backend/policy.c \
                   backend/json.c backend/license.c backend/peer.c \
                   backend/proof.c backend/store_health.c \
                   backend/store_sentinel.c backend/metrics.c \
                   backend/routes_audit.c
BACKEND_OBJS    := $(BACKEND_SRCS:%.c=$(BUILD)/%.o) \
                   $(BUILD)/backend/lua_scripts.o
BACKEND_HDRS    := $(wildcard backend/*.h) $(wildcard lib/*.h)

BINS += $(BUILD)/bin/ovsa-backend

$(BUILD)/backend/%.o: backend/%.c $(BACKEND_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(OVSA_CFLAGS) -Ibackend -c -o $@ $<

$(BUILD)/backend/lua_scripts.c: $(wildcard backend/lua/*.lua) backend/build.mk
	@mkdir -p $(dir $@)
	{ echo '/* generated from backend/lua/ by backend/build.mk */'; \
	  for op in $(BACKEND_LUA_OPS); do \
	    echo "const unsigned char ovsa_lua_$$op[] = {"; \
	    cat backend/lua/_common.lua backend/lua/_audit.lua backend/lua/$$op.lua | xxd -i \
	      || exit 1; \
	    echo ', 0x00 };'; \
	  done; } > $@.tmp && mv $@.tmp $@

$(BUILD)/backend/lua_scripts.o: $(BUILD)/backend/lua_scripts.c
	$(CC) $(OVSA_CFLAGS) -c -o $@ $<

$(BUILD)/bin/ovsa-backend: $(BACKEND_OBJS) $(LIBOVSA)
	@mkdir -p $(dir $@)
	$(CC) $(OVSA_LDFLAGS) -o $@ $(BACKEND_OBJS) $(LIBOVSA) $(PKG_LIBS) \
	  -lpthread
