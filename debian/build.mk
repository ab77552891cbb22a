# debian/: the Debian packages and the clean-root install test.
#
#   make deb        dpkg-buildpackage -us -uc -b on a copy of the tree in
#                   build/deb/ (the .debs and .changes land there, not in
#                   ..), then lintian on the .changes (fails on errors)
#   make test-deb   debian/test-deb.sh: a clean Debian 12 root
#                   (mmdebstrap, cached in build/deb-root/), the .debs
#                   installed there with apt, conf.d/README.md's and
#                   docs/install.md's steps run in it, literally, ending
#                   with ovsa-check verifying a license check
#
# DEB_BUILD_OPTIONS (nocheck, parallel=N) and LINTIAN_FLAGS pass through.

DEB_VERSION := $(shell dpkg-parsechangelog -l debian/changelog -S Version 2>/dev/null)
DEB_OUT     := $(CURDIR)/build/deb
DEB_SRC     := $(DEB_OUT)/ovsa-nginx-$(DEB_VERSION)
DEB_ARCH    := $(shell dpkg-architecture -qDEB_HOST_ARCH 2>/dev/null)
DEB_CHANGES := $(DEB_OUT)/ovsa-nginx_$(DEB_VERSION)_$(DEB_ARCH).changes
LINTIAN_FLAGS ?= --fail-on error --display-info

.PHONY: deb test-deb

# the tree as git knows it (tracked + untracked, not ignored): no build/
deb:
	rm -rf $(DEB_OUT) && mkdir -p $(DEB_SRC)
	git ls-files -z --cached --others --exclude-standard \
	    | xargs -0 sh -c 'for f; do [ -e "$$f" ] && printf "%s\n" "$$f"; done' sh \
	    | tar -cf - -T - | tar -xf - -C $(DEB_SRC)
	cd $(DEB_SRC) && dpkg-buildpackage -us -uc -b
	lintian $(LINTIAN_FLAGS) $(DEB_CHANGES)
	@ls -l $(DEB_OUT)/*.deb

test-deb:
	bash debian/test-deb.sh $(DEB_OUT)
