# Bash completion for nabla: subcommands, each subcommand's flags, --set keys' sections, and files.
# Nothing installs it; to use it, source it from ~/.bashrc:
#   source /path/to/nabla/scripts/nabla-completion.bash
# It reads the subcommands and flags from nabla's own --help, so it never goes out of date. The
# binary is the `nabla` on PATH or, failing that, build/nabla beside this script.

_nabla_binary() {
  if command -v nabla >/dev/null 2>&1; then
    echo nabla
  else
    echo "$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/build/nabla"
  fi
}

_nabla() {
  local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]} nabla
  nabla=$(_nabla_binary)
  COMPREPLY=()
  if [ "$COMP_CWORD" -eq 1 ]; then
    # The "Subcommands:" section of nabla --help: a name at the start of each indented line.
    local commands
    commands=$("$nabla" --help 2>/dev/null | sed -n '/^Subcommands:/,/^$/s/^  \([a-z-]*\) .*/\1/p')
    mapfile -t COMPREPLY < <(compgen -W "$commands help --help --version" -- "$cur")
    return
  fi
  local command=${COMP_WORDS[1]}
  case "$prev" in
    --output|-o|--out|--images|--labels|--csv|--confusion|--resume)
      mapfile -t COMPREPLY < <(compgen -f -- "$cur")
      return ;;
    --format)
      mapfile -t COMPREPLY < <(compgen -W "onnx npz" -- "$cur")
      return ;;
  esac
  if [[ "$cur" == -* ]]; then
    local flags
    flags=$("$nabla" "$command" --help 2>/dev/null | grep -o -- '--[a-z][a-z0-9-]*' | sort -u)
    mapfile -t COMPREPLY < <(compgen -W "$flags" -- "$cur")
  else
    mapfile -t COMPREPLY < <(compgen -f -- "$cur")
  fi
}

complete -o filenames -F _nabla nabla
