#!/bin/sh
# mkman.sh PROGRAM SECTION SUMMARY > PROGRAM.SECTION: a manual page made
# from the program's own -help (generated from its options table, so it
# stays true) and a pointer to the full documentation.
set -eu
prog=$1 sec=$2 summary=$3
name=$(basename "$prog")
[ -x "$prog" ] || { echo "mkman: no program $prog" >&2; exit 1; }
help=$("$prog" -help 2>&1) || true
[ -n "$help" ] || { echo "mkman: $prog -help printed nothing" >&2; exit 1; }
cat <<MAN
.TH $(echo "$name" | tr 'a-z' 'A-Z') $sec "" "ovsa-nginx" "ovsa-nginx"
.SH NAME
$name \\- $summary
.SH DESCRIPTION
.nf
$(printf '%s\n' "$help" | sed -e 's/\\/\\e/g' -e 's/^\./\\\&./' -e "s/^'/\\\\\&'/")
.fi
.SH SEE ALSO
The ovsa-nginx documentation: docs/cli.md (options, exit codes),
docs/install.md, docs/configuration.md and docs/operations.md of the
source tree.
MAN
