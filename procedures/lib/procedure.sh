# Shared by the BS2000 procedure scripts (STUNNEL.START, ...): turns BS2000-style operands
# (NAME=VALUE, names case-insensitive) into stunnelctl options, finds stunnelctl, and runs it in
# place of the script (exec), so its exit code is the procedure's. Sourced, never run.
#
# A procedure script sets, then calls `run_procedure "$@"`:
#   PROCEDURE    its BS2000 name, e.g. STUNNEL.START
#   SUBCOMMAND   the stunnelctl subcommand it runs
#   SUMMARY      one line saying what it does
#   OPERANDS     array of 'NAME|--option|KIND|help'; KIND is
#                  value  passed as is            (JOB-CLASS=*STD -> --job-class '*STD')
#                  lower  passed in lower case    (NAMING=POSIX  -> --naming posix)
#                  flag   *YES or *NO             (FORCE=*YES    -> --force)
#                  list   comma-separated values  (SAN=a,b       -> --san a --san b)

readonly EXIT_USAGE=2

print_usage() {
  local spec name option kind help
  echo "usage: $PROCEDURE [OPERAND=VALUE ...]"
  echo
  echo "$SUMMARY"
  echo "Runs: stunnelctl $SUBCOMMAND (see stunnelctl $SUBCOMMAND --help)."
  echo
  echo "Operands (names are case-insensitive):"
  for spec in "${OPERANDS[@]}"; do
    IFS='|' read -r name option kind help <<<"$spec"
    case "$kind" in
      flag) printf '  %-24s %s\n' "$name=*YES|*NO" "$help" ;;
      list) printf '  %-24s %s\n' "$name=V1,V2,..." "$help" ;;
      *) printf '  %-24s %s\n' "$name=VALUE" "$help" ;;
    esac
  done
  echo
  echo "stunnelctl is \$STUNNELCTL if set, else dist/src/cli/main.js of this package, else stunnelctl on PATH."
}

usage_error() {
  echo "$PROCEDURE: $1" >&2
  echo >&2
  print_usage >&2
  exit "$EXIT_USAGE"
}

# Prints the spec of operand NAME (upper case), or fails.
find_operand() {
  local spec
  for spec in "${OPERANDS[@]}"; do
    if [[ "${spec%%|*}" == "$1" ]]; then
      printf '%s\n' "$spec"
      return 0
    fi
  done
  return 1
}

# Sets STUNNELCTL_COMMAND (an array) to the command that runs stunnelctl.
find_stunnelctl() {
  local package_dir built
  if [[ -n "${STUNNELCTL:-}" ]]; then
    if [[ "$STUNNELCTL" == *.js ]]; then STUNNELCTL_COMMAND=("${NODE:-node}" "$STUNNELCTL"); else STUNNELCTL_COMMAND=("$STUNNELCTL"); fi
    return 0
  fi
  package_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
  built="$package_dir/dist/src/cli/main.js"
  if [[ -f "$built" ]]; then
    STUNNELCTL_COMMAND=("${NODE:-node}" "$built")
  elif command -v stunnelctl >/dev/null 2>&1; then
    STUNNELCTL_COMMAND=(stunnelctl)
  else
    echo "$PROCEDURE: cannot find stunnelctl (no \$STUNNELCTL, no $built, none on PATH)" >&2
    echo "hint: build it with npm run build, or set STUNNELCTL to its path" >&2
    exit 1
  fi
}

run_procedure() {
  local operand name value spec option kind item
  local -a options=() items=()
  local -A seen=()
  for operand in "$@"; do
    case "$operand" in
      --help | -h | HELP | help | '?')
        print_usage
        exit 0
        ;;
    esac
    [[ "$operand" == *=* ]] || usage_error "operand '$operand' is not NAME=VALUE"
    name="${operand%%=*}"
    name="${name^^}"
    value="${operand#*=}"
    spec="$(find_operand "$name")" || usage_error "unknown operand '$name'"
    IFS='|' read -r _ option kind _ <<<"$spec"
    [[ -n "$value" ]] || usage_error "operand $name needs a value"
    [[ -z "${seen[$name]:-}" ]] || usage_error "operand $name is given twice"
    seen[$name]=1
    case "$kind" in
      value) options+=("$option" "$value") ;;
      lower) options+=("$option" "${value,,}") ;;
      flag)
        case "${value^^}" in
          '*YES' | YES) options+=("$option") ;;
          '*NO' | NO) ;;
          *) usage_error "operand $name takes *YES or *NO, not '$value'" ;;
        esac
        ;;
      list)
        IFS=',' read -r -a items <<<"$value"
        for item in "${items[@]}"; do
          if [[ -n "$item" ]]; then options+=("$option" "$item"); fi
        done
        ;;
    esac
  done
  find_stunnelctl
  exec "${STUNNELCTL_COMMAND[@]}" "$SUBCOMMAND" "${options[@]}"
}
