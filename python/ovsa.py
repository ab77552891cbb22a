"""ovsa.py: the ovsa client SDK for Python (ctypes over libovsa-client.so.1).

    import ovsa

    with ovsa.License("widget.lic", isv="isv.crt",
                      state_dir="/var/lib/widget/ovsa") as lic:
        st = lic.activate()
        if st.allowed:
            st = lic.check()
        if not st.allowed:
            raise SystemExit("not licensed: %s: %s" % (st.code, st.message))

Every call returns a Status (allowed, code, message, valid_until, cached,
...): the same decisions as the C API (sdk/ovsa.h, docs/sdk.md), made by
the same library.  The library is found through OVSA_CLIENT_LIB (a path),
else as libovsa-client.so.1 by the dynamic loader.

As a program: python3 ovsa.py -license L -isv I [-state D] OP... runs the
operations (activate, check, deactivate, spend, hwid) in order and prints
one JSON object per operation; exit status 0 when the last was allowed,
1 otherwise.
"""

import ctypes
import json
import os
import sys

__all__ = ["License", "Status", "LicenseError", "hwid"]


class _Conf(ctypes.Structure):
    _fields_ = [
        ("license", ctypes.c_char_p),
        ("isv", ctypes.c_char_p),
        ("root", ctypes.c_char_p),
        ("secret", ctypes.c_char_p),
        ("state_dir", ctypes.c_char_p),
        ("cache_dir", ctypes.c_char_p),
        ("hwid", ctypes.c_char_p),
        ("product", ctypes.c_char_p),
        ("client_id", ctypes.c_char_p),
        ("client_cert", ctypes.c_char_p),
        ("client_key", ctypes.c_char_p),
        ("timeout_ms", ctypes.c_long),
        ("skew", ctypes.c_long),
        ("heartbeat_s", ctypes.c_long),
        ("at", ctypes.c_int64),
    ]


class _Status(ctypes.Structure):
    _fields_ = [
        ("allowed", ctypes.c_int),
        ("code", ctypes.c_int),
        ("code_name", ctypes.c_char * 64),
        ("message", ctypes.c_char * 512),
        ("valid_until", ctypes.c_longlong),
        ("server_time", ctypes.c_longlong),
        ("cached", ctypes.c_int),
        ("verified", ctypes.c_int),
        ("error", ctypes.c_int),
        ("lease_id", ctypes.c_char * 64),
        ("lease_expires", ctypes.c_longlong),
        ("usage_remaining", ctypes.c_longlong),
        ("retry_at", ctypes.c_longlong),
    ]


_LeaseCb = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.POINTER(_Status),
                            ctypes.c_void_p)


def _load():
    lib = ctypes.CDLL(os.environ.get("OVSA_CLIENT_LIB")
                      or "libovsa-client.so.1")
    st = ctypes.POINTER(_Status)
    h = ctypes.c_void_p
    lib.ovsa_sdk_open.argtypes = [ctypes.POINTER(_Conf), st]
    lib.ovsa_sdk_open.restype = h
    lib.ovsa_sdk_close.argtypes = [h]
    lib.ovsa_sdk_close.restype = None
    for name in ("activate", "check", "deactivate", "spend",
                 "lease_heartbeat", "lease_release"):
        f = getattr(lib, "ovsa_sdk_" + name)
        f.argtypes = [h, st]
        f.restype = ctypes.c_int
    lib.ovsa_sdk_lease_acquire.argtypes = [h, _LeaseCb, ctypes.c_void_p, st]
    lib.ovsa_sdk_lease_acquire.restype = ctypes.c_int
    lib.ovsa_sdk_get_hwid.argtypes = [h, ctypes.c_char_p, ctypes.c_size_t]
    lib.ovsa_sdk_get_hwid.restype = ctypes.c_int
    lib.ovsa_sdk_hwid.argtypes = [ctypes.c_char_p, ctypes.c_char_p,
                                  ctypes.c_size_t]
    lib.ovsa_sdk_hwid.restype = ctypes.c_int
    lib.ovsa_code_name.argtypes = [ctypes.c_int]
    lib.ovsa_code_name.restype = ctypes.c_char_p
    return lib


_lib = None


def _the_lib():
    global _lib
    if _lib is None:
        _lib = _load()
    return _lib


class Status(object):
    """What one operation decided (the fields of ovsa_sdk_status_t)."""

    __slots__ = ("allowed", "code", "message", "valid_until", "server_time",
                 "cached", "verified", "error", "lease_id", "lease_expires",
                 "usage_remaining", "retry_at")

    def __init__(self, s):
        self.allowed = bool(s.allowed)
        self.code = s.code_name.decode()
        self.message = s.message.decode(errors="replace")
        self.valid_until = s.valid_until
        self.server_time = s.server_time
        self.cached = bool(s.cached)
        self.verified = bool(s.verified)
        self.error = (_the_lib().ovsa_code_name(s.error).decode()
                      if s.error else None)
        self.lease_id = s.lease_id.decode() or None
        self.lease_expires = s.lease_expires
        self.usage_remaining = (s.usage_remaining
                                if s.usage_remaining >= 0 else None)
        self.retry_at = s.retry_at or None

    def as_dict(self):
        return dict((k, getattr(self, k)) for k in self.__slots__)

    def __bool__(self):
        return self.allowed

    def __repr__(self):
        return "Status(%s)" % ", ".join("%s=%r" % (k, getattr(self, k))
                                        for k in self.__slots__)


class LicenseError(Exception):
    """ovsa_sdk_open refused: .status says why (LOCAL_ERROR)."""

    def __init__(self, status):
        Exception.__init__(self, "%s: %s" % (status.code, status.message))
        self.status = status


def _b(s):
    return None if s is None else os.fsencode(s)


def hwid(product):
    """This machine's hwid for product (docs/sdk.md), or None."""
    out = ctypes.create_string_buffer(64)
    if _the_lib().ovsa_sdk_hwid(_b(product), out, len(out)) != 0:
        return None
    return out.value.decode()


class License(object):
    """One license: ovsa_sdk_open(); close() (or with) frees it and
    releases a held lease."""

    def __init__(self, license, isv=None, root=None, secret=None,
                 state_dir=None, cache_dir=None, hwid=None, product=None,
                 client_id=None, client_cert=None, client_key=None,
                 timeout_ms=0, heartbeat_s=0):
        self._lib = _the_lib()
        self._cb = None
        conf = _Conf(_b(license), _b(isv), _b(root), _b(secret),
                     _b(state_dir), _b(cache_dir), _b(hwid), _b(product),
                     _b(client_id), _b(client_cert), _b(client_key),
                     timeout_ms, 0, heartbeat_s, 0)
        st = _Status()
        self._h = self._lib.ovsa_sdk_open(ctypes.byref(conf),
                                          ctypes.byref(st))
        if not self._h:
            raise LicenseError(Status(st))

    def _op(self, name):
        if not self._h:
            raise ValueError("license closed")
        st = _Status()
        getattr(self._lib, "ovsa_sdk_" + name)(self._h, ctypes.byref(st))
        return Status(st)

    def activate(self):
        return self._op("activate")

    def check(self):
        return self._op("check")

    def deactivate(self):
        return self._op("deactivate")

    def spend(self):
        return self._op("spend")

    def lease_heartbeat(self):
        return self._op("lease_heartbeat")

    def lease_release(self):
        return self._op("lease_release")

    def lease_acquire(self, on_lost=None):
        """Checks out a seat; with on_lost(Status) a heartbeat thread keeps
        it alive and calls on_lost (on that thread) when it is lost."""
        st = _Status()
        cb = _LeaseCb(0)
        if on_lost is not None:
            def trampoline(h, s, arg):
                on_lost(Status(s.contents))
            cb = _LeaseCb(trampoline)
        self._cb = cb                   # kept alive with the handle
        self._lib.ovsa_sdk_lease_acquire(self._h, cb, None, ctypes.byref(st))
        return Status(st)

    def hwid(self):
        out = ctypes.create_string_buffer(300)
        self._lib.ovsa_sdk_get_hwid(self._h, out, len(out))
        return out.value.decode()

    def close(self):
        if self._h:
            self._lib.ovsa_sdk_close(self._h)
            self._h = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass


def _main(argv):
    opts, ops = {}, []
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in ("-license", "-isv", "-root", "-state", "-hwid") \
                and i + 1 < len(argv):
            opts[a[1:]] = argv[i + 1]
            i += 2
        else:
            ops.append(a)
            i += 1
    if "license" not in opts or not ops:
        sys.stderr.write("usage: ovsa.py -license L (-isv I | -root R) "
                         "[-state D] [-hwid H] OP...\n")
        return 2
    try:
        lic = License(opts["license"], isv=opts.get("isv"),
                      root=opts.get("root"), state_dir=opts.get("state"),
                      hwid=opts.get("hwid"))
    except LicenseError as e:
        print(json.dumps({"op": "open", "allowed": False,
                          "code": e.status.code,
                          "message": e.status.message}))
        return 1
    allowed = False
    with lic:
        for op in ops:
            if op == "hwid":
                print(json.dumps({"op": op, "hwid": lic.hwid()}))
                continue
            st = getattr(lic, op)()
            d = st.as_dict()
            d["op"] = op
            print(json.dumps(d, sort_keys=True))
            sys.stdout.flush()
            allowed = st.allowed
    return 0 if allowed else 1


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
