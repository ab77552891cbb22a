# libovsa: the C code shared by the module, backend, tools and client SDK.
# The module compiles the files it needs itself (see ../config).

LIB_SRCS := $(wildcard lib/*.c)
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/%.o)

$(BUILD)/lib/%.o: lib/%.c $(wildcard lib/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(OVSA_CFLAGS) -c -o $@ $<

$(LIBOVSA): $(LIB_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

