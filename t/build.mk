# t/: test helpers written in C; each lives in its own t/<dir>/build.mk.
include $(wildcard t/*/build.mk)
