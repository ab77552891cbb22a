# ovsa_bin.sh: sourced by the ovsa scripts (POSIX sh): where the ovsa
# programs are, found one way for every script.
#
# ovsa_bin NAME prints the path of NAME (ovsatool, ovsactl, ovsa-check,
# ovsa-backend), the first of:
#   1. $VAR, VAR being NAME in capitals with '-' as '_' (OVSATOOL, OVSACTL,
#      OVSA_CHECK, OVSA_BACKEND): it must be executable;
#   2. the build tree: $OVSA_BUILD/bin/NAME (make test sets OVSA_BUILD;
#      default <repo>/build, next to the scripts);
#   3. NAME in PATH.
# It returns non-zero when there is none.

OVSA_SCRIPTS_DIR=$(cd "$(dirname "$0")" && pwd) || exit 1

ovsa_bin() {
    _ob_var=$(printf '%s' "$1" | tr 'a-z-' 'A-Z_')
    eval "_ob_path=\${$_ob_var:-}"
    if [ -n "$_ob_path" ]; then
        [ -x "$_ob_path" ] || return 1
        printf '%s\n' "$_ob_path"
        return 0
    fi
    _ob_path="${OVSA_BUILD:-$OVSA_SCRIPTS_DIR/../build}/bin/$1"
    if [ -x "$_ob_path" ]; then
        printf '%s\n' "$_ob_path"
        return 0
    fi
    command -v "$1" 2>/dev/null
}
